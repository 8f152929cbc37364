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
ctest --output-on-failure -j"$(nproc)" "$@"
