#!/usr/bin/env bash
# `clipsearch embed`: command-line inputs and JSON Lines on stdin, checked
# against the float64 reference embeddings of the oracle (cosine >= 0.99999),
# errors on their own line, exit statuses, CLIPSEARCH_MODEL.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
M=$ORACLE/models/tiny
IMG=$ORACLE/images

"$CLIPSEARCH" embed --model "$M" --raw --text "a photo of a cat" --image "$IMG/chelsea.png" \
    --text "rocket launch" --image "$ORACLE/bad/corrupt.jpg" --image "$IMG/rocket.jpg" >"$TMP/out"
rc=$?
[ "$rc" -eq 3 ] || fail "a broken image should give exit status 3, got $rc"
[ "$(wc -l <"$TMP/out")" -eq 5 ] || fail "expected 5 lines: $(cat "$TMP/out")"

# cosine against the reference, in the order given
$PY - "$TMP/out" "$ORACLE/expected-tiny.json" <<'PYEOF' || fail "embeddings differ from the reference"
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ref = json.load(open(sys.argv[2]))
texts = {t["text"]: t["embedding"] for t in ref["texts"]}
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
want = [("text", "a photo of a cat"), ("image", "chelsea.png"), ("text", "rocket launch"),
        ("image", "corrupt.jpg"), ("image", "rocket.jpg")]
for line, (kind, name) in zip(lines, want):
    assert kind in line and line[kind].endswith(name), (line.keys(), name)
    if name == "corrupt.jpg":
        assert "error" in line and "corrupt.jpg" in line["error"] and "embedding" not in line
        continue
    r = texts[name] if kind == "text" else ref["images"][name]["embedding"]
    c = cos(line["embedding"], r)
    assert c >= 0.99999, (name, c)
    n = math.sqrt(sum(x * x for x in line["embedding"])) / math.sqrt(sum(x * x for x in r))
    assert abs(n - 1) < 1e-4, (name, n)
PYEOF

# normalised by default; stdin JSON Lines answered in order, errors in place
printf '{"text": "ball"}\n{"image": "%s"}\nnot json\n{"image": "/nonexistent.jpg"}\n{"text": "animal"}\n' \
    "$IMG/coffee.png" | CLIPSEARCH_MODEL="$M" "$CLIPSEARCH" embed >"$TMP/lines"
rc=$?
[ "$rc" -eq 3 ] || fail "stdin with bad requests should exit 3, got $rc"
$PY - "$TMP/lines" "$ORACLE/expected-tiny.json" <<'PYEOF' || fail "stdin answers are wrong"
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ref = json.load(open(sys.argv[2]))
texts = {t["text"]: t["embedding"] for t in ref["texts"]}
assert len(lines) == 5, lines
def unit(v):
    n = math.sqrt(sum(x * x for x in v)); return [x / n for x in v]
def check(e, r):
    assert abs(sum(x * x for x in e) - 1) < 1e-5
    assert sum(x * y for x, y in zip(e, unit(r))) >= 0.99999
assert lines[0]["text"] == "ball"; check(lines[0]["embedding"], texts["ball"])
check(lines[1]["embedding"], ref["images"]["coffee.png"]["embedding"])
assert "error" in lines[2] and "line 3" in lines[2]["error"]
assert lines[3]["image"] == "/nonexistent.jpg" and "nonexistent.jpg" in lines[3]["error"]
assert lines[4]["text"] == "animal"; check(lines[4]["embedding"], texts["animal"])
PYEOF

# a text that is not UTF-8 gets its error on its own line; the others go on
"$CLIPSEARCH" embed --model "$M" --text ok --text $'\xff\xfe' --text fine >"$TMP/utf8"; rc=$?
[ "$rc" -eq 3 ] || fail "invalid UTF-8 text should give exit status 3, got $rc"
$PY - "$TMP/utf8" <<'PYEOF' || fail "invalid UTF-8 text not reported in place: $(cat "$TMP/utf8")"
import json, sys
l = [json.loads(x) for x in open(sys.argv[1])]
assert len(l) == 3 and "embedding" in l[0] and "embedding" in l[2]
assert l[1]["text"] == "\ufffd\ufffd" and "UTF-8" in l[1]["error"]
PYEOF

# all good: exit 0
"$CLIPSEARCH" embed --model "$M" --text ok >/dev/null || fail "a plain text fails"
# usage errors
"$CLIPSEARCH" embed --model "$M" --bogus 2>/dev/null; rc=$?
[ "$rc" -eq 2 ] || fail "bad option exits $rc, want 2"
"$CLIPSEARCH" embed --model "$TMP/nothing-here" --text x 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "missing model exits $rc, want 1"
contains "$(cat "$TMP/err")" "nothing-here" "the missing model is named"
done_test
