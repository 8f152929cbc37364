#!/usr/bin/env bash
# The program's front door: help, version, unknown commands and exit codes.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"

out=$("$CLIPSEARCH" help) || fail "help exits non-zero"
contains "$out" "usage: clipsearch COMMAND" "help shows usage"
out=$("$CLIPSEARCH" --version) || fail "--version exits non-zero"
contains "$out" "clipsearch " "--version names the program"

"$CLIPSEARCH" frobnicate 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] || fail "unknown command exits $rc, want 2"
contains "$(cat "$TMP/err")" "unknown command 'frobnicate'" "unknown command is named"
! grep -q "did you mean" "$TMP/err" || fail "a far-off name gets a suggestion"
# a mistyped command gets the one it was close to
for typo in serach:search indx:index simlar:similar expor:export "modles:models" "inf:info"; do
    "$CLIPSEARCH" "${typo%%:*}" 2>"$TMP/err"; rc=$?
    [ "$rc" -eq 2 ] || fail "${typo%%:*} exits $rc, want 2"
    contains "$(cat "$TMP/err")" "did you mean \`clipsearch ${typo##*:}\`" "suggestion for ${typo%%:*}"
done

"$CLIPSEARCH" 2>/dev/null; rc=$?
[ "$rc" -eq 2 ] || fail "no command exits $rc, want 2"
done_test
