#!/bin/bash
# tests/kernels/test_dispatch.sh - every kernel level this CPU runs (AVX-512,
# AVX2, portable C; CLIPSEARCH_CPU lowers the choice, as on an older CPU)
# gives the reference embeddings end to end (GEMM, attention, activations):
# cosine >= 0.99999 to the float64 oracle, F32 and F16 weights, and each
# level reports itself in `clipsearch bench`.
source "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
levels="generic"
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && levels="$levels avx2"
grep -qw avx512f /proc/cpuinfo && levels="$levels avx512"
for tag in tiny tiny-f16; do
    for level in $levels; do
        out=$(CLIPSEARCH_CPU=$level "$CLIPSEARCH" embed --model "$ORACLE/models/$tag" --raw \
            --text "ball" --image "$ORACLE/images/chelsea.png" --image "$ORACLE/images/rocket.jpg") ||
            fail "$tag/$level: embed failed"
        /usr/bin/python3 - "$out" "$ORACLE/expected-$tag.json" "$tag/$level" <<'PY' || fail "$tag/$level: embeddings differ"
import json, math, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
ref = json.load(open(sys.argv[2]))
want = [next(t["embedding"] for t in ref["texts"] if t["text"] == "ball"),
        ref["images"]["chelsea.png"]["embedding"], ref["images"]["rocket.jpg"]["embedding"]]
for got, exp in zip(lines, want):
    a = got["embedding"]
    c = sum(x * y for x, y in zip(a, exp)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in exp))
    assert c >= 0.99999, (sys.argv[3], c)
PY
    done
done
# --precision bf16 / int8 (and CLIPSEARCH_PRECISION, and the older
# CLIPSEARCH_INT8=1): BF16 / VNNI kernels where the CPU has them, at their
# fidelity bars; where it does not (or CLIPSEARCH_CPU names a level, which
# hides the extensions), the nearest precision, with a warning.
has_bf16=0 has_vnni=0
grep -qw avx512_bf16 /proc/cpuinfo && grep -qw avx512f /proc/cpuinfo && has_bf16=1
grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx512f /proc/cpuinfo && has_vnni=1
[ $has_bf16 = 1 ] || echo "no AVX512_BF16 here: bf16 checked as its fp32 fallback only"
has_avxvnni=0
grep -qw avx_vnni /proc/cpuinfo && has_avxvnni=1
[ $has_vnni = 1 ] || [ $has_avxvnni = 1 ] ||
    echo "no AVX-512 VNNI or AVX-VNNI here: int8 checked as its int8-weights fallback only"
# the AVX-VNNI kernel (CLIPSEARCH_CPU=avx2-vnni: AVX2 and AVX-VNNI alone, as
# on an Intel client CPU), where this CPU has it
[ $has_avxvnni = 1 ] &&
    check_precision CLIPSEARCH_PRECISION=int8 CLIPSEARCH_CPU=avx2-vnni -- int8 0.999 0
check_precision() { # ENV... -- WANT_PRECISION MIN_COSINE WANT_WARNING
    local envs=() want min warn
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    want=$2 min=$3 warn=$4
    out=$(env "${envs[@]}" "$CLIPSEARCH" embed --model "$ORACLE/models/tiny" --raw --text "ball" \
        --image "$ORACLE/images/chelsea.png" 2>"$TMP/err") || fail "${envs[*]}: embed failed"
    /usr/bin/python3 - "$out" "$ORACLE/expected-tiny.json" "$min" "${envs[*]}" <<'PY' || fail "${envs[*]}: embeddings below the bar"
import json, math, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
ref = json.load(open(sys.argv[2]))
want = [next(t["embedding"] for t in ref["texts"] if t["text"] == "ball"), ref["images"]["chelsea.png"]["embedding"]]
for got, exp in zip(lines, want):
    a = got["embedding"]
    c = sum(x * y for x, y in zip(a, exp)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in exp))
    assert c >= float(sys.argv[3]), (sys.argv[4], c)
