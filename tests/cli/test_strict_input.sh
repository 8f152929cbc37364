#!/usr/bin/env bash
# Numbers are parsed strictly (-k 5x, -k 3.9, --threshold nan are errors, not
# 5, 3 and "no threshold"); a query naming a file that is not an image is an
# error naming it (not a text search); a file that turns unreadable is
# counted in "removed" when its row goes.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
export CLIPSEARCH_DB=$TMP/catalog.db
mkdir -p "$TMP/p"
for f in china.jpg chelsea.png rocket.jpg coffee.png; do cp "$ORACLE/images/$f" "$TMP/p/"; done
"$CLIPSEARCH" index -q --model "$MODEL" "$TMP/p" 2>"$TMP/err" || fail "index: $(cat "$TMP/err")"

refused() { # WHAT ARGS...: exits 2 and names the bad value
    local what=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc = 2 ] || fail "$what: exit $rc, want 2 (out: $(cat "$TMP/out"))"
    [ -s "$TMP/out" ] && fail "$what: printed results: $(cat "$TMP/out")"
    return 0
}
S=("$CLIPSEARCH" search --model "$MODEL")
refused "-k 5x" "${S[@]}" -k 5x ball
contains "$(cat "$TMP/err")" "'5x' is not a whole number" "-k 5x named"
refused "-k 3.9" "${S[@]}" -k 3.9 ball
refused "-k ''" "${S[@]}" -k '' ball
refused "-k ' 5'" "${S[@]}" -k ' 5' ball
refused "-k 0x5" "${S[@]}" -k 0x5 ball
refused "-k 0" "${S[@]}" -k 0 ball
refused "-k 99999999999999999999" "${S[@]}" -k 99999999999999999999 ball
refused "--threshold nan" "${S[@]}" --threshold nan ball
contains "$(cat "$TMP/err")" "'nan' is not a number" "--threshold nan named"
refused "--threshold inf" "${S[@]}" --threshold inf ball
refused "--threshold 0.2x" "${S[@]}" --threshold 0.2x ball
refused "--threshold 2" "${S[@]}" --threshold 2 ball
refused "--threads 2x" "${S[@]}" --threads 2x ball
refused "similar -k 1.5" "$CLIPSEARCH" similar -k 1.5 "$TMP/p/china.jpg"
refused "index --batch 1e3" "$CLIPSEARCH" index --batch 1e3 --model "$MODEL" "$TMP/p"
refused "montage --tile 64px" "$CLIPSEARCH" montage "$TMP/m.jpg" --tile 64px
# the accepted forms still work
n=$("${S[@]}" -k 3 --threshold -1 ball | wc -l)
[ "$n" = 3 ] || fail "-k 3 gave $n results"
n=$("${S[@]}" -k +2 --threshold=-0.5e0 ball | wc -l)
[ "$n" = 2 ] || fail "-k +2 gave $n results"
# montage: a score that is not a number is a malformed line
printf 'nan\t%s\n' "$TMP/p/china.jpg" | "$CLIPSEARCH" montage "$TMP/m.jpg" 2>/dev/null &&
    fail "montage took a NaN score"

# a file that is there but is no image: an error naming it, with the way out
printf 'root:x:0:0::/root:/bin/sh\n' >"$TMP/passwd"
"${S[@]}" "$TMP/passwd" >"$TMP/out" 2>"$TMP/err" && fail "a text file was searched"
contains "$(cat "$TMP/err")" "$TMP/passwd: not an image" "the non-image query is named"
contains "$(cat "$TMP/err")" "--text" "the hint names --text"
[ -s "$TMP/out" ] && fail "results printed for a non-image file"
"${S[@]}" "$TMP/p" >/dev/null 2>"$TMP/err" && fail "a folder path was searched as text"
contains "$(cat "$TMP/err")" "a folder" "a folder query is named"
n=$("${S[@]}" --text -k 2 "$TMP/passwd" | wc -l) # --text: the words, as asked
[ "$n" = 2 ] || fail "--text with a file name gave $n results"
n=$("${S[@]}" -k 2 a photo of a cat | wc -l) # words that name nothing stay text
[ "$n" = 2 ] || fail "plain words gave $n results"

# a file turned unreadable: its row goes, and the summary counts it
if [ "$(id -u)" = 0 ]; then
    cp "$TMP/p/coffee.png" "$TMP/p/gone.png" # root reads mode 000: make it broken instead
    "$CLIPSEARCH" index -q --model "$MODEL" "$TMP/p" || fail "index of gone.png"
    printf 'PNG?' >"$TMP/p/gone.png"
else
    cp "$TMP/p/coffee.png" "$TMP/p/gone.png"
    "$CLIPSEARCH" index -q --model "$MODEL" "$TMP/p" || fail "index of gone.png"
    chmod 000 "$TMP/p/gone.png"
    touch "$TMP/p/gone.png"
fi
out=$("$CLIPSEARCH" index --model "$MODEL" "$TMP/p" 2>"$TMP/err")
[ $? = 3 ] || fail "index with a broken file should exit 3"
contains "$out" "1 removed" "the row dropped for the broken file is counted"
contains "$(cat "$TMP/err")" "$TMP/p/gone.png" "the broken file is named"
out=$("$CLIPSEARCH" info)
contains "$out" "images:     4" "4 images left"
chmod 644 "$TMP/p/gone.png"

# the API takes the same strict numbers
start_serve --db "$CLIPSEARCH_DB" --model "$MODEL"
for q in "k=5x" "k=3.9" "k=%205" "offset=1e2" "k=0x5"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "${SERVE_URL}api/search?q=ball&$q")
    [ "$code" = 400 ] || fail "API $q: status $code, want 400"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "${SERVE_URL}api/search?q=ball&k=2")
[ "$code" = 200 ] || fail "API k=2: status $code"
done_test
