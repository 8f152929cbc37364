#!/bin/bash
# bench/mpi_speedup.sh - `clipsearch index` as an MPI job on this host: N
# ranks of one thread each against one process of one thread (the speed-up),
# and one rank under mpirun against the plain program (the overhead of the
# MPI path), arms alternated round by round, each on a fresh catalogue. Then
# the per-row costs a cluster run is made of (rank 0's SQLite write, the
# bytes a rank sends, reading and hashing a file, the model), from `index -v`
# of the plain run, and a model of the speed-up at 16 and 64 hosts.
#
#   bench/mpi_speedup.sh MODEL_DIR [N_FILES] [ROUNDS] [RANKS]
#
# The JPEGs (N of 1024-1328 x 768-996, made with Pillow from
# ../shared/oracle/images, distinct bytes, sizes differing) go to $WORK
# (default /tmp/clipsearch-bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: mpi_speedup.sh MODEL_DIR [N_FILES] [ROUNDS] [RANKS]}
n=${2:-120}
rounds=${3:-3}
ranks=${4:-2}
work=${WORK:-/tmp/clipsearch-bench}
oracle=${CS_ORACLE:-$here/../../shared/oracle}
cs=${CLIPSEARCH:-$here/../build-rel/clipsearch}
jpegs=$work/mpi-jpegs-$n
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
mkdir -p "$work"
if [ ! -d "$jpegs" ]; then
    /usr/bin/python3 - "$oracle/images" "$jpegs.tmp" "$n" <<'PY'
import os, sys
from PIL import Image
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
names = sorted(f for f in os.listdir(src) if f.endswith(('.jpg', '.png')))
for i in range(n):
    im = Image.open(os.path.join(src, names[i % len(names)])).convert('RGB')
    w = 1024 + 16 * (i % 20)
    im = im.resize((w, w * 3 // 4), Image.BICUBIC)
    im.save(os.path.join(dst, '%04d.jpg' % i), quality=80 + i % 15)
PY
    mv "$jpegs.tmp" "$jpegs"
fi
cpu=$(lscpu | sed -n 's/^Model name: *//p')
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) CPUs"
echo "# $n JPEGs ($(du -shL "$jpegs" | cut -f1)), model $model, $ranks ranks x 1 thread vs 1 process x 1 thread"

# wall and CPU seconds (user + sys, the ranks included: mpirun waits for
# them) of a command, as "WALL CPU"
timed() {
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$work/time"
}
plain() { rm -f "$work/m.db"*; timed "$cs" index -q --threads 1 --model "$model" --db "$work/m.db" "$jpegs"; }
mpiN() { rm -f "$work/m.db"*; timed mpirun -np "$1" "$cs" index -q --threads 1 --model "$model" --db "$work/m.db" "$jpegs"; }

# On a busy machine wall time says little; the CPU seconds say what each arm
# costs: cpu(plain) / cpu(npN) x N is the speed-up N idle cores would give.
printf '%-5s %-16s %13s %13s %13s %8s %8s %9s %9s\n' round load "plain(s,cpu)" \
    "np$ranks(s,cpu)" "np1(s,cpu)" speedup "cpu-eff" overhead cpu-ovh
for r in $(seq 1 "$rounds"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # the order turns each round, so no arm always runs first
    case $((r % 3)) in
    1) a=$(plain); b=$(mpiN "$ranks"); c=$(mpiN 1) ;;
    2) b=$(mpiN "$ranks"); c=$(mpiN 1); a=$(plain) ;;
    0) c=$(mpiN 1); a=$(plain); b=$(mpiN "$ranks") ;;
    esac
    echo "$r|$load|$a|$b|$c" | awk -F'|' -v n="$ranks" '{
        split($3, a, " "); split($4, b, " "); split($5, c, " ")
        printf "%-5s %-16s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %7.2fx %7.2fx %8.1f%% %8.1f%%\n", $1, $2,
            a[1], a[2], b[1], b[2], c[1], c[2], a[1] / b[1], a[2] / b[2] * n,
            (c[1] / a[1] - 1) * 100, (c[2] / a[2] - 1) * 100 }'
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- per-row costs and the cluster model ----------------------------------------
rm -f "$work/m.db"*
"$cs" index -v -q --threads 1 --model "$model" --db "$work/m.db" "$jpegs" 2>"$work/stages" >/dev/null
stages=$(grep 'stages (s)' "$work/stages")
echo "# one process, 1 thread: $stages"
dim=$(sqlite3 "$work/m.db" "select value from meta where key = 'dim'")
bytes=$(du -sbL "$jpegs" | cut -f1)
echo "$stages" | sed 's/[^0-9.]/ /g' | awk -v n="$n" -v dim="$dim" -v bytes="$bytes" '{
    walk = $1; hash = $2; dec = $3; mod = $4; store = $5
    per_img = (hash + dec + mod) / n          # what a rank spends per file
    st = store / n                            # rank 0: SQLite write per row
    vbytes = dim * 4 + 48                     # a vector, its size and status
    fbytes = bytes / n                        # a file, when --ship sends it
    printf "# per row: read+hash %.2f ms, decode %.1f ms, model %.1f ms (1 core); rank 0 stores %.3f ms; sends %d B (vector) or %.0f kB (--ship)\n", hash / n * 1000, dec / n * 1000, mod / n * 1000, st * 1000, vbytes, fbytes / 1024
    # a host of C cores embeds C / per_img rows a second; rank 0 stores
    # 1 / st rows a second; its 10 Gb/s link (1.25e9 B/s) takes 1.25e9 /
    # bytes rows a second; a shared filesystem serving F B/s to all hosts
    # gives F / fbytes rows a second (1 GB/s assumed: a NAS).
    for (h = 16; h <= 64; h *= 4) {
        for (c = 16; c <= 64; c *= 4) {
            compute = h * c / per_img
            store_lim = 1 / st
            net_vec = 1.25e9 / vbytes
            net_ship = 1.25e9 / fbytes
            fs = 1e9 / fbytes
            path = compute; lim = "compute"
            if (store_lim < path) { path = store_lim; lim = "rank 0 SQLite" }
            if (fs < path) { path = fs; lim = "shared filesystem 1 GB/s" }
            ship = compute; slim = "compute"
            if (store_lim < ship) { ship = store_lim; slim = "rank 0 SQLite" }
            if (net_ship < ship) { ship = net_ship; slim = "rank 0 link 10 Gb/s" }
            if (1e9 / fbytes < ship) { ship = 1e9 / fbytes; slim = "rank 0 disk 1 GB/s" }
            printf "# %2d hosts x %2d cores: by path %7.0f rows/s (%5.1fx one host; limit: %s); --ship %7.0f rows/s (%5.1fx; limit: %s)\n", h, c, path, path / (c / per_img), lim, ship, ship / (c / per_img), slim
        }
    }
}'
rm -f "$work/m.db"*
