#!/usr/bin/env bash
# Broken files mixed into a folder are reported with their reasons and
# skipped, the good ones indexed, and the exit status is 3. Hidden files,
# excluded patterns and non-image files are left alone; a deleted file is
# dropped and a renamed one reuses its embedding.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
DB=$TMP/c.db
mkdir -p "$TMP/p/bad" "$TMP/p/.hidden" "$TMP/p/skipme"
for f in china.jpg coins.png chelsea.webp astronaut.gif; do cp "$ORACLE/images/$f" "$TMP/p/"; done
cp "$ORACLE"/bad/* "$TMP/p/bad/"
cp "$ORACLE/images/rocket.jpg" "$TMP/p/.hidden/"
cp "$ORACLE/images/rocket.jpg" "$TMP/p/skipme/"
cp "$ORACLE/images/flower.jpg" "$TMP/p/flower.tmp"
cp "$ORACLE/images/coffee.png" "$TMP/p/no_extension"
echo "notes" >"$TMP/p/readme.txt"
chmod -R u+w "$TMP/p"

"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" --exclude skipme --exclude '*.tmp' "$TMP/p" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 3 ] || fail "index with broken files exits $rc, want 3: $(cat "$TMP/err")"
err=$(cat "$TMP/err")
contains "$err" "skipped 6 files" "the broken files are counted"
for f in corrupt.jpg empty.png garbage.webp huge_dims.jpg text_named.jpg truncated.png; do
    contains "$err" "bad/$f:" "$f is listed with its reason"
done
[ ! -s "$TMP/out" ] || fail "--quiet prints nothing on stdout: $(cat "$TMP/out")"
n=$("$CLIPSEARCH" info --json --db "$DB" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
[ "$n" -eq 5 ] || fail "$n images indexed, want 5 (4 + the one without extension)"
sqlite3 "$DB" "select path from images" >"$TMP/paths"
grep -q no_extension "$TMP/paths" || fail "an image without extension is found by content"
grep -qE 'hidden|skipme|flower|readme' "$TMP/paths" && fail "hidden/excluded/non-image indexed"

# broken files stay reported on the next run; deleted and renamed files
rm "$TMP/p/coins.png"
mv "$TMP/p/china.jpg" "$TMP/p/china_renamed.jpg"
out=$("$CLIPSEARCH" index --model "$MODEL" --db "$DB" --exclude skipme --exclude '*.tmp' "$TMP/p" \
    2>"$TMP/err")
rc=$?
[ "$rc" -eq 3 ] || fail "second run exits $rc, want 3"
contains "$out" "0 embedded, 1 reused, 3 unchanged, 2 removed, 6 skipped" "incremental run summary"
# a file name that is not UTF-8 is indexed, and --json still writes valid JSON
mkdir -p "$TMP/latin1"
cp "$ORACLE/images/coins.png" "$TMP/latin1/$(printf 'caf\xe9.png')"
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/l.db" "$TMP/latin1" || fail "latin-1 name"
"$CLIPSEARCH" search --json --model "$MODEL" --db "$TMP/l.db" ball >"$TMP/l.json" ||
    fail "--json with a latin-1 name"
/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["results"]
assert len(r) == 1 and r[0]["path"].endswith("caf\ufffd.png"), r' "$TMP/l.json" ||
    fail "the JSON names the file"
done_test
