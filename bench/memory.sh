#!/bin/bash
# bench/memory.sh - peak resident memory of `clipsearch index` with an F32
# and an F16 checkpoint of the same model (/usr/bin/time -v), next to the
# size of the weights file: the weights are memory-mapped, so an F16 file
# costs half; F32 image weights packed for batches (src/model/prepack.c)
# replace their mapped pages in the resident set, so the peak is the same.
#
#   bench/memory.sh F32_MODEL_DIR F16_MODEL_DIR IMAGE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
f32=${1:?usage: memory.sh F32_MODEL_DIR F16_MODEL_DIR IMAGE_DIR} f16=${2:?} images=${3:?}
work=${WORK:-/tmp/clipsearch-bench}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
mkdir -p "$work"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %14s %14s %10s %12s\n' dtype "weights file" "peak RSS" "wall s" "images"
for m in "$f32" "$f16"; do
    rm -f "$work/mem.db"*
    /usr/bin/time -v "$cs" index -q --model "$m" --db "$work/mem.db" "$images" 2>"$work/mem.log" >/dev/null
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/mem.log")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/mem.log")
    size=$(stat -c %s "$m/model.safetensors")
    dtype=$(/usr/bin/python3 -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); print(next(v['dtype'] for k,v in h.items() if k!='__metadata__' and 'embeddings.patch' in k))" "$m/model.safetensors")
    printf '%-6s %11.0f MB %11.0f MB %10s %12s\n' "$dtype" "$((size / 1048576))" "$((rss / 1024))" "$wall" \
        "$(ls "$images" | wc -l)"
done
