# tests/dist/mpi_lib.sh - what the MPI tests share (sourced after
# tests/support/lib.sh): need_mpi, run_mpi N ARGS..., rows DB.
#
# Open MPI talks over loopback only here (runtime and data), and as root
# only with its explicit consent. Its runtime keeps allocations until exit:
# lsan.supp names its libraries, and slow unwinding lets LeakSanitizer see
# them in every stack.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_rmaps_base_oversubscribe=1
export LSAN_OPTIONS="suppressions=$CS_SOURCE_DIR/tests/dist/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0"

need_mpi() {
    if ! command -v mpirun >/dev/null 2>&1; then
        echo "SKIP: mpirun not found (Debian: openmpi-bin, scripts/install-deps.sh)"
        exit 77
    fi
}

# run_mpi N ARGS...: clipsearch ARGS as N ranks on this host.
run_mpi() {
    local n=$1
    shift
    mpirun -np "$n" -x LSAN_OPTIONS -x ASAN_OPTIONS -x UBSAN_OPTIONS "$CLIPSEARCH" "$@"
}

# rows DB: every row but the id, in path order, the vector in hex, and the
# precision it was computed at (which the workers send rank 0 with it).
rows() {
    sqlite3 "$1" "select path, size, mtime_ns, hex(hash), width, height, hex(embedding),
                  precision from images order by path"
}

# same_rows A B WHAT: the two catalogues hold the same rows, vector by vector.
same_rows() {
    rows "$1" >"$TMP/rows_a"
    rows "$2" >"$TMP/rows_b"
    [ -s "$TMP/rows_a" ] || fail "$3: $1 is empty"
    cmp -s "$TMP/rows_a" "$TMP/rows_b" ||
        fail "$3: rows differ: $(diff "$TMP/rows_a" "$TMP/rows_b" | cut -c1-160 | head -5)"
}
