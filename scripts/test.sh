#!/usr/bin/env bash
# The test command (README, .ci/run): installs the Debian dependencies,
# builds everything with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs every test. Tests that need ../shared/oracle report "skipped" when it
# is absent. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --browser
build=${CS_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCS_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
rc=0
ctest --output-on-failure -j"$(nproc)" "$@" || rc=$?
# ctest shows why a test was skipped only with -V: each reason, once, here
awk '/^[0-9]+\/[0-9]+ Test: / { name = $3 }
     /^SKIP: / { printf "skipped %s: %s\n", name, substr($0, 7) }' Testing/Temporary/LastTest.log
exit $rc
