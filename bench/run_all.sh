#!/bin/bash
# bench/run_all.sh - every side-by-side comparison in one session, for the
# README's performance section: clipsearch bench, GEMM vs OpenBLAS, ORT,
# indexing vs the seed pipeline, cold search, memory. Output is tee'd to
# $WORK/run_all.log.
#
#   bench/run_all.sh F32_MODEL_DIR F16_MODEL_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
f32=${1:?usage: run_all.sh F32_MODEL_DIR F16_MODEL_DIR} f16=${2:?}
export WORK=${WORK:-/tmp/clipsearch-bench}
build=${BUILD:-$here/../build-rel}
mkdir -p "$WORK"
{
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(git -C "$here" rev-parse --short HEAD)"
    echo "## clipsearch bench (batch 16, 2 threads)"
    jpeg=$WORK/jpegs-24/big_000.jpg
    [ -f "$jpeg" ] || jpeg=""
    "$build/clipsearch" bench --model "$f32" --batch 16 --threads 2 --seconds 6 ${jpeg:+--image "$jpeg"}
    "$build/clipsearch" bench --model "$f16" --batch 16 --threads 2 --seconds 6 --no-text
    echo "## GEMM: ours vs OpenBLAS (forced SkylakeX kernels), 1 thread, GFLOP per CPU-second"
    OPENBLAS_CORETYPE=SkylakeX "$build/bench/bench_gemm" --threads 1 --batch 16 --reps 5
    echo "## image encoder vs ONNX Runtime"
    "$here/compare_ort.sh" "$f32" 6
    echo "## indexing 24 12-MP JPEGs vs the seed pipeline"
    "$here/compare_index.sh" "$f32" 24
    echo "## cold search on 100k"
    "$here/compare_search.sh" "$f32" 100000
    echo "## memory"
    "$here/memory.sh" "$f32" "$f16" "$WORK/jpegs-24"
    echo "## int8 weights (opt-in) vs the stored F32"
    "$here/compare_int8.sh" "$f32" "$WORK/jpegs-24"
} 2>&1 | tee "$WORK/run_all.log"
