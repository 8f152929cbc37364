#!/usr/bin/env bash
# The web page in a real browser: Debian's chromium, headless, driven by
# playwright-core (tests/browser/e2e.js) against `clipsearch serve` over the
# oracle's images with the tiny model. It types a query, pages, uses the
# keyboard, uploads / drops / pastes an image, clicks "Similar", and saves a
# screenshot to $CS_BUILD_DIR/browser-screenshot.png. Skipped when node,
# playwright-core (scripts/install-deps.sh --browser) or chromium is missing.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
here="$CS_SOURCE_DIR/tests/browser"
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIP: /usr/bin/chromium not installed"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] ||
    { echo "SKIP: playwright-core not installed (scripts/install-deps.sh --browser)"; exit 77; }

start_serve --db "$TMP/c.db" --model "$ORACLE/models/tiny" "$ORACLE/images"
pid=$SERVE_PID url=$SERVE_URL

shot="$CS_BUILD_DIR/browser-screenshot.png"
(cd "$here" && timeout 300 node e2e.js "${url%/}" "$ORACLE/images/chelsea.png" "$shot") ||
    fail "the browser test failed (server log: $(tail -5 "$TMP/log"))"
kill -INT "$pid"
wait "$pid" || fail "serve did not stop cleanly"
done_test
