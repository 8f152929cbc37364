#!/usr/bin/env bash
# clipsearch import: .npy rows (float32 and float16) with their paths, then
# search --npy; bad files (wrong dtype, wrong dimension, truncated, NaN rows,
# paths short) fail with a clear error and leave the catalogue as it was;
# kill -9 while the approximate index is being built, then a re-run ends
# with a valid index; --faiss reads what export --faiss writes.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "SKIP: numpy not found"; exit 77; }
MODEL=$ORACLE/models/tiny # 48 dimensions
DB=$TMP/c.db
export CLIPSEARCH_ANN_MIN_ROWS=5000
$PY - "$TMP" <<'EOF' || fail "making the data"
import sys, numpy as np
d = sys.argv[1]
rng = np.random.RandomState(7)
topics = rng.randn(100, 48) * 0.6 + rng.randn(48)
x = topics[rng.randint(0, 100, 12000)] + rng.randn(12000, 48) * 0.35
np.save(d + "/a.npy", x[:8000].astype("<f4"))
np.save(d + "/b.npy", x[8000:].astype("<f2"))         # a float16 shard
open(d + "/paths.txt", "w").write("".join("/elsewhere/%05d.jpg\n" % i for i in range(12000)))
np.save(d + "/q.npy", x[:5].astype("<f4"))
np.save(d + "/f64.npy", x[:10])                       # float64: refused
np.save(d + "/d40.npy", x[:10, :40].astype("<f4"))    # wrong dimension
nan = x[:10].astype("<f4"); nan[3, 5] = np.nan
np.save(d + "/nan.npy", nan)
np.save(d + "/cut.npy", x[:10].astype("<f4"))
open(d + "/ten.txt", "w").write("".join("/new/%d.jpg\n" % i for i in range(10)))
EOF
head -c 1000 "$TMP/cut.npy" >"$TMP/cut2.npy"

imp() { "$CLIPSEARCH" import -q --db "$DB" "$@"; }

# kill -9 while the index file is written, until one kill lands there
killed=0
for delay in 0.5 1 2 3 4 6; do
    rm -f "$DB" "$DB"-* "$DB".*
    # the program itself in the background, not the shell function: $! must
    # be its pid, or the kill leaves it importing beside the re-run
    "$CLIPSEARCH" import -q --db "$DB" --model "$MODEL" --npy "$TMP/a.npy" --npy "$TMP/b.npy" \
        --paths "$TMP/paths.txt" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    if ls "$DB".ann.tmp.* >/dev/null 2>&1 || { [ -f "$DB" ] && [ ! -f "$DB.ann" ]; }; then
        kill -9 "$pid" 2>/dev/null && killed=1
    fi
    wait "$pid" 2>/dev/null
    [ "$killed" = 1 ] && break
done
echo "killed during the import or build: $killed"
# the re-run resumes: rows already stored are skipped, the index is built
# (the shards as a shell's `--npy DIR/*.npy` gives them)
out=$("$CLIPSEARCH" import --db "$DB" --model "$MODEL" --paths "$TMP/paths.txt" \
    --npy "$TMP/a.npy" "$TMP/b.npy" 2>&1) || fail "re-run after kill: $out"
contains "$out" "12000 images" "the re-run ends with every row"
ls "$DB".ann.tmp.* >/dev/null 2>&1 && fail "a temporary index file was left behind"
info=$("$CLIPSEARCH" info --db "$DB") || fail "info"
contains "$info" "approximate index" "info names the index in use"
[ "$(sqlite3 "$DB" 'select count(*) from images')" = 12000 ] || fail "row count"

# search --npy: one JSON line per query; query i is row i, found first
res=$("$CLIPSEARCH" search --db "$DB" --npy "$TMP/q.npy" -k 3 --json --threads 2) ||
    fail "search --npy"
[ "$(printf '%s\n' "$res" | wc -l)" = 5 ] || fail "one line per query: $res"
for i in 0 1 2 3 4; do
    line=$(printf '%s\n' "$res" | sed -n "$((i + 1))p")
    contains "$line" "$(printf '"path":"/elsewhere/%05d.jpg"' "$i")" "query $i finds its row first"
done
ex=$("$CLIPSEARCH" search --db "$DB" --npy "$TMP/q.npy" -k 3 --json --exact) || fail "--exact"
[ "$(printf '%s\n' "$ex" | head -1 | cut -c1-60)" = "$(printf '%s\n' "$res" | head -1 | cut -c1-60)" ] ||
    fail "--exact and the index disagree on the best row"

# bad input: a clear error naming the file, and nothing changed
before=$(sqlite3 "$DB" 'select count(*), max(id), (select value from meta where key = "generation") from images')
bad() { # FILE WHAT MESSAGE
    out=$(imp --npy "$1" --paths "$TMP/ten.txt" 2>&1) && fail "$2: import succeeded"
    contains "$out" "$1" "$2: the message names the file"
    contains "$out" "$3" "$2: the message says why"
    [ "$(sqlite3 "$DB" 'select count(*), max(id), (select value from meta where key = "generation") from images')" = "$before" ] ||
        fail "$2: the catalogue changed"
}
bad "$TMP/f64.npy" "float64" "dtype <f8"
bad "$TMP/d40.npy" "40 columns" "40"
bad "$TMP/nan.npy" "NaN row" "row 3 is not finite"
bad "$TMP/cut2.npy" "truncated" "truncated"
out=$(imp --npy "$TMP/q.npy" --paths "$TMP/ten.txt" 2>&1) && fail "5 rows, 10 paths accepted"
contains "$out" "10 paths for 5 rows" "paths and rows must agree"

# export --faiss, then import --faiss into a new catalogue: the same rows
"$CLIPSEARCH" export --db "$DB" --faiss "$TMP/x.faiss" >/dev/null || fail "export"
out=$("$CLIPSEARCH" import --db "$TMP/f.db" --model "$MODEL" --faiss "$TMP/x.faiss" 2>&1) ||
    fail "import --faiss: $out"
contains "$out" "12000 images" "import --faiss"
a=$(sqlite3 "$DB" 'select path, hex(embedding) from images order by path' | md5sum)
b=$(sqlite3 "$TMP/f.db" 'select path, hex(embedding) from images order by path' | md5sum)
[ "$a" = "$b" ] || fail "import --faiss: other rows than exported"
done_test
