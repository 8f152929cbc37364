#!/usr/bin/env bash
# `clipsearch tokenize`: ids of TEXT arguments, JSON Lines on stdin (every
# string of the oracle's tokens.json, NUL and newlines included), errors.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not installed"; exit 77; }
MODEL=$ORACLE/tokenizer

out=$("$CLIPSEARCH" tokenize --model "$MODEL" "a photo of a cat" "Hello, World!") ||
    fail "tokenize exits non-zero"
[ "$out" = "49406 320 1125 539 320 2368 49407
49406 3306 267 1002 256 49407" ] || fail "ids of two texts: $out"

# The model from the environment; --context truncates.
out=$(CLIPSEARCH_MODEL=$MODEL "$CLIPSEARCH" tokenize --context 4 "a photo of a cat") ||
    fail "CLIPSEARCH_MODEL not used"
[ "$out" = "49406 320 1125 49407" ] || fail "--context 4 gave: $out"

# JSON Lines: every oracle string in, one JSON array per line out.
"$PY" - "$ORACLE/tokens.json" "$TMP" <<'EOF'
import json, sys
cases = json.load(open(sys.argv[1]))
with open(sys.argv[2] + "/in.jsonl", "w") as f:
    f.writelines(json.dumps(c["text"]) + "\n" for c in cases)
with open(sys.argv[2] + "/want.jsonl", "w") as f:
    f.writelines(json.dumps(c["ids"], separators=(",", ":")) + "\n" for c in cases)
EOF
"$CLIPSEARCH" tokenize --model "$MODEL" <"$TMP/in.jsonl" >"$TMP/got.jsonl" ||
    fail "JSON Lines mode exits non-zero"
[ "$(wc -l <"$TMP/want.jsonl")" -ge 100 ] || fail "too few oracle strings"
cmp -s "$TMP/want.jsonl" "$TMP/got.jsonl" ||
    fail "JSON Lines ids differ: $(diff "$TMP/want.jsonl" "$TMP/got.jsonl" | head -5)"

# The vocab.json + merges.txt fallback gives the same.
mkdir "$TMP/vm" && ln -s "$MODEL/vocab.json" "$MODEL/merges.txt" "$TMP/vm/"
"$CLIPSEARCH" tokenize --model "$TMP/vm" <"$TMP/in.jsonl" >"$TMP/got2.jsonl" ||
    fail "vocab.json + merges.txt fails"
cmp -s "$TMP/want.jsonl" "$TMP/got2.jsonl" || fail "vocab.json + merges.txt ids differ"

# Errors: a line that is not a JSON string, a missing model, no model.
printf '"ball"\n42\n' | "$CLIPSEARCH" tokenize --model "$MODEL" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "bad JSON line exits $rc, want 1"
contains "$(cat "$TMP/err")" "stdin line 2" "bad line is named"
[ "$(cat "$TMP/out")" = "[49406,1069,49407]" ] || fail "lines before the bad one: $(cat "$TMP/out")"

mkdir -p "$TMP/nowhere" # a folder without tokenizer files
"$CLIPSEARCH" tokenize --model "$TMP/nowhere" x 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "missing model exits $rc, want 1"
contains "$(cat "$TMP/err")" "nowhere/vocab.json" "missing file is named"

mkdir "$TMP/bad" && printf '{"model": ' >"$TMP/bad/tokenizer.json"
"$CLIPSEARCH" tokenize --model "$TMP/bad" x 2>"$TMP/err" && fail "malformed tokenizer.json accepted"
contains "$(cat "$TMP/err")" "bad/tokenizer.json" "malformed file is named"

# No --model: the default model, which empty caches do not have.
env -u CLIPSEARCH_MODEL -u HF_HOME -u HF_HUB_CACHE HOME="$TMP" XDG_CACHE_HOME="$TMP/cache" \
    "$CLIPSEARCH" tokenize x 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "no model exits $rc, want 1"
contains "$(cat "$TMP/err")" "models download" "no model says how to get one"
contains "$(cat "$TMP/err")" "--model" "no model says how to give one"

"$CLIPSEARCH" tokenize --model "$MODEL" "$(printf 'bad\xff')" 2>"$TMP/err" &&
    fail "invalid UTF-8 accepted"
contains "$(cat "$TMP/err")" "invalid UTF-8 at byte 3" "invalid UTF-8 offset"
done_test
