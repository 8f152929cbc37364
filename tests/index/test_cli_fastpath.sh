#!/usr/bin/env bash
# The default (fast) indexing path decodes large JPEGs at reduced size with
# libjpeg-turbo's DCT scaling; it must keep the README's promise, cosine >=
# 0.99999 to the exact (Pillow-identical) path. Index the reference images
# and larger JPEGs made from them (sizes that take DCT scaling, and sizes
# libjpeg cannot scale exactly) both ways and compare each file's stored
# embedding; the stored image size must be the full one either way. With
# CS_FULL_MODEL (a full-size checkpoint), the same on it.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
cp -r "$ORACLE/images" "$TMP/p"
chmod -R u+w "$TMP/p"
/usr/bin/python3 - "$ORACLE/images" "$TMP/p" <<'PY' || fail "making the larger JPEGs"
import sys
from PIL import Image, ImageOps
src, out = sys.argv[1], sys.argv[2]
# 1792x1344 and 1344x1792 scale exactly (3/8 and 4/8); 1605x1070 cannot
for name, size in [("chelsea.png", (1792, 1344)), ("coffee.png", (1344, 1792)),
                   ("rocket.jpg", (1605, 1070)), ("astronaut.png", (1024, 1024))]:
    with Image.open("%s/%s" % (src, name)) as im:
        im = ImageOps.exif_transpose(im).convert("RGB").resize(size, Image.BICUBIC)
        im.save("%s/big_%s_%dx%d.jpg" % (out, name.split(".")[0], size[0], size[1]), quality=90)
PY
compare() { # MODEL TAG
    "$CLIPSEARCH" index -q --model "$1" --db "$TMP/fast$2.db" "$TMP/p" || fail "fast index ($2)"
    "$CLIPSEARCH" index -q --exact --model "$1" --db "$TMP/exact$2.db" "$TMP/p" ||
        fail "exact index ($2)"
    /usr/bin/python3 - "$TMP/fast$2.db" "$TMP/exact$2.db" <<'PY' || fail "fast path differs ($2)"
import math, sqlite3, struct, sys
def rows(p):
    c = sqlite3.connect(p)
    return {r[0]: (struct.unpack("<%df" % (len(r[1]) // 4), r[1]), r[2], r[3])
            for r in c.execute("select path, embedding, width, height from images")}
fast, exact = rows(sys.argv[1]), rows(sys.argv[2])
assert fast.keys() == exact.keys() and len(fast) == 29, (len(fast), len(exact))
worst = 1.0
for p in sorted(fast):
    a, b = fast[p][0], exact[p][0]
    cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    worst = min(worst, cos)
    print("%-40s cosine %.7f  %dx%d" % (p.split("/")[-1], cos, fast[p][1], fast[p][2]))
    assert cos >= 0.99999, p
    assert fast[p][1:] == exact[p][1:], (p, fast[p][1:], exact[p][1:])
# the scaled files really took the fast path (else this test proves nothing)
assert any(fast[p][0] != exact[p][0] for p in fast if "big_" in p)
print("worst cosine fast vs exact: %.7f" % worst)
PY
}
compare "$ORACLE/models/tiny" tiny
FULL=${CS_FULL_MODEL:-}
if [ -n "$FULL" ] && [ -f "$FULL/model.safetensors" ]; then
    compare "$FULL" full
else
    echo "note: CS_FULL_MODEL not set: the full-size model is not checked"
fi
done_test
