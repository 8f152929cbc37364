#!/usr/bin/env bash
# File names holding control characters (line break, tab, ESC, C1 CSI):
# search and similar quote them in text, --tsv and --paths output (one name
# stays one line, no byte reaches the terminal as a control), -0 prints them
# as they are, and `montage` reads the quoted --tsv form back to the same
# files. Error messages quote them too.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
PY=/usr/bin/python3
export CLIPSEARCH_DB=$TMP/catalog.db
mkdir -p "$TMP/p"
NL=$'new\nline.jpg'
TAB=$'a\tb.png'
ESC=$'\e[31mred.jpg'
CSI=$'c1\xc2\x9b2J.jpg'
QUOTE='"quoted".jpg'
cp "$ORACLE/images/china.jpg" "$TMP/p/$NL"
cp "$ORACLE/images/chelsea.png" "$TMP/p/$TAB"
cp "$ORACLE/images/rocket.jpg" "$TMP/p/$ESC"
cp "$ORACLE/images/coffee.png" "$TMP/p/$CSI"
cp "$ORACLE/images/astronaut.png" "$TMP/p/$QUOTE"
cp "$ORACLE/images/coins.bmp" "$TMP/p/plain.bmp"
"$CLIPSEARCH" index -q --model "$MODEL" "$TMP/p" 2>"$TMP/err" || fail "index: $(cat "$TMP/err")"

no_controls() { # FILE WHAT: no control byte but the line ends (and TAB in tsv)
    $PY - "$1" "$2" <<'PY' || fail "$2: a control character was printed raw"
import sys
data = open(sys.argv[1], 'rb').read()
allowed = b'\n\t' if 'tsv' in sys.argv[2] else b'\n'
bad = [c for c in data if (c < 0x20 or c == 0x7f) and c not in allowed]
assert not bad and b'\xc2\x9b' not in data, (sys.argv[2], data)
PY
}

for fmt in "" --tsv --paths; do
    "$CLIPSEARCH" search $fmt -k 6 --model "$MODEL" ball >"$TMP/out" 2>"$TMP/err" ||
        fail "search $fmt: $(cat "$TMP/err")"
    no_controls "$TMP/out" "search $fmt"
    [ "$(wc -l <"$TMP/out")" = 6 ] || fail "search $fmt: want 6 lines: $(cat "$TMP/out")"
done
"$CLIPSEARCH" search --tsv -k 6 --model "$MODEL" ball >"$TMP/r.tsv"
T=$(cat "$TMP/r.tsv")
contains "$T" "\"$TMP/p/new\\nline.jpg\"" "a line break is quoted as \\n"
contains "$T" "\"$TMP/p/a\\tb.png\"" "a tab is quoted as \\t"
contains "$T" "\"$TMP/p/\\x1b[31mred.jpg\"" "ESC is quoted as \\x1b"
contains "$T" "\"$TMP/p/c1\\xc2\\x9b2J.jpg\"" "C1 CSI is quoted"
# a full path starts with '/': a quote inside it needs nothing
contains "$(cat "$TMP/r.tsv")" "$TMP/p/$QUOTE" "a quote inside a name is left as is"
contains "$(cat "$TMP/r.tsv")" "$TMP/p/plain.bmp" "a plain name is printed as is"

# -0: NUL-terminated, names unchanged (what xargs -0 reads)
"$CLIPSEARCH" search --paths -0 -k 6 --model "$MODEL" ball >"$TMP/r0" || fail "--paths -0"
$PY - "$TMP/r0" "$TMP/p" <<'PY' || fail "--paths -0 output"
import os, sys
recs = open(sys.argv[1], 'rb').read().split(b'\0')
assert recs[-1] == b'', recs
names = sorted(os.path.basename(r) for r in recs[:-1])
want = sorted(os.listdir(os.fsencode(sys.argv[2])))
assert names == want, (names, want)
PY
n=$("$CLIPSEARCH" search -0 -k 6 --model "$MODEL" ball | xargs -0 -n1 stat -c %s | wc -l)
[ "$n" = 6 ] || fail "xargs -0 stat found $n files, want 6"
"$CLIPSEARCH" search -0 --json --model "$MODEL" ball >/dev/null 2>&1 && fail "-0 --json accepted"

# montage reads the quoted form back (a file it cannot open would fail it)
"$CLIPSEARCH" montage "$TMP/m.jpg" --tsv "$TMP/r.tsv" 2>"$TMP/err" ||
    fail "montage of quoted names: $(cat "$TMP/err")"
"$CLIPSEARCH" search --tsv -k 6 --model "$MODEL" ball | "$CLIPSEARCH" montage "$TMP/m2.jpg" ||
    fail "search --tsv | montage"
"$CLIPSEARCH" search --tsv -0 -k 6 --model "$MODEL" ball |
    "$CLIPSEARCH" montage "$TMP/m3.jpg" -0 2>"$TMP/err" || fail "tsv -0 | montage -0: $(cat "$TMP/err")"
printf '0.5\t"unterminated\n' | "$CLIPSEARCH" montage "$TMP/m4.jpg" 2>/dev/null &&
    fail "montage took a malformed quoted name"

# similar and error messages: no raw control bytes either
"$CLIPSEARCH" similar --tsv "$TMP/p/$NL" >"$TMP/out" 2>"$TMP/err" || fail "similar: $(cat "$TMP/err")"
no_controls "$TMP/out" "similar --tsv"
"$CLIPSEARCH" similar "$TMP/p/${ESC}x" >/dev/null 2>"$TMP/err"
no_controls "$TMP/err" "an error naming a file"
contains "$(cat "$TMP/err")" '\x1b[31mred.jpgx' "the error names the file, escaped"
done_test
