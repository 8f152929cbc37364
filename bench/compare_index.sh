#!/bin/bash
# bench/compare_index.sh - indexing a folder of ~12-megapixel JPEGs end to
# end: the seed's Python pipeline (bench/seed_pipeline.py: Pillow, the
# CLIPImageProcessor rules, PyTorch, one image at a time) against
# `clipsearch index` (default fast JPEG path, and --exact), same files, same
# threads, one after the other. Prints times, the ratios, peak memory
# (/usr/bin/time -v) and the cosine of our stored embeddings to the seed's.
#
#   bench/compare_index.sh MODEL_DIR [N_FILES]
#
# The JPEGs (4000 x 3000, made from ../shared/oracle/images by
# bench/make_big_jpegs.py) are written to $WORK (default
# /tmp/clipsearch-bench) at the first run and never committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_index.sh MODEL_DIR [N_FILES]}
n=${2:-24}
threads=${THREADS:-2}
work=${WORK:-/tmp/clipsearch-bench}
oracle=${CS_ORACLE:-$here/../../shared/oracle}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
jpegs=$work/jpegs-$n
mkdir -p "$work"
if [ ! -d "$jpegs" ]; then
    /usr/bin/python3 "$here/make_big_jpegs.py" "$oracle/images" "$jpegs.tmp" "$n" && mv "$jpegs.tmp" "$jpegs"
fi
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $n JPEGs of 4000x3000 ($(du -shL "$jpegs" | cut -f1)), model $model, $threads threads"

# peak RSS (KB) and wall seconds of a command, from /usr/bin/time -v
timed() {
    local log=$work/time.log
    /usr/bin/time -v "$@" >"$work/out.txt" 2>"$log"
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
}

timed /usr/bin/python3 "$here/seed_pipeline.py" "$model" "$jpegs" --threads "$threads" --dump "$work/seed.f32"
seed_wall=$wall seed_rss=$rss
seed_json=$(cat "$work/out.txt")
rm -f "$work/fast.db"*
timed "$cs" index -q --model "$model" --db "$work/fast.db" --threads "$threads" "$jpegs"
fast_wall=$wall fast_rss=$rss
rm -f "$work/exact.db"*
timed "$cs" index -q --exact --model "$model" --db "$work/exact.db" --threads "$threads" "$jpegs"
exact_wall=$wall exact_rss=$rss

/usr/bin/python3 - "$seed_json" "$work" "$jpegs" "$seed_wall" "$seed_rss" "$fast_wall" "$fast_rss" \
    "$exact_wall" "$exact_rss" <<'PY'
import json, os, sqlite3, sys
import numpy as np
seed = json.loads(sys.argv[1]); work, jpegs = sys.argv[2], sys.argv[3]
sw, sr, fw, fr, ew, er = map(float, sys.argv[4:10])
files = sorted(os.path.join(jpegs, f) for f in os.listdir(jpegs))
ref = np.fromfile(os.path.join(work, "seed.f32"), dtype=np.float32).reshape(len(files), -1)
def stored(db):
    c = sqlite3.connect(db)
    rows = {p: np.frombuffer(e, dtype=np.float32) for p, e in c.execute("select path, embedding from images")}
    return np.stack([rows[os.path.realpath(f)] if os.path.realpath(f) in rows else rows[f] for f in files])
fast, exact = stored(os.path.join(work, "fast.db")), stored(os.path.join(work, "exact.db"))
cos = lambda a, b: (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
n = len(files)
print("%-34s %9s %9s %10s %10s" % ("", "wall s", "images/s", "vs seed", "peak RSS"))
print("%-34s %9.1f %9.2f %10s %8.0f MB" % ("seed (Pillow + PyTorch), process", sw, n / sw, "1.00x", sr / 1024))
print("%-34s %9.1f %9.2f %10s" % ("  seed, images only (model loaded)", seed["index_seconds"], seed["images_per_second"], ""))
print("%-34s %9.1f %9.2f %9.2fx %8.0f MB" % ("clipsearch index (fast JPEG)", fw, n / fw, sw / fw, fr / 1024))
print("%-34s %9.1f %9.2f %9.2fx %8.0f MB" % ("clipsearch index --exact", ew, n / ew, sw / ew, er / 1024))
print("# vs seed = seed process wall / ours; per image only (seed's model load left out): fast %.2fx, exact %.2fx"
      % (seed["index_seconds"] / fw, seed["index_seconds"] / ew))
print("# cosine to the seed's embeddings: --exact min %.6f, fast path min %.6f (mean %.6f)"
      % (cos(exact, ref).min(), cos(fast, ref).min(), cos(fast, ref).mean()))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
