#!/bin/bash
# bench/compare_precision.sh - the image encoder at fp32, bf16 and int8 on
# the same weights, alternating in one run (ROUNDS rounds of the three, each
# `clipsearch bench --precision P`), with the load printed beside: images/s
# and CPU ms per image of each, the ratios bf16/fp32 and int8/bf16 per round
# (wall and CPU), the cosine of each precision's embeddings to fp32's, and
# the share of the cores' peak at that precision (bench_peak: clock and
# instruction throughput measured on this machine).
#
#   bench/compare_precision.sh MODEL_DIR [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_precision.sh MODEL_DIR [SECONDS]}
secs=${2:-5}
work=${WORK:-/tmp/clipsearch-bench}
build=${BUILD:-$here/../build-rel}
cs=${CLIPSEARCH:-$build/clipsearch}
rounds=${ROUNDS:-3} batch=${BATCH:-16} threads=${THREADS:-2}
mkdir -p "$work"
# the weights in 2 MiB folios, however the model's file was made
"$here/reread.sh" "$model"/*.safetensors "$model"/*.bin
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
peak=$("$build/bench/bench_peak")
echo "# peak per core (bench_peak): $peak"
: >"$work/precision.jsonl"
for r in $(seq "$rounds"); do
    for p in fp32 bf16 int8; do
        "$cs" bench --model "$model" --batch "$batch" --threads "$threads" --no-text \
            --seconds "$secs" --precision "$p" | sed "s/^{/{\"round\":$r,/" >>"$work/precision.jsonl"
    done
    echo "# round $r done, load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
/usr/bin/python3 - "$work/precision.jsonl" "$peak" "$threads" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
peak, threads = json.loads(sys.argv[2]), int(sys.argv[3])
peak_key = {"fp32": "f32_gflops", "bf16": "bf16_gflops", "int8": "int8_gops"}
by = lambda p: [r for r in runs if r["precision"] == p]
print("%-6s %-12s %10s %10s %14s %12s %10s" % ("asked", "ran", "images/s", "cpu ms/img",
                                               "GFLOP/cpu-s", "% of peak", "cos(fp32)"))
for p in ("fp32", "bf16", "int8"):
    rs = [r for r in runs if r["precision"].startswith(p)]
    if not rs: continue
    ips = max(r["image_encoder_images_per_second"] for r in rs)
    cpu = statistics.median(r["image_encoder_cpu_ms_per_image"] for r in rs)
    g = max(r["image_encoder_gflops_per_cpu_second"] for r in rs)
    pk = peak.get(peak_key[p])
    cos = min(r.get("min_cosine_to_fp32_images", 1.0) for r in rs)
    print("%-6s %-12s %10.2f %10.1f %14.1f %12s %10.6f" % (p, rs[0]["precision"], ips, cpu, g,
          "%.0f%%" % (100 * g / pk) if pk else "-", cos))
rounds = sorted({r["round"] for r in runs})
def ratio(a, b, key, r):
    x = [q for q in runs if q["round"] == r and q["precision"] == a]
    y = [q for q in runs if q["round"] == r and q["precision"] == b]
    return x[0][key] / y[0][key] if x and y else float("nan")
for a, b in (("bf16", "fp32"), ("int8", "bf16"), ("int8", "fp32")):
    w = [ratio(a, b, "image_encoder_images_per_second", r) for r in rounds]
    c = [ratio(b, a, "image_encoder_cpu_ms_per_image", r) for r in rounds]
    print("%s / %s: images/s per round %s; CPU per image per round %s" %
          (a, b, " ".join("%.2fx" % v for v in w), " ".join("%.2fx" % v for v in c)))
print("# %% of peak: GFLOP per CPU-second of the encoder over one core's peak at that "
      "precision (bench_peak)")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
