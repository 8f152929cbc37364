#!/bin/bash
# tests/perf/test_dispatch.sh - every kernel level this CPU runs (AVX-512,
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
# The bench names the kernel it used.
for level in $levels; do
    k=$(CLIPSEARCH_CPU=$level "$CLIPSEARCH" bench --model "$ORACLE/models/tiny" --batch 1 --seconds 0.01 --no-text |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['kernel'])")
    [ "$k" = "$level" ] || fail "CLIPSEARCH_CPU=$level ran the $k kernel"
done
done_test
