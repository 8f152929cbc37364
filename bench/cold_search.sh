#!/usr/bin/env bash
# Cold `clipsearch search "a ball"` on a 100k-image catalogue (the target: under
# 100 ms wall, page cache warm). Builds the catalogue with bench_catalog (random
# unit vectors under the model's identity), then times the command with
# hyperfine (a fresh process each run) and prints where the time goes
# (bench_cold_query, with the warm-up the command does and --plain without).
# The first (warm-up) run writes .tokenizer.json.cscache beside the model's
# tokenizer.json if the folder is writable: the timed runs read it, as every
# search after the first does.
#
#   bench/cold_search.sh [MODEL_DIR] [N]     (defaults: /work/models/vit-b-32, 100000)
# Needs a Release build in build-rel/ (cmake -B build-rel -DCMAKE_BUILD_TYPE=Release).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-/work/models/vit-b-32}
n=${2:-100000}
work=$(mktemp -d /tmp/cs-cold-XXXXXX)
trap 'rm -rf "$work"' EXIT
db=$work/catalog.db
build-rel/bench/bench_catalog --model "$model" --db "$db" --n "$n"
cmd="build-rel/clipsearch search --model $model --db $db 'a ball'"
hyperfine -N -w 3 -r 30 "$cmd" --export-json "$work/hf.json"
/usr/bin/python3 - "$work/hf.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(r["times"])
print(json.dumps({"cold_search_min_ms": round(t[0] * 1e3, 1),
                  "cold_search_median_ms": round(statistics.median(t) * 1e3, 1),
                  "cpu_user_ms": round(r["user"] * 1e3, 1),
                  "cpu_system_ms": round(r["system"] * 1e3, 1)}))
PY
for _ in 1 2 3; do
    build-rel/bench/bench_cold_query --model "$model" --db "$db" "a ball"
    build-rel/bench/bench_cold_query --model "$model" --db "$db" --plain "a ball"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
