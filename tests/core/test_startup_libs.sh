#!/bin/bash
# tests/core/test_startup_libs.sh - the program does not load libheif, BLAS,
# libcurl or libmicrohttpd (and the ~35 libraries behind them) when it
# starts: they are opened on first use (src/core/lazylib.h). A cold search
# was 9-13 ms slower with them.
set -u
cs=${CLIPSEARCH:?}
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
needed=$(readelf -d "$cs" | grep NEEDED)
if grep -E 'libheif|libcurl|libmicrohttpd|libgnutls|libx265|blas|lapack|gfortran' <<<"$needed"; then
    echo "FAIL: linked at start: see above"
    exit 1
fi
# and what the loader actually maps for a command that needs none of them
loaded=$(LD_DEBUG=files "$cs" --help 2>&1 >/dev/null | grep -oE 'file=[^ ]+' | sort -u)
if grep -E 'libheif|libcurl|libmicrohttpd|blas|lapack' <<<"$loaded"; then
    echo "FAIL: loaded by --help"
    exit 1
fi
echo "startup_libs: ok ($(grep -c NEEDED <<<"$needed") libraries linked)"
