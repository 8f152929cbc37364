#!/bin/bash
# bench/compare_search.sh - a text query from a cold process on a 100k-image
# catalogue: `clipsearch search "a ball"` timed whole by hyperfine (page
# cache warm, as after any earlier use), the steps inside it
# (bench_cold_query), and, for scale, the bare imports the Python stack pays
# before it can even load a model (torch + faiss) - a lower bound of its
# cold query, not its full cost.
#
#   bench/compare_search.sh MODEL_DIR [N_IMAGES]
#
# The catalogue (random unit vectors under fake paths, bench_catalog) is
# written to $WORK (default /tmp/clipsearch-bench) at the first run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: compare_search.sh MODEL_DIR [N_IMAGES]}
n=${2:-100000}
work=${WORK:-/tmp/clipsearch-bench}
build=${BUILD:-$here/../build-rel}
cs=${CLIPSEARCH:-$build/clipsearch}
db=$work/catalog-$n.db
mkdir -p "$work"
if [ ! -s "$db" ]; then
    "$build/bench/bench_catalog" --model "$model" --db "$db" --n "$n" >/dev/null
fi
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# catalogue: $n images ($(du -shL "$db" | cut -f1) + vectors $(du -shL "$db.vectors" | cut -f1)), model $model"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$work/search.json" \
    "$cs search --model $model --db $db \"a ball\"" \
    "/usr/bin/python3 -c \"import torch, faiss\"" >/dev/null 2>&1
"$build/bench/bench_cold_query" --model "$model" --db "$db" "a ball" >"$work/steps.json"
/usr/bin/python3 - "$work/search.json" "$work/steps.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ours, py = r[0], r[1]
ms = lambda x: x * 1e3
print("clipsearch search \"a ball\" (cold process): mean %.1f ms, median %.1f ms, min %.1f ms (+- %.1f, %d runs)"
      % (ms(ours["mean"]), ms(ours["median"]), ms(ours["min"]), ms(ours["stddev"]), len(ours["times"])))
print("python3 -c 'import torch, faiss' alone:    mean %.1f ms  -> ratio %.1fx before any model is loaded"
      % (ms(py["mean"]), py["mean"] / ours["mean"]))
print("steps (ms):", json.dumps(json.load(open(sys.argv[2]))))
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
