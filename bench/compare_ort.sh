#!/bin/bash
# bench/compare_ort.sh - our image encoder against ONNX Runtime (the npm
# onnxruntime-node package, CPU) on the same ViT-B/32 weights, side by side:
# for each thread count and batch size, ours and ORT alternating for ROUNDS
# rounds (default 3) of SECONDS each, then the ratio of the best rounds.
# Prints a table; the raw JSON lines go to $WORK/ort.jsonl. THREADS and
# BATCHES (space-separated) narrow the grid, e.g. THREADS=2 BATCHES=8;
# PRECISIONS="fp32 bf16 int8" also times ours at those precisions (each
# against the same ORT FP32 rounds; default fp32 only).
#
#   bench/compare_ort.sh MODEL_DIR [SECONDS]
#
# Needs: a Release build in build-rel/ (or $CLIPSEARCH), node + npm (the
# package is installed under bench/ort/ from its lock file, without its
# optional CUDA download), /usr/bin/python3 with torch (for the ONNX export,
# cached in $WORK, default /tmp/clipsearch-bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_ort.sh MODEL_DIR [SECONDS]}
secs=${2:-6}
work=${WORK:-/tmp/clipsearch-bench}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
# shellcheck source=bench/ort/setup.sh
. "$here/ort/setup.sh" # sets $onnx: the ONNX export of the model
# the weights in 2 MiB folios, however the model's file was made
"$here/reread.sh" "$model"/*.safetensors "$model"/*.bin
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-6s %-6s %12s %12s %8s %14s %14s %8s\n' threads batch ours "ours img/s" "ORT img/s" ratio \
    "ours cpu ms" "ORT cpu ms" "cpu ratio"
: >"$work/ort.jsonl"
# Each pair runs ROUNDS times, ours and ORT alternating, and the best round of
# each counts: on a shared 2-core machine a neighbour's burst slows whichever
# engine it lands on, and alternating rounds give both the same chances.
rounds=${ROUNDS:-3}
for threads in ${THREADS:-1 2}; do
    for batch in ${BATCHES:-8 16 32}; do
        for _ in $(seq "$rounds"); do
            for p in ${PRECISIONS:-fp32}; do
                "$cs" bench --model "$model" --batch "$batch" --threads "$threads" --seconds "$secs" \
                    --no-text --precision "$p" >>"$work/ours.$threads.$batch.jsonl"
            done
            node "$here/ort/bench_ort.js" "$onnx" --threads "$threads" --batch "$batch" \
                --seconds "$secs" >>"$work/ort.$threads.$batch.jsonl"
        done
        cat "$work/ours.$threads.$batch.jsonl" "$work/ort.$threads.$batch.jsonl" >>"$work/ort.jsonl"
        /usr/bin/python3 - "$work/ours.$threads.$batch.jsonl" "$work/ort.$threads.$batch.jsonl" \
            "$threads" "$batch" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
ort = [json.loads(l) for l in open(sys.argv[2])]
b = max(r["images_per_second"] for r in ort)
cb = min(r["cpu_ms_per_image"] for r in ort)
for p in dict.fromkeys(o.get("precision", "fp32") for o in runs):
    ours = [o for o in runs if o.get("precision", "fp32") == p]
    a = max(o["image_encoder_images_per_second"] for o in ours)
    ca = min(o["image_encoder_cpu_ms_per_image"] for o in ours)
    print("%-8s %-6s %-6s %12.2f %12.2f %7.2fx %14.1f %14.1f %7.2fx" % (sys.argv[3], sys.argv[4], p, a, b, a / b, ca, cb, cb / ca))
PY
        rm -f "$work/ours.$threads.$batch.jsonl" "$work/ort.$threads.$batch.jsonl"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); ratio = ours / ORT images per second (wall); cpu ratio = ORT / ours CPU time per image"
