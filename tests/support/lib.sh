# tests/support/lib.sh - sourced by the CLI tests (tests/*/test_*.sh).
# Gives: $TMP (a fresh folder, removed at exit), $ORACLE (or skip), and
# fail/contains/need_oracle/need_curl/start_serve/mount_small_tmpfs/done_test. A test exits 1 on the first failure.
TMP=$(mktemp -d /tmp/cs-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TEST_NAME=$(basename "$0" .sh)

fail() {
    echo "FAIL: $TEST_NAME: $*" >&2
    exit 1
}

# contains HAYSTACK NEEDLE WHAT
contains() {
    case "$1" in
    *"$2"*) ;;
    *) fail "$3: expected to find '$2' in: $1" ;;
    esac
}

need_oracle() {
    if [ ! -d "${CS_ORACLE:-}" ]; then
        echo "SKIP: reference data not found (CS_ORACLE=${CS_ORACLE:-unset})"
        exit 77
    fi
    ORACLE=$CS_ORACLE
}

need_curl() {
    command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
}

# start_serve ARGS...: `clipsearch serve --port 0 ARGS` in the background
# (stdout in $TMP/out, stderr in $TMP/log, killed at exit); waits for the URL
# it prints. Sets $SERVE_PID and $SERVE_URL (with its trailing slash).
start_serve() {
    "$CLIPSEARCH" serve --port 0 "$@" >"$TMP/out" 2>"$TMP/log" &
    SERVE_PID=$!
    trap 'kill "$SERVE_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
    SERVE_URL=""
    for _ in $(seq 1 600); do
        SERVE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$TMP/out" 2>/dev/null | head -1)
        [ -n "$SERVE_URL" ] && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || fail "serve died: $(cat "$TMP/log")"
        sleep 0.2
    done
    fail "serve printed no URL: $(cat "$TMP/out" "$TMP/log")"
}

# mount_small_tmpfs SIZE: a tmpfs of SIZE (e.g. 640k) at $MNT, unmounted at
# exit, for the full-disk cases; where none can be mounted (not root, or not
# allowed) the test ends there, passed, and says why.
mount_small_tmpfs() {
    MNT=$TMP/mnt
    mkdir -p "$MNT"
    if ! mount -t tmpfs -o "size=$1" tmpfs "$MNT" 2>/dev/null; then
        echo "full-disk cases skipped: cannot mount a tmpfs here (not root, or not allowed)"
        done_test
    fi
    trap 'umount "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT
}

# fill_tmpfs_leaving KB: fills $MNT (with $MNT/filler) until KB kB are free.
fill_tmpfs_leaving() {
    local avail fill
    avail=$(df -k --output=avail "$MNT" | tail -1)
    fill=$((avail - $1))
    if [ $fill -gt 0 ]; then head -c "${fill}k" /dev/zero >"$MNT/filler" 2>/dev/null; fi
    return 0
}

done_test() {
    echo "$TEST_NAME: all checks passed"
    exit 0
}
