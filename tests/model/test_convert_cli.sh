#!/usr/bin/env bash
# `clipsearch convert`: writes model.safetensors once, refuses folders
# without a checkpoint, and takes the folder from CLIPSEARCH_MODEL.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle

mkdir "$TMP/m"
cp "$ORACLE/models/tiny-bin/config.json" "$ORACLE/models/tiny-bin/pytorch_model.bin" "$TMP/m/"
out=$("$CLIPSEARCH" convert --model "$TMP/m") || fail "convert exits non-zero"
contains "$out" "model.safetensors is ready" "convert reports success"
[ -s "$TMP/m/model.safetensors" ] || fail "no model.safetensors written"
ls "$TMP/m" | grep -q tmp && fail "a temporary file was left behind"
cmp -s "$TMP/m/model.safetensors" <(cat "$TMP/m/model.safetensors") || fail "unreadable output"

# from the environment, and idempotent
before=$(stat -c %i "$TMP/m/model.safetensors")
CLIPSEARCH_MODEL="$TMP/m" "$CLIPSEARCH" convert >/dev/null || fail "convert via CLIPSEARCH_MODEL fails"
[ "$(stat -c %i "$TMP/m/model.safetensors")" = "$before" ] || fail "second convert rewrote the file"

# a folder without weights
mkdir "$TMP/empty"
cp "$ORACLE/models/tiny-bin/config.json" "$TMP/empty/"
"$CLIPSEARCH" convert --model "$TMP/empty" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "convert without weights exits $rc, want 1"
contains "$(cat "$TMP/err")" "pytorch_model.bin" "the missing file is named"

"$CLIPSEARCH" convert --bogus 2>/dev/null; rc=$?
[ "$rc" -eq 2 ] || fail "bad option exits $rc, want 2"
done_test
