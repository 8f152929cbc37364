#!/usr/bin/env bash
# tests/fuzz/build_fuzz_decode.sh [OUT] - builds fuzz_decode with clang from
# the image and core sources only (libFuzzer + ASan + UBSan), so that it does
# not depend on the rest of the library compiling under clang. The CMake way
# (-DCS_FUZZ=ON, see fuzz_decode.c) builds the same harness against the whole
# library.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-fuzz/fuzz_decode}
mkdir -p "$(dirname "$out")"
flags=(-std=c11 -D_GNU_SOURCE -DCS_VERSION_STRING='"fuzz"' -O1 -g -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Iinclude -Isrc)
objs=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in src/core/*.c src/image/*.c; do
    extra=()
    case "$src" in *_avx2.c) extra=(-mavx2 -mfma -mf16c) ;; esac
    obj="$tmp/$(basename "$src" .c).o"
    clang "${flags[@]}" "${extra[@]}" $(pkg-config --cflags libpng libwebp libtiff-4 lcms2 libheif jansson) \
        -c "$src" -o "$obj"
    objs+=("$obj")
done
clang "${flags[@]}" tests/fuzz/fuzz_decode.c "${objs[@]}" -o "$out" \
    $(pkg-config --libs libpng libwebp libwebpdemux libtiff-4 lcms2 libheif jansson) -ljpeg -lgif -lm -lpthread
echo "$out"
