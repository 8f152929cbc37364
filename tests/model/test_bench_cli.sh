#!/bin/bash
# tests/model/test_bench_cli.sh - `clipsearch bench` prints one JSON object with
# the figures bench/ scripts and the README rely on (tiny model, short runs).
source "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
out=$("$CLIPSEARCH" bench --model "$MODEL" --batch 3 --threads 2 --seconds 0.05 \
    --image "$ORACLE/images/china.jpg") || fail "bench failed"
/usr/bin/python3 - "$out" <<'PY' || fail "bad bench output: $out"
import json, sys
o = json.loads(sys.argv[1])
assert o["batch"] == 3 and o["threads"] == 2, o
for k in ("image_encoder_images_per_second", "text_encoder_texts_per_second",
          "image_encoder_gflops", "image_encoder_cpu_ms_per_image"):
    assert o[k] > 0, k
assert o["kernel"] in ("avx512", "avx2", "generic"), o["kernel"]
for s in ("stages", "stages_fast_jpeg"):
    st = o[s]
    for k in ("decode_ms", "preprocess_ms", "encode_ms"):
        assert st[k] > 0, (s, k)
    assert abs(st["total_ms"] - st["decode_ms"] - st["preprocess_ms"] - st["encode_ms"]) < 1e-3
assert (o["stages"]["width"], o["stages"]["height"]) == (640, 427), o["stages"]
assert o["int8"] is False and "min_cosine_to_fp32_images" not in o and o["precision"] == "fp32"
assert o["prepacked"] is True, o  # bulk work: F32 image weights packed once
PY
# CLIPSEARCH_NO_PREPACK=1: read from the map instead
out=$(CLIPSEARCH_NO_PREPACK=1 "$CLIPSEARCH" bench --model "$MODEL" --batch 2 --seconds 0.05 \
    --no-text) || fail "bench with CLIPSEARCH_NO_PREPACK failed"
/usr/bin/python3 -c 'import json, sys; o = json.loads(sys.argv[1]); assert o["prepacked"] is False, o' \
    "$out" || fail "CLIPSEARCH_NO_PREPACK ignored: $out"
# --int8 (and CLIPSEARCH_INT8=1, --precision bf16): int8 weights (or
# BF16), and how close they land to fp32's embeddings (0.999+ / 0.9999+
# on this model, tests/model/test_fidelity.c)
for how in "--int8" "env" "bf16"; do
    if [ "$how" = bf16 ]; then
        out=$("$CLIPSEARCH" bench --model "$MODEL" --batch 2 --seconds 0.05 --precision bf16 \
            --image "$ORACLE/images/china.jpg") || fail "bench --precision bf16 failed"
    elif [ "$how" = env ]; then
        out=$(CLIPSEARCH_INT8=1 "$CLIPSEARCH" bench --model "$MODEL" --batch 2 --seconds 0.05 \
            --image "$ORACLE/images/china.jpg") || fail "bench (CLIPSEARCH_INT8=1) failed"
    else
        out=$("$CLIPSEARCH" bench --model "$MODEL" --batch 2 --seconds 0.05 --int8 \
            --image "$ORACLE/images/china.jpg") || fail "bench --int8 failed"
    fi
    /usr/bin/python3 - "$out" <<'PY' || fail "bad bench $how output: $out"
import json, sys
o = json.loads(sys.argv[1])
bar = 0.999 if o["int8"] else 0.9999
assert o["precision"] in ("int8", "int8-weights", "bf16", "fp32"), o
if o["precision"] != "fp32":  # (bf16 on a CPU without AVX512_BF16 runs fp32)
    assert o["prepacked"] is False, o  # packed to int8 or BF16 instead
    for k in ("min_cosine_to_fp32_images", "min_cosine_to_fp32_texts", "cosine_to_fp32_image"):
        assert bar <= o[k] < 1 - 1e-7, (k, o[k])
PY
done
# Bad command lines are refused with the usage status.
"$CLIPSEARCH" bench --model "$MODEL" --batch 0 2>/dev/null
[ $? -eq 2 ] || fail "--batch 0 accepted"
"$CLIPSEARCH" bench --model "$ORACLE/no-such-model" --seconds 0.01 2>/dev/null && fail "missing model accepted"
# A missing image is an error that names the file.
err=$("$CLIPSEARCH" bench --model "$MODEL" --seconds 0.01 --image /nonexistent.jpg 2>&1 >/dev/null)
contains "$err" "/nonexistent.jpg" "missing image error"
done_test