PY
    if [ "$warn" = 1 ]; then grep -q "precision" "$TMP/err" || fail "${envs[*]}: no fallback message"; fi
    if [ "$warn" = 0 ] && [ -s "$TMP/err" ]; then fail "${envs[*]}: unexpected message: $(cat "$TMP/err")"; fi
    got=$(env "${envs[@]}" "$CLIPSEARCH" bench --model "$ORACLE/models/tiny" --batch 1 --seconds 0.01 --no-text 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['precision'])")
    [ "$got" = "$want" ] || fail "${envs[*]}: bench reports precision $got, want $want"
    # a catalogue records it with each image, and `info` reports it
    rm -rf "$TMP/prec" "$TMP/prec.db"* && mkdir "$TMP/prec" &&
        cp "$ORACLE/images/chelsea.png" "$ORACLE/images/rocket.jpg" "$TMP/prec/"
    env "${envs[@]}" "$CLIPSEARCH" index --model "$ORACLE/models/tiny" --db "$TMP/prec.db" \
        "$TMP/prec" >"$TMP/prec.out" 2>/dev/null || fail "${envs[*]}: index failed"
    grep -q "^2 images: 2 embedded at $want," "$TMP/prec.out" ||
        fail "${envs[*]}: index summary: $(cat "$TMP/prec.out")"
    got=$("$CLIPSEARCH" info --db "$TMP/prec.db" --json | /usr/bin/python3 -c \
        'import json,sys; print(" ".join("%s:%d" % (p["precision"], p["count"]) for p in json.load(sys.stdin)["precisions"]))')
    [ "$got" = "$want:2" ] || fail "${envs[*]}: info reports precisions $got, want $want:2"
    "$CLIPSEARCH" info --db "$TMP/prec.db" | grep -qx "precision:  $want" ||
        fail "${envs[*]}: info does not say precision $want"
}
if [ $has_bf16 = 1 ]; then
    check_precision CLIPSEARCH_PRECISION=bf16 -- bf16 0.9999 0
    check_precision CLIPSEARCH_PRECISION=bf16 CLIPSEARCH_CPU=avx512 -- fp32 0.99999 1
else
    check_precision CLIPSEARCH_PRECISION=bf16 -- fp32 0.99999 1
fi
if [ $has_vnni = 1 ]; then
    check_precision CLIPSEARCH_PRECISION=int8 -- int8 0.999 0
    check_precision CLIPSEARCH_INT8=1 -- int8 0.999 0
    check_precision CLIPSEARCH_PRECISION=int8 CLIPSEARCH_CPU=avx2 -- int8-weights 0.999 1
elif [ $has_avxvnni = 1 ]; then
    check_precision CLIPSEARCH_PRECISION=int8 -- int8 0.999 0
else
    check_precision CLIPSEARCH_PRECISION=int8 -- int8-weights 0.999 1
fi
check_precision CLIPSEARCH_PRECISION=fp32 CLIPSEARCH_INT8=1 -- fp32 0.99999 0
# --precision wins over the environment; a bad name is refused
out=$(CLIPSEARCH_PRECISION=int8 "$CLIPSEARCH" bench --precision fp32 --model "$ORACLE/models/tiny" \
    --batch 1 --seconds 0.01 --no-text | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['precision'])")
[ "$out" = fp32 ] || fail "--precision fp32 under CLIPSEARCH_PRECISION=int8 ran $out"
"$CLIPSEARCH" embed --precision fp16 --model "$ORACLE/models/tiny" --text ball 2>"$TMP/err" >/dev/null &&
    fail "--precision fp16 accepted"
grep -q "fp16" "$TMP/err" || fail "--precision fp16: no message naming it"

# The bench names the kernel it used.
for level in $levels; do
    k=$(CLIPSEARCH_CPU=$level "$CLIPSEARCH" bench --model "$ORACLE/models/tiny" --batch 1 --seconds 0.01 --no-text |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['kernel'])")
    [ "$k" = "$level" ] || fail "CLIPSEARCH_CPU=$level ran the $k kernel"
done
if [ $has_avxvnni = 1 ]; then
    k=$(CLIPSEARCH_CPU=avx2-vnni "$CLIPSEARCH" bench --precision int8 --model "$ORACLE/models/tiny" \
        --batch 1 --seconds 0.01 --no-text | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['kernel'])")
    [ "$k" = avx2-vnni ] || fail "CLIPSEARCH_CPU=avx2-vnni --precision int8 ran the $k kernel"
fi
done_test
