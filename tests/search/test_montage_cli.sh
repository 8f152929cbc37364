# tests/search/test_montage_cli.sh - `clipsearch montage`: a contact sheet of
# oracle images read from --tsv lines; checked with Pillow: size, the query's
# thumbnail against Pillow's own box-filter reduction of the same file, the
# grey box of an unreadable file; and the errors.
source "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
/usr/bin/python3 -c 'import PIL, numpy' 2>/dev/null || { echo "SKIP: no Pillow/numpy"; exit 77; }

I=$ORACLE/images
printf '0.8123\t%s\n0.7001\t%s\n\n0.5\t%s\n0.41\t%s\n' "$I/astronaut.png" "$I/chelsea.webp" \
    "$ORACLE/bad/corrupt.jpg" "$I/coffee.png" >"$TMP/results.tsv"
"$CLIPSEARCH" montage "$TMP/sheet.jpg" --query "$I/camera.png" --tsv "$TMP/results.tsv" \
    2>"$TMP/warn" || fail "montage failed"
# the unreadable file is named, with the decoder's reason, and only it
contains "$(cat "$TMP/warn")" "warning: $ORACLE/bad/corrupt.jpg:" "unreadable tile warned"
contains "$(cat "$TMP/warn")" "unreadable tile" "the warning says what was drawn"
[ "$(wc -l <"$TMP/warn")" = 1 ] || fail "expected one warning, got: $(cat "$TMP/warn")"

/usr/bin/python3 - "$TMP/sheet.jpg" "$I/camera.png" <<'PY' || fail "the sheet is not what was drawn"
import sys
import numpy as np
from PIL import Image
sheet = np.asarray(Image.open(sys.argv[1]).convert('RGB')).astype(int)
# 5 pictures of 224 in one row, 14 px apart (224 / 16), captions under them
h, w, _ = sheet.shape
assert (w, h) == (5 * 224 + 6 * 14, 224 + 7 + 2 * 20 + 2 * 14), (w, h)
# the query (512x512) fills its box: compare with Pillow's area-average
# resize, over 4x4 blocks (JPEG noise averages out; a thumbnail 1 px off
# already differs by 3.3 on this image, in place by 1.6)
ref = np.asarray(Image.open(sys.argv[2]).convert('RGB').resize((224, 224), Image.BOX)).astype(float)
box = sheet[14:14 + 224, 14:14 + 224].astype(float)
blocks = lambda a: a.reshape(56, 4, 56, 4, 3).mean(axis=(1, 3))
diff = np.abs(blocks(box) - blocks(ref)).mean()
assert diff < 2.5, f'query thumbnail differs from Pillow BOX by {diff:.2f} on average'
# its blue frame
assert np.abs(sheet[14 + 112, 12] - [31, 119, 180]).max() < 30, sheet[14 + 112, 12]
# the 3rd result (corrupt.jpg, cell 3) is a grey box with dark text in it
x0 = 14 + 3 * (224 + 14)
grey = sheet[14:14 + 40, x0:x0 + 224]
assert np.abs(grey - 200).max() < 12, 'unreadable box is not grey'
assert (sheet[14:14 + 224, x0:x0 + 224, 0] < 100).sum() > 50, 'no text in the unreadable box'
# captions: dark pixels under every picture
for i in range(5):
    x = 14 + i * (224 + 14)
    assert (sheet[14 + 224:, x:x + 224, 0] < 100).sum() > 100, f'no caption under picture {i}'
PY

# a text query: its words in the first box; results from standard input
printf '0.3\t%s\n' "$I/coffee.png" | "$CLIPSEARCH" montage "$TMP/text.jpg" --label "a cup of coffee" \
    --tile 64 || fail "montage from stdin failed"
/usr/bin/python3 -c "
from PIL import Image; im = Image.open('$TMP/text.jpg'); assert im.format == 'JPEG' and im.size == (2 * 64 + 3 * 5, 64 + 2 + 2 * 10 + 2 * 5), im.size
" || fail "text-query sheet has the wrong size"

# errors
out=$(printf '0.5\t%s\nnot a line\n' "$I/coffee.png" | "$CLIPSEARCH" montage "$TMP/x.jpg" 2>&1) && fail "bad line accepted"
contains "$out" "standard input:2" "bad TSV line"
"$CLIPSEARCH" montage </dev/null >/dev/null 2>&1; [ $? -eq 2 ] || fail "no OUT: expected usage error"
"$CLIPSEARCH" montage "$TMP/x.jpg" --tile 3 </dev/null >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad tile accepted"
out=$("$CLIPSEARCH" montage "$TMP/no/such/dir/x.jpg" --tsv "$TMP/results.tsv" 2>&1) && fail "unwritable output accepted"
contains "$out" "no/such/dir" "unwritable output"
[ ! -e "$TMP/x.jpg" ] || fail "a failed run left an output file"
done_test
