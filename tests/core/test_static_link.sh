#!/usr/bin/env bash
# libclipsearch.a defines none of the names of the libraries it opens on
# first use (libcurl, libmicrohttpd, libheif, BLAS/LAPACK): a program that
# links it beside the real libcurl and OpenBLAS gets theirs, and
# clipsearch's own use of them still works (static_link_prog.c).
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
lib=$CS_BUILD_DIR/libclipsearch.a
[ -f "$lib" ] || { echo "SKIP: $lib not built"; exit 77; }
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
foreign=$(nm --defined-only "$lib" 2>/dev/null | awk '$2 ~ /^[TWDB]$/ {print $3}' |
    grep -E '^(curl_|MHD_|heif_|cblas_|[sdcz](gemm|syrk|geqrf|orgqr|gesvd|getrf|getri|syev|gelsd)_$)' || true)
[ -z "$foreign" ] || fail "libclipsearch.a defines: $foreign"

# the sanitizer build's objects need the sanitizer runtimes at link time
san=""
grep -q '__asan_' <(nm "$lib" 2>/dev/null | head -20000) && san="-fsanitize=address,undefined"
deps=$(sed -n 's/^Libs.private: //p' "$CS_BUILD_DIR/clipsearch.pc")
reqs=$(sed -n 's/^Requires.private: //p' "$CS_BUILD_DIR/clipsearch.pc")
# OpenBLAS and libcurl first, as a program of its own would name them
cc $san -std=c11 -I"$CS_SOURCE_DIR/include" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
    "$CS_SOURCE_DIR/tests/core/static_link_prog.c" -o "$TMP/prog" \
    -lopenblas -lcurl "$lib" $(pkg-config --libs $reqs) $deps ||
    fail "a program linking libclipsearch.a with libcurl and OpenBLAS does not link"
mkdir -p "$TMP/cache"
out=$("$TMP/prog" "$TMP/ivf.index" "$TMP/cache" 2>&1) || fail "the program failed: $out"
[ "$(echo "$out" | tail -1)" = ok ] || fail "unexpected output: $out"
[ -s "$TMP/ivf.index" ] || fail "no index written"
done_test
