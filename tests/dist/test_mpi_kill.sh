#!/usr/bin/env bash
# A rank killed (-9) in the middle of an MPI indexing run: the job stops
# with a message, the catalogue keeps the chunks committed (no duplicates),
# and the same command run again completes it: the same rows as one process.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
. "$CS_SOURCE_DIR/tests/dist/mpi_lib.sh"
need_oracle
need_mpi
MODEL=$ORACLE/models/tiny
mkdir -p "$TMP/p"
# distinct copies: bytes after the image's end make new content that decodes the same
for i in 1 2 3 4; do
    mkdir -p "$TMP/p/set$i"
    for f in "$ORACLE"/images/*.jpg; do
        { cat "$f"; printf 'copy %d' "$i"; } >"$TMP/p/set$i/$(basename "$f")"
    done
done
total=$(find "$TMP/p" -type f | wc -l)
ARGS=(index --threads 1 --batch 2 -q --model "$MODEL" --db "$TMP/mpi.db" "$TMP/p")

# each rank leaves its pid, so the test kills exactly the rank it started
cat >"$TMP/rank.sh" <<'SH'
echo $$ >"$PIDS/pid.$OMPI_COMM_WORLD_RANK"
exec "$@"
SH
export PIDS=$TMP
mpirun -np 3 -x PIDS -x LSAN_OPTIONS -x ASAN_OPTIONS bash "$TMP/rank.sh" "$CLIPSEARCH" "${ARGS[@]}" \
    >"$TMP/out" 2>"$TMP/err" &
job=$!
n=0
for _ in $(seq 1 1200); do
    n=$(sqlite3 "$TMP/mpi.db" "select count(*) from images" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 4 ] && break
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
done
[ -f "$TMP/pid.2" ] || fail "rank 2 never started: $(cat "$TMP/err")"
kill -9 "$(cat "$TMP/pid.2")" 2>/dev/null
wait "$job"
rc=$?
n=$(sqlite3 "$TMP/mpi.db" "select count(*) from images")
echo "killed rank 2 with $n of $total rows committed; mpirun exit $rc"
if [ "$n" -lt "$total" ]; then
    [ "$rc" -ne 0 ] || fail "the job ended 0 after a rank was killed"
    grep -q "run the same command again" "$TMP/err" ||
        fail "no message from rank 0: $(tail -5 "$TMP/err")"
fi
d=$(sqlite3 "$TMP/mpi.db" "select count(*) - count(distinct path) from images")
[ "$d" -eq 0 ] || fail "duplicates after the kill"

run_mpi 3 "${ARGS[@]}" >/dev/null 2>"$TMP/err" || fail "the re-run exits $?: $(cat "$TMP/err")"
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/one.db" "$TMP/p" 2>"$TMP/err" ||
    fail "one process: $(cat "$TMP/err")"
same_rows "$TMP/one.db" "$TMP/mpi.db" "after a kill and a re-run"
done_test
