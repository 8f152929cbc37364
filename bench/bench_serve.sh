#!/usr/bin/env bash
# Throughput and latency of `clipsearch serve` under concurrent load, with
# wrk (Debian): /healthz, text searches (one repeated query, which the
# server's memo of query embeddings answers, and a new query each time, which
# runs the model), a similar search, a cached thumbnail and an image upload,
# each for a fixed time with N connections.
# Prints wrk's own report for each; any non-2xx answer or socket error is
# flagged. Not a test: numbers depend on the machine.
#
#   bench/bench_serve.sh [-t THREADS] [-c CONNECTIONS] [-d SECONDS] [BUILD_DIR] [MODEL] [IMAGES]
#
# Defaults: -t2 -c16 -d10, build-rel, ../shared/oracle/models/tiny,
# ../shared/oracle/images (a Release build: cmake -B build-rel -DCMAKE_BUILD_TYPE=Release).
set -euo pipefail
cd "$(dirname "$0")/.."
t=2 c=16 d=10
while getopts "t:c:d:" o; do
    case $o in t) t=$OPTARG ;; c) c=$OPTARG ;; d) d=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
build=${1:-build-rel}
model=${2:-../shared/oracle/models/tiny}
images=${3:-../shared/oracle/images}
command -v wrk >/dev/null || { echo "wrk is not installed (apt install wrk)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cs-bench-serve-XXXXXX)
"$build/clipsearch" serve --db "$tmp/c.db" --model "$model" --port 0 "$images" \
    >"$tmp/out" 2>"$tmp/log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 3000); do
    grep -q 'http://' "$tmp/out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
    sleep 0.2
done
base=$(grep -o 'http://[^ ]*' "$tmp/out" | head -1)
base=${base%/}
echo "# $(head -1 "$tmp/out")"
echo "# model $model, wrk -t$t -c$c -d${d}s, $(nproc) CPUs"
id=$(curl -s "$base/api/search?q=photo&k=1" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
curl -s -o /dev/null "$base/api/thumb/$id" # warm the thumbnail cache

upload=$(ls "$images"/*.jpg | head -1)
cat >"$tmp/post.lua" <<LUA
local f = assert(io.open("$upload", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "image/jpeg"
f:close()
LUA

run() { # NAME URL [wrk args...]
    local name=$1 url=$2
    shift 2
    echo
    echo "== $name: $url"
    wrk -t"$t" -c"$c" -d"${d}s" --latency "$@" "$url" | tee "$tmp/wrk" |
        grep -E 'Requests/sec|Transfer/sec|Latency  |50%|90%|99%|requests in|Non-2xx|Socket errors'
    if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk"; then echo "!! errors above"; fi
}
cat >"$tmp/distinct.lua" <<'LUA'
-- a new text every request, in every wrk thread: the model runs each time
local threads, n = 0, 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function(args) tid = wrk.thread:get("tid") end
request = function()
    n = n + 1
    return wrk.format("GET", "/api/search?k=20&q=a%20photo%20" .. tid .. "%20number%20" .. n)
end
LUA
run healthz "$base/healthz"
run "text search, one repeated query (memo hits)" "$base/api/search?q=a%20photo%20of%20a%20cat&k=20"
run "text search, a new query each time (model runs)" "$base" -s "$tmp/distinct.lua" --timeout 30s
run "similar" "$base/api/similar/$id?k=20"
run "thumbnail (cached)" "$base/api/thumb/$id"
run "image upload ($(basename "$upload")), same bytes (memo hits)" "$base/api/search?k=20" -s "$tmp/post.lua"
