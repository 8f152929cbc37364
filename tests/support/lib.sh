# tests/support/lib.sh - sourced by the CLI tests (tests/*/test_*.sh).
# Gives: $TMP (a fresh folder, removed at exit), $ORACLE (or skip), and
# fail/contains/need_oracle/done_test. A test exits 1 on the first failure.
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

done_test() {
    echo "$TEST_NAME: all checks passed"
    exit 0
}
