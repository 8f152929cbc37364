#!/usr/bin/env bash
# tests/fuzz/build_fuzz_index.sh [OUTDIR] - builds fuzz_ann and fuzz_npy with
# clang from the few sources they need (libFuzzer + ASan + UBSan), and their
# seeds: .npy files written by numpy, and DB.ann files written by a small
# import (needs build-dev/clipsearch and ../shared/oracle/models/tiny).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-fuzz}
mkdir -p "$out/ann_seeds" "$out/npy_seeds"
flags=(-std=c11 -D_GNU_SOURCE -DCS_VERSION_STRING='"fuzz"' -O1 -g -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Iinclude -Isrc)
common=(src/core/error.c src/core/file.c)
clang "${flags[@]}" tests/fuzz/fuzz_npy.c src/index/npy.c "${common[@]}" -o "$out/fuzz_npy" -lm
clang "${flags[@]}" -mavx2 -mfma tests/fuzz/fuzz_ann.c src/index/ann_file.c src/index/ann_search.c \
    src/index/ann_scan_avx2.c src/index/ann_scan_vnni.c src/index/ann_sq4.c src/index/content_hash.c \
    src/index/vecs_rows.c src/index/search_flat.c src/index/topk_avx2.c src/core/pool.c src/core/cpu.c \
    "${common[@]}" -o "$out/fuzz_ann" -lm -lpthread
/usr/bin/python3 - "$out/npy_seeds" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/f32.npy", np.random.RandomState(1).randn(5, 8).astype("<f4"))
np.save(d + "/f16.npy", np.random.RandomState(2).randn(3, 16).astype("<f2"))
np.save(d + "/vec.npy", np.ones(4, dtype="<f4"))
PY
cli=build-dev/clipsearch
model=../shared/oracle/models/tiny
if [ -x "$cli" ] && [ -d "$model" ]; then
    tmp=$(mktemp -d)
    /usr/bin/python3 - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/x.npy", np.random.RandomState(3).randn(120, 48).astype("<f4"))
open(d + "/p.txt", "w").write("".join("/x/%d.jpg\n" % i for i in range(120)))
PY
    for bits in 8 4; do
        CLIPSEARCH_ANN_MIN_ROWS=50 CLIPSEARCH_ANN_BITS=$bits "$cli" import -q \
            --db "$tmp/s$bits.db" --model "$model" --npy "$tmp/x.npy" --paths "$tmp/p.txt"
        cp "$tmp/s$bits.db.ann" "$out/ann_seeds/small-sq$bits.ann"
    done
    rm -rf "$tmp"
fi
echo "$out/fuzz_ann $out/fuzz_npy"
