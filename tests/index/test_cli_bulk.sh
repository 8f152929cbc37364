#!/usr/bin/env bash
# Bulk work: an index run of 256+ files tells the model (CS_EMBED_BULK), which
# packs its image weights once (src/model/prepack.c, logged at -v -v) and
# keeps them where packings are kept (CLIPSEARCH_PACK_CACHE); a small run
# does not pack them, but maps them once kept; CLIPSEARCH_NO_PREPACK=1 reads
# them from the file; and the vectors are the same bits every way.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
mkdir -p "$TMP/many" "$TMP/few"
/usr/bin/python3 - "$TMP" <<'PY' || fail "cannot make the images"
import sys
from PIL import Image
for i in range(260):
    im = Image.new("RGB", (40, 32), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256))
    im.putpixel((i % 40, i // 40), (255 - i % 256, i % 256, 7))
    im.save(f"{sys.argv[1]}/many/img{i:03d}.png")
PY
cp "$TMP"/many/img00[0-7].png "$TMP/few/" # many: 260 files, few: 8

export CLIPSEARCH_PACK_CACHE=$TMP/packed
"$CLIPSEARCH" index -v -v --model "$MODEL" --db "$TMP/few.db" "$TMP/few" 2>"$TMP/few.log" ||
    fail "index of 8 files exits $?"
grep -q "packed once" "$TMP/few.log" && fail "8 files: the weights should not be packed"
"$CLIPSEARCH" index -v -v --model "$MODEL" --db "$TMP/bulk.db" "$TMP/many" 2>"$TMP/bulk.log" ||
    fail "index of 260 files exits $?"
grep -q "packed once" "$TMP/bulk.log" || fail "260 files: the weights were not packed"
ls "$TMP/packed/"*.vision.f32.pack >/dev/null 2>&1 || fail "260 files: the packing was not kept"
"$CLIPSEARCH" index -v -v --model "$MODEL" --db "$TMP/kept.db" "$TMP/few" 2>"$TMP/kept.log" ||
    fail "index of 8 files exits $?"
grep -q "mapped from the cache" "$TMP/kept.log" || fail "8 files: the kept packing was not mapped"
cmp -s -i 64 "$TMP/few.db.vectors" "$TMP/kept.db.vectors" ||
    fail "8 files: mapped packed weights give other vectors"
CLIPSEARCH_NO_PREPACK=1 "$CLIPSEARCH" index -v -v --model "$MODEL" --db "$TMP/map.db" \
    "$TMP/many" 2>"$TMP/map.log" || fail "index with CLIPSEARCH_NO_PREPACK exits $?"
grep -q "packed once" "$TMP/map.log" && fail "CLIPSEARCH_NO_PREPACK=1: packed all the same"
# the vector files past their 64-byte headers (which carry a generation id)
cmp -s -i 64 "$TMP/bulk.db.vectors" "$TMP/map.db.vectors" ||
    fail "packed and mapped weights give other vectors"
contains "$("$CLIPSEARCH" info --db "$TMP/bulk.db")" "images:     260" "all 260 files indexed"
exit 0
