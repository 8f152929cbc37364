# tests/search/test_shared_lib.sh - libclipsearch.so carries Debian's static
# FAISS inside it: every symbol resolves (libfaiss.a is position-independent
# code, so it links into a shared object), none of FAISS's C++ symbols leak
# into our ABI (--exclude-libs), and the FAISS/search/montage API is exported.
source "$CS_SOURCE_DIR/tests/support/lib.sh"
lib=$CS_BUILD_DIR/libclipsearch.so
[ -e "$lib" ] || { echo "SKIP: $lib not built"; exit 77; }
command -v nm >/dev/null && command -v ldd >/dev/null || { echo "SKIP: no nm/ldd"; exit 77; }

# (a clang sanitizer build leaves its runtime's symbols to the executable)
unresolved=$(ldd -r "$lib" 2>&1 | grep -i 'undefined symbol' |
    grep -Ev 'symbol: __(asan|ubsan|lsan|sancov|sanitizer)_' || true)
[ -z "$unresolved" ] || fail "unresolved symbols in $lib: $unresolved"
ldd "$lib" | grep -Eq 'lib(g|i)?omp' || fail "FAISS's OpenMP runtime is not a dependency"

exported=$(nm -D --defined-only "$lib")
leaked=$(echo "$exported" | grep -c '_ZN5faiss' || true)
[ "$leaked" -eq 0 ] || fail "$leaked FAISS C++ symbols exported"
for f in cs_search_flat cs_faiss_export cs_faiss_export_paths cs_faiss_open cs_faiss_search \
    cs_faiss_read_vectors cs_faiss_read_paths cs_montage_write; do
    echo "$exported" | grep -q " T $f\$" || fail "$f is not exported"
done
# internal names stay hidden
! echo "$exported" | grep -q ' T cs_fb_' || fail "the bridge's internal functions are exported"
done_test
