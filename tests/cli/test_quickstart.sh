#!/usr/bin/env bash
# The README's main command, scripts/quickstart.sh, on a folder that also
# holds files that are not images (a README.txt, a PDF-looking file, an
# empty file): it indexes the images, runs a text query and an image query
# from an indexed file, and exits 0. Run with --no-setup (no apt, no build):
# it uses this build's program. A second run for another model needs
# --reset, and passes with it.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
mkdir -p "$TMP/imgs/sub"
cp "$ORACLE/images/chelsea.png" "$ORACLE/images/coffee.png" "$TMP/imgs/"
cp "$ORACLE/images/rocket.jpg" "$TMP/imgs/sub/"
echo "holiday photos" >"$TMP/imgs/README.txt" # sorts before every image
printf '%%PDF-1.4\n' >"$TMP/imgs/0notes.pdf"
: >"$TMP/imgs/00empty"
export CLIPSEARCH
QS="$CS_SOURCE_DIR/scripts/quickstart.sh"

out=$("$QS" --no-setup --model "$ORACLE/models/tiny" --db "$TMP/cat.db" "$TMP/imgs" "a cat" 2>&1) ||
    fail "quickstart failed: $out"
contains "$out" "== image query: the images most like $TMP/imgs/" "the image query names an indexed image"
n=$(printf '%s\n' "$out" | grep -c "$TMP/imgs/.*\.\(png\|jpg\)") || true
[ "$n" -ge 4 ] || fail "too few results listed: $out"
case "$out" in *README.txt*|*0notes.pdf*|*00empty*) fail "a non-image became a result: $out" ;; esac

# the catalogue now belongs to the tiny model: another model needs --reset
out=$("$QS" --no-setup --model "$ORACLE/models/tiny-p16" --db "$TMP/cat.db" "$TMP/imgs" 2>&1) &&
    fail "another model used the catalogue without --reset: $out"
out=$("$QS" --no-setup --model "$ORACLE/models/tiny-p16" --db "$TMP/cat.db" --reset "$TMP/imgs" 2>&1) ||
    fail "quickstart --reset failed: $out"
done_test
