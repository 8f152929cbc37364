#!/usr/bin/env bash
# Where `clipsearch` keeps packed weights (cs_model_opts.pack_cache): in
# CLIPSEARCH_PACK_CACHE, else "packed" in the cache folder (CLIPSEARCH_CACHE,
# XDG_CACHE_HOME/clipsearch, ~/.cache/clipsearch), nowhere with
# CLIPSEARCH_PACK_CACHE=0; an index run that maps the kept file stores the
# same vectors as one that packed nothing.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
M=$ORACLE/models/tiny
mkdir -p "$TMP/imgs" "$TMP/home"
cp "$ORACLE/images/china.jpg" "$ORACLE/images/coffee.png" "$ORACLE/images/camera.png" "$TMP/imgs/"

# `clipsearch bench` is bulk work: it packs the F32 panels and keeps them
pack() {
    "$CLIPSEARCH" bench --model "$M" --batch 2 --seconds 0.05 --no-text >/dev/null ||
        fail "bench failed"
}

# index IMGS into DB N with the environment given before it; prints the vectors
vectors() {
    rm -f "$TMP/db$1"*
    "$CLIPSEARCH" index -q --model "$M" --db "$TMP/db$1" "$TMP/imgs" || fail "index $1 failed"
    "$CLIPSEARCH" export --db "$TMP/db$1" --faiss "$TMP/v$1.faiss" >/dev/null || fail "export $1 failed"
    md5sum <"$TMP/v$1.faiss"
}

unset CLIPSEARCH_CACHE XDG_CACHE_HOME
HOME=$TMP/home CLIPSEARCH_PACK_CACHE=0 pack
[ ! -e "$TMP/home/.cache/clipsearch/packed" ] || fail "CLIPSEARCH_PACK_CACHE=0 still kept packed weights"
a=$(HOME=$TMP/home CLIPSEARCH_PACK_CACHE=0 vectors 0)

HOME=$TMP/home CLIPSEARCH_PACK_CACHE= pack
ls "$TMP/home/.cache/clipsearch/packed/"*.vision.f32.pack >/dev/null 2>&1 ||
    fail "no packed weights kept under ~/.cache/clipsearch/packed"
b=$(HOME=$TMP/home CLIPSEARCH_PACK_CACHE= vectors 1)
[ "$a" = "$b" ] || fail "vectors differ: unpacked $a, mapped from the kept packing $b"

CLIPSEARCH_CACHE=$TMP/cache CLIPSEARCH_PACK_CACHE= pack
ls "$TMP/cache/packed/"*.vision.f32.pack >/dev/null 2>&1 || fail "CLIPSEARCH_CACHE not followed"
CLIPSEARCH_PACK_CACHE=$TMP/mine pack
ls "$TMP/mine/"*.vision.f32.pack >/dev/null 2>&1 || fail "CLIPSEARCH_PACK_CACHE=DIR not followed"
echo "ok: $TEST_NAME"
