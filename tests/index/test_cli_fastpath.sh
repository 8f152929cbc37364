#!/usr/bin/env bash
# The default (fast) indexing path decodes large JPEGs at reduced size with
# libjpeg-turbo's DCT scaling; issue 7 allows that only while every embedding
# stays at cosine >= 0.999 to the exact (Pillow-identical) path. Index the
# reference images both ways and compare each file's stored embedding; the
# stored image size must be the full one either way.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
cp -r "$ORACLE/images" "$TMP/p"
chmod -R u+w "$TMP/p"
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/fast.db" "$TMP/p" || fail "fast index"
"$CLIPSEARCH" index -q --exact --model "$MODEL" --db "$TMP/exact.db" "$TMP/p" || fail "exact index"
/usr/bin/python3 - "$TMP/fast.db" "$TMP/exact.db" <<'PY' || fail "fast path differs"
import math, sqlite3, struct, sys
def rows(p):
    c = sqlite3.connect(p)
    return {r[0]: (struct.unpack("<%df" % (len(r[1]) // 4), r[1]), r[2], r[3])
            for r in c.execute("select path, embedding, width, height from images")}
fast, exact = rows(sys.argv[1]), rows(sys.argv[2])
assert fast.keys() == exact.keys() and len(fast) == 25, (len(fast), len(exact))
worst = 1.0
for p in sorted(fast):
    a, b = fast[p][0], exact[p][0]
    cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    worst = min(worst, cos)
    print("%-40s cosine %.6f  %dx%d" % (p.split("/")[-1], cos, fast[p][1], fast[p][2]))
    assert cos >= 0.999, p
    assert fast[p][1:] == exact[p][1:], (p, fast[p][1:], exact[p][1:])
print("worst cosine fast vs exact: %.6f" % worst)
PY
done_test
