#!/usr/bin/env bash
# Nothing to work on, everywhere: an empty folder, folders of empty files, an
# empty catalogue and empty input, through every command (the sanitizer
# build aborts on qsort(NULL, 0, ...), so each must take the empty case).
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
export CLIPSEARCH_DB=$TMP/catalog.db
mkdir -p "$TMP/empty" "$TMP/nested/a/b" "$TMP/blank"
: >"$TMP/blank/a.jpg"
: >"$TMP/blank/b.png"
: >"$TMP/blank/notes.txt"

out=$("$CLIPSEARCH" index -q --model "$MODEL" "$TMP/empty" 2>"$TMP/err") ||
    fail "index of an empty folder exits $?: $(cat "$TMP/err")"
out=$("$CLIPSEARCH" index --model "$MODEL" "$TMP/nested" 2>"$TMP/err") ||
    fail "index of empty nested folders exits $?: $(cat "$TMP/err")"
contains "$out" "0 images: 0 embedded" "empty nested folders"

# the empty catalogue
out=$("$CLIPSEARCH" search --model "$MODEL" ball 2>"$TMP/err") ||
    fail "search of an empty catalogue exits $?: $(cat "$TMP/err")"
[ -z "$out" ] || fail "search of an empty catalogue printed: $out"
out=$("$CLIPSEARCH" search --json --model "$MODEL" ball 2>"$TMP/err") || fail "search --json"
contains "$out" '"results": []' "empty results as JSON"
"$CLIPSEARCH" similar "$TMP/empty/x.jpg" >/dev/null 2>"$TMP/err"
[ $? = 1 ] || fail "similar of an image not indexed should exit 1"
contains "$(cat "$TMP/err")" "not in the database" "similar in an empty catalogue"
out=$("$CLIPSEARCH" info 2>"$TMP/err") || fail "info exits $?: $(cat "$TMP/err")"
contains "$out" "images:     0" "info of an empty catalogue"
out=$("$CLIPSEARCH" export --faiss "$TMP/out.faiss" 2>"$TMP/err") ||
    fail "export of an empty catalogue exits $?: $(cat "$TMP/err")"
[ -f "$TMP/out.faiss" ] && [ -f "$TMP/out.faiss.paths" ] || fail "export wrote no files"
/usr/bin/python3 -c 'import faiss' 2>/dev/null &&
    { /usr/bin/python3 -c 'import faiss,sys; assert faiss.read_index(sys.argv[1]).ntotal == 0' \
        "$TMP/out.faiss" || fail "Python cannot read the empty export"; }

# montage with no results: refused by name, nothing written (a blank sheet
# would hide that the search found nothing)
printf '' | "$CLIPSEARCH" montage "$TMP/m.jpg" --label nothing 2>"$TMP/err" &&
    fail "montage of empty input succeeded"
contains "$(cat "$TMP/err")" "no results in standard input" "montage of empty input"
[ ! -e "$TMP/m.jpg" ] || fail "montage of empty input wrote a sheet"
printf '\n\n' | "$CLIPSEARCH" montage "$TMP/m2.jpg" 2>"$TMP/err" &&
    fail "montage of blank lines succeeded"
[ ! -e "$TMP/m2.jpg" ] || fail "montage of blank lines wrote a sheet"
"$CLIPSEARCH" search --model "$MODEL" --montage "$TMP/m3.jpg" ball >/dev/null 2>"$TMP/err" &&
    fail "search --montage of an empty catalogue succeeded"
contains "$(cat "$TMP/err")" "no results to draw" "search --montage with no results"

# empty files: reported by name, each under its own name, nothing stored
"$CLIPSEARCH" index --model "$MODEL" "$TMP/blank" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 3 ] || fail "index of empty image files exits $rc, want 3: $(cat "$TMP/err")"
contains "$(cat "$TMP/err")" "$TMP/blank/a.jpg: empty file" "a.jpg reported"
contains "$(cat "$TMP/err")" "$TMP/blank/b.png: empty file" "b.png reported under its own name"
contains "$(cat "$TMP/out")" "2 images: 0 embedded" "empty files are not embedded"

# the server starts on an empty catalogue and answers
start_serve --db "$CLIPSEARCH_DB" --model "$MODEL"
body=$(curl -s "${SERVE_URL}api/search?q=ball") || fail "serve: search"
contains "$body" '"results":[]' "serve: no results from an empty catalogue"
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null

# an empty query file and a zero-byte image query
: >"$TMP/q.jpg"
"$CLIPSEARCH" search --model "$MODEL" "$TMP/q.jpg" >/dev/null 2>"$TMP/err" &&
    fail "a zero-byte image query succeeded"
contains "$(cat "$TMP/err")" "$TMP/q.jpg" "zero-byte query named"
done_test
