#!/usr/bin/env bash
# index + search + similar end to end with the tiny reference model: the top k
# of text and image queries equals the ranking by the reference embeddings
# (ranking.py); a second index run embeds nothing; output formats.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny
EXPECTED=$ORACLE/expected-tiny.json
RANK="$PY $CS_SOURCE_DIR/tests/index/ranking.py $EXPECTED"
export CLIPSEARCH_DB=$TMP/catalog.db
cp -r "$ORACLE/images" "$TMP/photos"
chmod -R u+w "$TMP/photos"

# --exact: Pillow-identical pixels, so scores match the reference closely
out=$("$CLIPSEARCH" index --exact --model "$MODEL" "$TMP/photos" 2>"$TMP/err") ||
    fail "index exits $?: $(cat "$TMP/err")"
contains "$out" "25 images: 25 embedded" "first run embeds every image"

out=$("$CLIPSEARCH" index --exact --model "$MODEL" "$TMP/photos" 2>"$TMP/err") ||
    fail "second index exits $?: $(cat "$TMP/err")"
contains "$out" "25 images: 0 embedded, 0 reused, 25 unchanged" "second run embeds nothing"
grep -q "0/0" "$TMP/err" && fail "a run with nothing to embed drew a progress bar: $(cat "$TMP/err")"

for text in "ball" "a photo of a cat" "rocket launch" "galaxies in deep space"; do
    "$CLIPSEARCH" search --json -k 10 --model "$MODEL" "$text" >"$TMP/r.json" 2>"$TMP/err" ||
        fail "search '$text' exits $?: $(cat "$TMP/err")"
    $RANK "$TMP/r.json" --text "$text" --k 10 || fail "ranking of '$text'"
    q=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["query"])' "$TMP/r.json")
    [ "$q" = "$text" ] || fail "JSON query is '$q', want '$text'"
done
# words are joined into one text
"$CLIPSEARCH" search --json -k 25 --model "$MODEL" a photo of a cat >"$TMP/r.json" ||
    fail "multi-word search"
$RANK "$TMP/r.json" --text "a photo of a cat" --k 25 || fail "ranking of unquoted words"

# image query: recognised as a file, never returns itself
for img in chelsea.png china.jpg coins.bmp; do
    "$CLIPSEARCH" search --json -k 24 --model "$MODEL" "$TMP/photos/$img" >"$TMP/r.json" \
        2>"$TMP/err" || fail "image search $img exits $?: $(cat "$TMP/err")"
    $RANK "$TMP/r.json" --image "$img" --exclude "$img" --k 24 || fail "ranking of image $img"
done
# similar: from the stored embedding, no model needed
(cd "$TMP/photos" && "$CLIPSEARCH" similar --json -k 5 ./rocket.jpg) >"$TMP/r.json" ||
    fail "similar exits $?"
$RANK "$TMP/r.json" --image rocket.jpg --exclude rocket.jpg --k 5 || fail "ranking of similar"

# threshold: only results at or above it
"$CLIPSEARCH" search --json -k 25 --threshold 0.0 --model "$MODEL" ball >"$TMP/r.json" ||
    fail "threshold search"
$PY - "$TMP/r.json" "$EXPECTED" <<'PY' || fail "threshold"
import json, math, sys
r = json.load(open(sys.argv[1]))["results"]
ref = json.load(open(sys.argv[2]))
u = lambda v: [x / math.sqrt(sum(y * y for y in v)) for x in v]
q = u([t for t in ref["texts"] if t["text"] == "ball"][0]["embedding"])
want = sum(1 for e in ref["images"].values() if sum(a * b for a, b in zip(q, u(e["embedding"]))) >= 0)
assert len(r) == want and all(x["score"] >= 0 for x in r), (len(r), want)
PY

# output formats
out=$("$CLIPSEARCH" search --tsv -k 3 --model "$MODEL" ball) || fail "--tsv"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] || fail "--tsv gives 3 lines: $out"
printf '%s\n' "$out" | grep -qvP '^-?[0-9]+\.[0-9]+\t/' && fail "--tsv lines are score<TAB>path: $out"
out=$("$CLIPSEARCH" search --paths -k 2 --model "$MODEL" ball) || fail "--paths"
for p in $out; do [ -f "$p" ] || fail "--paths prints paths: $out"; done

# weighted combination: a valid query, and subtracting a term from itself fails
"$CLIPSEARCH" search --json -k 3 --model "$MODEL" "2:ball" + "$TMP/photos/chelsea.png" - grass \
    >"$TMP/r.json" || fail "combined query"
"$CLIPSEARCH" search --model "$MODEL" ball - ball 2>"$TMP/err" && fail "ball - ball succeeds"
contains "$(cat "$TMP/err")" "cancel out" "ball - ball is explained"
"$CLIPSEARCH" search --model "$MODEL" ./missing.jpg 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "missing image exits $rc"
contains "$(cat "$TMP/err")" "missing.jpg" "missing image is named"

# --montage: a contact sheet of the query and its results, a real JPEG
"$CLIPSEARCH" search -k 4 --model "$MODEL" --montage "$TMP/m.jpg" "$TMP/photos/china.jpg" \
    >/dev/null || fail "search --montage"
"$CLIPSEARCH" similar -k 3 --montage "$TMP/s.jpg" "$TMP/photos/china.jpg" >/dev/null ||
    fail "similar --montage"
$PY -c 'import sys; from PIL import Image
for p in sys.argv[1:]:
    im = Image.open(p); im.load(); assert im.format == "JPEG" and im.width > 224, p' \
    "$TMP/m.jpg" "$TMP/s.jpg" || fail "montages are JPEG contact sheets"

out=$("$CLIPSEARCH" info) || fail "info"
contains "$out" "images:     25" "info counts images"
contains "$out" "dimensions: 48" "info gives dimensions"
done_test
