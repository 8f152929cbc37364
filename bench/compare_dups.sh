#!/usr/bin/env bash
# Duplicate groups on make_vectors.py output: ours (bench_dups) and FAISS
# (dups_faiss.py: IVFFlat + range_search, Debian's python3-faiss) on the
# same rows, threshold, list count and probes, one after the other, with
# the CPU and the load printed beside them.
#
# usage: bench/compare_dups.sh OUT [N] [THREADS]
#   OUT: the prefix given to ../shared/tools/make_vectors.py (OUT.base.f32,
#   OUT.dups.i64); N: rows used (default all); THREADS (default 2).
# Make the data once:  /usr/bin/python3 ../shared/tools/make_vectors.py --queries 10 OUT 1000000
set -eu
out=$1 n=${2:--1} threads=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
bench=${BENCH_DUPS:-$here/../build-rel/bench/bench_dups}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=$("$bench" "$out.base.f32" "$out.dups.i64" --n "$n" --threads "$threads" --threshold 0.97)
echo "ours:  $ours"
echo "load between: $(cut -d' ' -f1-3 /proc/loadavg)"
theirs=$(/usr/bin/python3 "$here/dups_faiss.py" "$out.base.f32" "$out.dups.i64" --n "$n" --threads "$threads" --threshold 0.97)
echo "faiss: $theirs"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("time (find + group): ours %.1f s, faiss %.1f s: faiss / ours = %.2fx" % (a["total_s"], b["total_s"], b["total_s"] / a["total_s"]))
print("recall of planted pairs: ours %.4f, faiss %.4f" % (a["recall"], b["recall"]))
PY
