#!/usr/bin/env bash
# Recall@10 against time, one query at a time on one thread: our search
# through the catalogue's approximate index (bench_ann) and Debian's FAISS
# (ann_faiss.py: IVF-Flat, IVF-SQ8, IVF-SQ8 re-ranked, HNSW) on the same
# make_vectors.py files, in one run, with the CPU and the load printed
# beside them; then, for each FAISS setting, our cheapest setting of at
# least its recall and the ratio of CPU time per query (the steadier figure
# on a shared machine; wall medians are printed too).
#
# usage: bench/compare_ann.sh OUT DB [NPROBES] [EFS] [KINDS]
#   OUT: the make_vectors.py prefix (OUT.base.f32, OUT.query.f32, OUT.gt.i32)
#   DB: a catalogue of those rows imported in order into an empty database
#   (docs/performance.md has the commands), with its DB.ann;
#   NPROBES (default 32,48,64,100,128), EFS (default 64,128,256,512) and
#   KINDS (default flat,sq8,sq8-refine,hnsw) go to both sides;
#   FAISS_CACHE=DIR keeps FAISS's built indexes between runs;
#   FAISS_OWN=1 lets FAISS train its own lists instead of using DB.ann's.
set -eu
out=$1 db=$2 probes=${3:-32,48,64,100,128} efs=${4:-64,128,256,512}
kinds=${5:-flat,sq8,sq8-refine,hnsw}
here=$(cd "$(dirname "$0")" && pwd)
bench=${BENCH_ANN:-$here/../build-rel/bench/bench_ann}
[ -f "$out.query.npy" ] || /usr/bin/python3 -c "import numpy as np, sys; \
np.save(sys.argv[1] + '.query.npy', np.fromfile(sys.argv[1] + '.query.f32', np.float32).reshape(-1, 512))" "$out"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
    "$(grep -o -m1 -w 'avx512_vnni' /proc/cpuinfo || echo 'no avx512_vnni')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=$("$bench" --db "$db" --queries "$out.query.npy" --gt "$out.gt.i32" --nprobe "$probes" \
    --cpu native,avx2 --exact 0)
echo "$ours"
echo "load between: $(cut -d' ' -f1-3 /proc/loadavg)"
ann=(--ann "$db.ann")
[ "${FAISS_OWN:-0}" = 1 ] && ann=()
theirs=$(/usr/bin/python3 "$here/ann_faiss.py" "$out.base.f32" "$out.query.f32" "$out.gt.i32" \
    "${ann[@]}" --nprobe "$probes" --ef "$efs" --kinds "$kinds" \
    ${FAISS_CACHE:+--cache "$FAISS_CACHE"})
echo "$theirs"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
ours = [o for o in ours if o["kernel"] != "avx2"]  # ours as it runs here
theirs = [json.loads(l) for l in sys.argv[2].splitlines() if '"search"' in l]
print("at equal recall (ours: the cheapest setting of at least FAISS's recall; CPU ms per query):")
for t in theirs:
    ok = [o for o in ours if o["recall"] >= t["recall"]]
    setting = "nprobe %d" % t["nprobe"] if "nprobe" in t else "ef %d" % t["ef"]
    if not ok:
        print("  %-32s %-10s recall %.4f %6.3f ms: ours never reaches it" % (t["search"], setting, t["recall"], t["cpu_median_ms"]))
        continue
    o = min(ok, key=lambda o: o["core_cpu_median_ms"])
    print("  %-32s %-10s recall %.4f %6.3f ms | ours nprobe %3d recall %.4f %6.3f ms | faiss / ours %.2fx"
          % (t["search"], setting, t["recall"], t["cpu_median_ms"], o["nprobe"], o["recall"],
             o["core_cpu_median_ms"], t["cpu_median_ms"] / o["core_cpu_median_ms"]))
PY
