#!/usr/bin/env bash
# mpirun -np 3 clipsearch index: the same catalogue as one process (rows and
# vectors to the bit), by path on every rank and with --ship; incremental
# re-runs (touched, renamed, copied, deleted, broken files) likewise.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
. "$CS_SOURCE_DIR/tests/dist/mpi_lib.sh"
need_oracle
need_mpi
MODEL=$ORACLE/models/tiny
mkdir -p "$TMP/p/a" "$TMP/p/b"
for f in china.jpg chelsea.png coffee.png rocket.jpg astronaut.gif; do
    cp "$ORACLE/images/$f" "$TMP/p/a/"
done
for f in coins.bmp hubble.tif flower.jpg retina.jpg; do cp "$ORACLE/images/$f" "$TMP/p/b/"; done
cp "$ORACLE/images/china.jpg" "$TMP/p/b/china_copy.jpg" # a copy: reused, not embedded twice
printf 'not a jpeg' >"$TMP/p/b/broken.jpg"

index1() { "$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/one.db" "$TMP/p" 2>"$TMP/err1"; }
indexN() { run_mpi 3 index --threads 1 --batch 4 --model "$MODEL" "$@" "$TMP/p" >"$TMP/outN" 2>"$TMP/errN"; }

index1
[ $? -eq 3 ] || fail "one process: exit $? (expected 3: one broken file): $(cat "$TMP/err1")"
indexN --db "$TMP/three.db"
rc=$?
[ "$rc" -ne 0 ] || fail "3 ranks: exit 0 despite a broken file"
grep -q "broken.jpg" "$TMP/errN" || fail "3 ranks: the broken file is not reported: $(cat "$TMP/errN")"
# (a copy whose original is embedded at the same time on another rank is
# embedded there too, to the same bits: 9 or 10 embedded)
grep -Eq "11 images: (9 embedded, 1|10 embedded, 0) reused, 0 unchanged, 0 removed, 1 skipped" \
    "$TMP/outN" || fail "3 ranks: summary: $(cat "$TMP/outN")"
same_rows "$TMP/one.db" "$TMP/three.db" "3 ranks, by path"

indexN --db "$TMP/ship.db" --ship
same_rows "$TMP/one.db" "$TMP/ship.db" "3 ranks, --ship"

# a job of one rank runs as the plain program: the same catalogue, --ship
# meaning nothing more than its own reads
run_mpi 1 index -q --ship --model "$MODEL" --db "$TMP/np1.db" "$TMP/p" 2>"$TMP/err"
[ $? -eq 3 ] || fail "1 rank: exit $? (expected 3: one broken file): $(cat "$TMP/err")"
same_rows "$TMP/one.db" "$TMP/np1.db" "1 rank"

# changes: one touched, one renamed, one new copy, one deleted, one changed
touch -d '2001-01-01' "$TMP/p/a/coffee.png"
mv "$TMP/p/a/rocket.jpg" "$TMP/p/b/rocket_moved.jpg"
cp "$ORACLE/images/coins.png" "$TMP/p/a/"
rm "$TMP/p/b/retina.jpg"
cp "$ORACLE/images/camera.png" "$TMP/p/a/chelsea.png"
index1
indexN --db "$TMP/three.db"
grep -q "11 images: 2 embedded, 1 reused, 7 unchanged, 2 removed, 1 skipped" "$TMP/outN" ||
    fail "3 ranks, re-run: summary: $(cat "$TMP/outN")"
same_rows "$TMP/one.db" "$TMP/three.db" "3 ranks, after changes"

# a rank that cannot start (no such model) stops the job with its reason
run_mpi 2 index --model "$TMP/nothing" --db "$TMP/x.db" "$TMP/p" >/dev/null 2>"$TMP/err" &&
    fail "a missing model: exit 0"
grep -q "nothing" "$TMP/err" || fail "a missing model: no message: $(cat "$TMP/err")"
done_test
