#!/bin/bash
# bench/mpi_speedup.sh - `clipsearch index` as an MPI job on this host: N
# ranks of one thread each against one process of one thread (the speed-up),
# and one rank under mpirun against the plain program (the overhead of the
# MPI path), arms alternated round by round, each on a fresh catalogue. Then
# the fixed cost of the launcher and MPI over an empty folder, and the
# per-row costs a cluster run is made of (rank 0's SQLite write, the
# bytes a rank sends, reading and hashing a file, the model), from `index -v`
# of the plain run, and a model of the speed-up at 16 and 64 hosts.
#
#   bench/mpi_speedup.sh MODEL_DIR [N_FILES] [ROUNDS] [RANKS]
#
# (ROUNDS 0: the fixed costs, the per-row costs and the model only)
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

# ---- the fixed cost of the launcher and of MPI, over an empty folder ----------------
# (the model's weights are not touched when there is nothing to embed)
mkdir -p "$work/empty"
for r in 1 2 3 4 5; do
    rm -f "$work/e.db"*
    a=$(timed "$cs" index -q --threads 1 --model "$model" --db "$work/e.db" "$work/empty")
    rm -f "$work/e.db"*
    b=$(timed mpirun -np 1 "$cs" index -q --threads 1 --model "$model" --db "$work/e.db" "$work/empty")
    rm -f "$work/e.db"*
    c=$(timed mpirun -np 2 "$cs" index -q --threads 1 --model "$model" --db "$work/e.db" "$work/empty")
    echo "$a|$b|$c"
done | awk -F'|' '{ split($1, a, " "); split($2, b, " "); split($3, c, " ")
    pa += a[2]; pb += b[2]; pc += c[2] }
    END { printf "# empty folder, CPU seconds (mean of 5): plain %.2f, np1 %.2f, np2 %.2f\n", pa / 5, pb / 5, pc / 5 }'
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- per-row costs and the cluster model ----------------------------------------
# a rank's work per row: CPU seconds of the plain run (1 thread) per file
rm -f "$work/m.db"*
cpu_row=$(plain | awk -v n="$n" '{ print $2 / n }')
rm -f "$work/m.db"*
"$cs" index -v -q --threads 1 --model "$model" --db "$work/m.db" "$jpegs" 2>"$work/stages" >/dev/null
echo "# one process, 1 thread (wall, busy machine): $(grep 'stages (s)' "$work/stages")"
dim=$(sqlite3 "$work/m.db" "select value from meta where key = 'dim'")
bytes=$(du -sbL "$jpegs" | cut -f1)
# rank 0's SQLite write per row: 20000 rows of our shape, 32 a transaction,
# WAL with synchronous=NORMAL as the catalogue does. Its CPU seconds are
# what an idle host spends (the wall time of a busy one is mostly waiting)
rm -f "$work/store.db"*
{
    echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
          CREATE TABLE images(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INT,
          mtime_ns INT, hash BLOB, width INT, height INT, embedding BLOB, gen INT);
          CREATE INDEX images_hash ON images(hash); CREATE INDEX images_gen ON images(gen);"
    for t in $(seq 0 624); do
        echo "BEGIN; INSERT INTO images(path, size, mtime_ns, hash, width, height, embedding, gen)
              SELECT '/data/photos/2024/' || hex(randomblob(8)) || '.jpg', 1, 1, randomblob(16),
              1, 1, randomblob($((dim * 4))), $t FROM generate_series($((t * 32)), $((t * 32 + 31)));
              COMMIT;"
    done
} >"$work/store.sql"
store=$(timed sqlite3 "$work/store.db" <"$work/store.sql")
store_row=$(echo "$store" | awk '{ print $2 / 20000 }')
store_wall=$(echo "$store" | awk '{ print $1 / 20000 }')
rm -f "$work/store.db"* "$work/store.sql"
awk -v n="$n" -v cpu="$cpu_row" -v st="$store_row" -v stw="$store_wall" -v dim="$dim" -v bytes="$bytes" 'BEGIN {
    vbytes = dim * 4 + 48  # a vector back to rank 0, with its size and status
    mbytes = 2 * 120       # the path out, its hash back (about)
    fbytes = bytes / n     # a file, when --ship sends it
    printf "# per row: %.1f ms of CPU on a rank (read, hash, decode, model); rank 0 writes it in %.3f ms of CPU (%.3f ms wall); %d B cross the network (%.0f kB more with --ship)\n", cpu * 1000, st * 1000, stw * 1000, vbytes + mbytes, fbytes / 1024
    print "# model: a host of C cores embeds C / cpu rows/s (the cores scale: same bits at any thread count);"
    print "#   rank 0 writes 1 / store rows/s; its 10 Gb/s link moves 1.25e9 / bytes rows/s;"
    print "#   a shared filesystem (NAS, 1 GB/s assumed) or rank 0'"'"'s disk (--ship) serves 1e9 / file bytes rows/s"
    for (h = 16; h <= 64; h *= 4) for (c = 16; c <= 64; c *= 4) {
        host = c / cpu; compute = h * host
        path = compute; lim = "compute"
        if (1 / st < path) { path = 1 / st; lim = "rank 0 SQLite" }
        if (1.25e9 / (vbytes + mbytes) < path) { path = 1.25e9 / (vbytes + mbytes); lim = "rank 0 link" }
        if (1e9 / fbytes < path) { path = 1e9 / fbytes; lim = "shared filesystem" }
        ship = compute; slim = "compute"
        if (1 / st < ship) { ship = 1 / st; slim = "rank 0 SQLite" }
        if (1.25e9 / (vbytes + mbytes + fbytes) < ship) { ship = 1.25e9 / (vbytes + mbytes + fbytes); slim = "rank 0 link" }
        if (1e9 / fbytes < ship) { ship = 1e9 / fbytes; slim = "rank 0 disk" }
        printf "# %2d hosts x %2d cores: by path %6.0f rows/s = %5.1fx one host (%s); --ship %6.0f rows/s = %5.1fx (%s)\n", h, c, path, path / host, lim, ship, ship / host, slim
    }
}'
rm -f "$work/m.db"*
