#!/bin/bash
# bench/compare_index_ort.sh - `clipsearch index` end to end (read, decode,
# preprocess, encode, store) on N 12-megapixel JPEGs, at each precision,
# against ONNX Runtime's image encoder alone (FP32, batches of 16, the same
# threads, the same weights). ORT never decodes a file here, so a ratio of
# 1 means our whole pipeline keeps pace with its encoder by itself.
# The arms alternate for ROUNDS rounds (default 3); each arm's best round
# counts. Packed weights are kept in a folder emptied at the start
# ($WORK/packed): bf16's and int8's first round packs them (what a first
# run on a machine pays), later rounds map them (every run after it). F32
# panels are packed only for bulk work (256+ files), so a run of 48 reads
# the F32 weights from the model's file, unless PACK_FIRST=1: then a
# `clipsearch bench` (bulk work) keeps them first, as on a machine that has
# indexed a large folder once. Wall images/s is what a user sees on a quiet machine; CPU ms per
# image (user + sys of every thread) is what the load bends least.
#
#   bench/compare_index_ort.sh MODEL_DIR [N_FILES]
#
# PRECISIONS (default "fp32 bf16 int8"), THREADS (default 2), ROUNDS.
# Needs what bench/compare_ort.sh needs (build-rel, node + npm,
# /usr/bin/python3 with torch for the ONNX export) and the JPEGs of
# bench/make_big_jpegs.py, made in $WORK (default /tmp/clipsearch-bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_index_ort.sh MODEL_DIR [N_FILES]}
n=${2:-48}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
work=${WORK:-/tmp/clipsearch-bench}
oracle=${CS_ORACLE:-$here/../../shared/oracle}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
jpegs=$work/jpegs-$n
# shellcheck source=bench/ort/setup.sh
. "$here/ort/setup.sh" # sets $onnx: the ONNX export of the model
if [ ! -d "$jpegs" ]; then
    /usr/bin/python3 "$here/make_big_jpegs.py" "$oracle/images" "$jpegs.tmp" "$n" && mv "$jpegs.tmp" "$jpegs"
fi
# the weights in 2 MiB folios, however the model's file was made
"$here/reread.sh" "$model"/*.safetensors "$model"/*.bin
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# index $n JPEGs of 4000x3000 ($(du -shL "$jpegs" | cut -f1)) vs ORT FP32 encoder only, batch 16; $threads threads; model $model"
: >"$work/index_ort.txt"
export CLIPSEARCH_PACK_CACHE=$work/packed
rm -rf "$work/packed"
if [ "${PACK_FIRST:-0}" = 1 ]; then
    "$cs" bench --model "$model" --precision fp32 --batch 2 --seconds 0.1 --no-text >/dev/null
    echo "# F32 panels kept first (PACK_FIRST=1)"
fi
for r in $(seq "$rounds"); do
    for p in ${PRECISIONS:-fp32 bf16 int8}; do
        rm -f "$work/io.db"*
        /usr/bin/time -f '%e %U %S' -o "$work/time" "$cs" index -q --threads "$threads" \
            --precision "$p" --model "$model" --db "$work/io.db" "$jpegs"
        read -r wall user sys <"$work/time"
        echo "ours $p $r $wall $user $sys" >>"$work/index_ort.txt"
    done
    node "$here/ort/bench_ort.js" "$onnx" --threads "$threads" --batch 16 --seconds 8 |
        /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); print("ort fp32", sys.argv[1], o["images_per_second"], o["cpu_ms_per_image"])' "$r" \
            >>"$work/index_ort.txt"
done
rm -f "$work/io.db"*
/usr/bin/python3 - "$work/index_ort.txt" "$n" <<'PY'
import sys
n = int(sys.argv[2])
ours, ort = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "ort":
        ort.append((float(f[3]), float(f[4])))
    else:
        wall, cpu = float(f[3]), float(f[4]) + float(f[5])
        ours.setdefault(f[1], []).append((n / wall, cpu / n * 1e3))
print("round-by-round images/s: ours " + "; ".join(
    "%s %s" % (p, " ".join("%.2f" % a for a, _ in v)) for p, v in ours.items()) +
    "; ORT " + " ".join("%.2f" % a for a, _ in ort))
b, cb = max(a for a, _ in ort), min(c for _, c in ort)
print("%-6s %12s %12s %8s %14s %14s %9s" % ("ours", "index img/s", "ORT img/s", "ratio",
                                          "index cpu ms", "ORT cpu ms", "cpu ratio"))
for p, v in ours.items():
    a, ca = max(x for x, _ in v), min(c for _, c in v)
    print("%-6s %12.2f %12.2f %7.2fx %14.1f %14.1f %8.2fx" % (p, a, b, a / b, ca, cb, cb / ca))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); ratio = our index images/s over ORT encoder images/s (wall); cpu ratio = ORT CPU per image over ours"
