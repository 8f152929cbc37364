#!/bin/bash
# bench/compare_int8.sh - the int8 opt-in (CLIPSEARCH_INT8=1 / bench --int8)
# against the stored weights on the same model: speed of both encoders and
# one query (the two alternating, ROUNDS rounds, best of each), the cosine
# of int8 embeddings to the stored weights', and peak RSS while indexing.
#
#   bench/compare_int8.sh MODEL_DIR [IMAGE_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_int8.sh MODEL_DIR [IMAGE_DIR]}
work=${WORK:-/tmp/clipsearch-bench}
images=${2:-$work/jpegs-24}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
rounds=${ROUNDS:-3}
mkdir -p "$work"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
image=$(ls "$images"/*.jpg 2>/dev/null | head -1 || true)
: >"$work/int8.jsonl"
for _ in $(seq "$rounds"); do
    for i8 in 0 1; do
        CLIPSEARCH_INT8=$i8 "$cs" bench --model "$model" --batch 8 --threads 2 --seconds 4 \
            ${image:+--image "$image"} >>"$work/int8.jsonl"
    done
done
for i8 in 0 1; do
    rm -f "$work/int8mem.db"*
    CLIPSEARCH_INT8=$i8 /usr/bin/time -v "$cs" index -q --model "$model" --db "$work/int8mem.db" \
        "$images" 2>"$work/int8mem.$i8.log" >/dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
runs = [json.loads(l) for l in open(work + "/int8.jsonl")]
def best(i8, key, lower=False):
    v = [r[key] for r in runs if r["int8"] == i8]
    return min(v) if lower else max(v)
rss = {}
for i8 in (0, 1):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open("%s/int8mem.%d.log" % (work, i8)).read())
    rss[i8] = int(m.group(1)) / 1024
print("%-34s %12s %12s %8s" % ("2 threads, batch 8", "stored", "int8", "ratio"))
for key, name, lower in (("image_encoder_images_per_second", "image encoder, images/s", False),
                         ("text_encoder_texts_per_second", "text encoder, texts/s", False),
                         ("text_query_ms", "one query, ms", True)):
    a, b = best(False, key, lower), best(True, key, lower)
    print("%-34s %12.2f %12.2f %7.2fx" % (name, a, b, (a / b) if lower else (b / a)))
print("%-34s %12.0f %12.0f %7.2fx" % ("peak RSS indexing, MB", rss[0], rss[1], rss[1] / rss[0]))
q = [r for r in runs if r["int8"]]
print("# int8 cosine to the stored weights' embeddings: images (synthetic batch) min %.6f, "
      "queries min %.6f%s" % (min(r["min_cosine_to_fp32_images"] for r in q),
                             min(r["min_cosine_to_fp32_texts"] for r in q),
                             (", the JPEG %.6f" % q[0]["cosine_to_fp32_image"]) if "cosine_to_fp32_image" in q[0] else ""))
print("# ratio: int8 / stored for speed (one query: stored ms / int8 ms), int8 / stored for memory")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
