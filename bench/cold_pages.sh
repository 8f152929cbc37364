#!/usr/bin/env bash
# A cold `clipsearch search "a ball"` (a new process, page cache warm) on an
# existing catalogue, with its files in one or more page-cache states:
#   cached  as the page cache holds them now;
#   small   dropped from the page cache (POSIX_FADV_DONTNEED: they are
#           clean, no file changes) and read back in 64 KiB pieces with
#           random-access advice: 4-64 KiB folios, the state of a file
#           written in small pieces (a download, a copy) or read at random,
#           which every process maps 4 KiB at a time;
#   reread  dropped and read back by one search through clipsearch's own
#           maps, which ask for 2 MiB folios (cs_map_hint_huge): later
#           processes map them 2 MiB at a time. After a reboot or memory
#           pressure the first search leaves them so.
# The files: the model's weights, DB.vectors and DB.ann (DB itself, SQLite,
# is read a few pages a search). Each state: ROUNDS rounds of hyperfine
# (-N -w 2 -r 10) alternating this build and, if BASE=path/to/another/
# clipsearch is set, that one; then bench_cold_query three times (the
# steps). CPU model and load are printed.
#
#   [BASE=old/clipsearch] bench/cold_pages.sh DB MODEL_DIR [ROUNDS] [STATES]
#   (STATES: default "cached"; e.g. "small reread")
# Dropping a file from the page cache makes its next reader read it from
# disk once: use copies of a catalogue others are using.
# docs/performance.md ("Search at scale") has the figures and the command.
set -euo pipefail
cd "$(dirname "$0")/.."
db=$1
model=$2
rounds=${3:-3}
states=${4:-cached}
bins=("build-rel/clipsearch")
[ -n "${BASE:-}" ] && bins=("$BASE" "build-rel/clipsearch")
json=$(mktemp /tmp/cs-cold-pages-XXXXXX.json)
trap 'rm -f "$json"' EXIT
echo "# $(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # state round binary
    hyperfine -N -w 2 -r 10 --export-json "$json" \
        "env CLIPSEARCH_MODEL=$model $3 search --db $db 'a ball'" > /dev/null
    /usr/bin/python3 - "$json" "$1" "$2" "$3" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = [x * 1e3 for x in r["times"]]
print("%-7s round %s %-40s mean %6.1f ms  median %6.1f  min %6.1f  max %6.1f  user %5.1f  sys %5.1f" % (
    sys.argv[2], sys.argv[3], sys.argv[4], statistics.mean(t), statistics.median(t), min(t), max(t),
    r["user"] * 1e3, r["system"] * 1e3))
PY
}
files=("$model/model.safetensors" "$db.vectors" "$db.ann")
for state in $states; do
    case $state in
    cached) ;;
    small | reread)
        /usr/bin/python3 - "$state" "${files[@]}" <<'PY'
import os, sys
for p in sys.argv[2:]:
    if not os.path.exists(p):
        continue
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    if sys.argv[1] == "small":
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        size, off = os.fstat(fd).st_size, 0
        while off < size:
            os.pread(fd, 65536, off)
            off += 65536
    os.close(fd)
PY
        if [ "$state" = reread ]; then
            env CLIPSEARCH_MODEL="$model" "${bins[-1]}" search --db "$db" "a ball" > /dev/null
        fi
        ;;
    *) echo "unknown state $state" >&2; exit 2 ;;
    esac
    for r in $(seq "$rounds"); do
        for b in "${bins[@]}"; do run "$state" "$r" "$b"; done
    done
    for _ in 1 2 3; do build-rel/bench/bench_cold_query --model "$model" --db "$db" "a ball"; done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
