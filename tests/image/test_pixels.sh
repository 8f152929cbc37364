#!/usr/bin/env bash
# `clipsearch pixels`: the crop it writes is the oracle's crop, pixel for
# pixel (compared by re-encoding both through `pixels --full`, which writes
# identical PNG bytes for identical pixels); a refused file exits non-zero
# with the file and the reason on stderr.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle

for name in china_exif8.jpg astronaut.gif flower_rgba.png; do
    "$CLIPSEARCH" pixels --model "$ORACLE/models/tiny" "$ORACLE/images/$name" -o "$TMP/crop.png" ||
        fail "pixels failed on $name"
    "$CLIPSEARCH" pixels --full "$TMP/crop.png" -o "$TMP/a.png" || fail "re-encode ours"
    "$CLIPSEARCH" pixels --full "$ORACLE/crops-224/$name.png" -o "$TMP/b.png" || fail "re-encode oracle"
    cmp -s "$TMP/a.png" "$TMP/b.png" || fail "$name: crop differs from crops-224/$name.png"
done

# the model folder may come from $CLIPSEARCH_MODEL
CLIPSEARCH_MODEL="$ORACLE/models/tiny-p16" "$CLIPSEARCH" pixels "$ORACLE/images/coins.bmp" \
    -o "$TMP/crop64.png" || fail "pixels with CLIPSEARCH_MODEL"
"$CLIPSEARCH" pixels --full "$TMP/crop64.png" -o "$TMP/a.png"
"$CLIPSEARCH" pixels --full "$ORACLE/crops-64/coins.bmp.png" -o "$TMP/b.png"
cmp -s "$TMP/a.png" "$TMP/b.png" || fail "coins.bmp: crop differs from crops-64"

# --ignore-exif keeps the stored orientation: 427x640 stays portrait
"$CLIPSEARCH" pixels --full --ignore-exif "$ORACLE/images/china_exif8.jpg" -o "$TMP/raw.png" ||
    fail "--ignore-exif"
"$CLIPSEARCH" pixels --full "$TMP/raw.png" -o "$TMP/raw2.png" || fail "re-read"

# refused files: non-zero exit, the file and the reason on stderr, no output
"$CLIPSEARCH" pixels --model "$ORACLE/models/tiny" "$ORACLE/bad/truncated.png" -o "$TMP/x.png" \
    2>"$TMP/err"
rc=$?
[ "$rc" -ne 0 ] || fail "truncated.png accepted"
contains "$(cat "$TMP/err")" "bad/truncated.png: bad PNG: truncated" "truncated.png message"
[ ! -e "$TMP/x.png" ] || fail "an output was written for a refused file"
"$CLIPSEARCH" pixels --model "$ORACLE/models/tiny" "$ORACLE/bad/huge_dims.jpg" -o "$TMP/x.png" \
    2>"$TMP/err" && fail "huge_dims.jpg accepted"
contains "$(cat "$TMP/err")" "above the limit" "huge_dims.jpg message"
"$CLIPSEARCH" pixels --full --max-pixels 100 "$ORACLE/images/coins.png" -o "$TMP/x.png" \
    2>"$TMP/err" && fail "--max-pixels not applied"
contains "$(cat "$TMP/err")" "384x303 pixels, above the limit of 100" "--max-pixels message"
# a negative or non-numeric limit is a usage error, not "no limit"
for bad in -5 abc 0 12x; do
    "$CLIPSEARCH" pixels --full --max-pixels "$bad" "$ORACLE/images/coins.png" -o "$TMP/x.png" \
        2>"$TMP/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "--max-pixels $bad exits $rc, want 2"
    contains "$(cat "$TMP/err")" "--max-pixels needs a whole number" "--max-pixels $bad message"
done

# several images: one PNG each in the folder; a refused one is reported, the
# others are still written, exit 3; two inputs with one file name: usage error
mkdir "$TMP/many"
"$CLIPSEARCH" pixels --model "$ORACLE/models/tiny" "$ORACLE/images/coins.png" \
    "$ORACLE/bad/truncated.png" "$ORACLE/images/astronaut.gif" -o "$TMP/many" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 3 ] || fail "pixels over several images with one refused exits $rc, want 3"
contains "$(cat "$TMP/err")" "bad/truncated.png: bad PNG" "batch refusal message"
"$CLIPSEARCH" pixels --full "$TMP/many/astronaut.gif.png" -o "$TMP/a.png"
"$CLIPSEARCH" pixels --full "$ORACLE/crops-224/astronaut.gif.png" -o "$TMP/b.png"
cmp -s "$TMP/a.png" "$TMP/b.png" || fail "batch: astronaut.gif crop differs from the oracle's"
[ -e "$TMP/many/coins.png.png" ] || fail "batch: coins.png not written"
[ ! -e "$TMP/many/truncated.png.png" ] || fail "batch: output written for a refused image"
"$CLIPSEARCH" pixels --full "$ORACLE/images/coins.png" "$TMP/many/coins.png.png" \
    "$ORACLE/images/coins.png" -o "$TMP/many" 2>"$TMP/err"
[ $? -eq 2 ] || fail "two inputs named alike should exit 2"
contains "$(cat "$TMP/err")" "would both write coins.png.png" "duplicate name message"

# usage errors
"$CLIPSEARCH" pixels --model "$ORACLE/models/tiny" "$ORACLE/images/coins.png" 2>/dev/null
[ $? -eq 2 ] || fail "missing -o should exit 2"
done_test
