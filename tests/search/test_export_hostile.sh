#!/usr/bin/env bash
# `export --faiss` writes OUT, OUT.paths and OUT.manifest all or none: a
# destination that is not a regular file (/dev/full, a folder, a link) is
# refused; a factory string FAISS refuses or a training set too small fails
# in our words before anything is written; a full disk at any level leaves
# the previous export whole (or the new one), never a mismatched pair, and
# no temporary files. The Python tutorial's code still reads OUT.paths as is.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
export CLIPSEARCH_DB=$TMP/c.db
mkdir -p "$TMP/p" "$TMP/out"
for f in china.jpg rocket.jpg coffee.png chelsea.png coins.bmp camera.png; do
    cp "$ORACLE/images/$f" "$TMP/p/"
done
"$CLIPSEARCH" index -q --model "$MODEL" "$TMP/p" || fail "index"

refused() { # WHAT OUT ARGS...: exits 1, names OUT, writes nothing into $TMP/out
    local what=$1 out=$2
    shift 2
    local before
    before=$(ls -la "$TMP/out")
    "$CLIPSEARCH" export --faiss "$out" "$@" >"$TMP/o" 2>"$TMP/err"
    local rc=$?
    [ $rc = 1 ] || fail "$what: exit $rc, want 1 ($(cat "$TMP/o" "$TMP/err"))"
    [ "$(ls -la "$TMP/out")" = "$before" ] || fail "$what: files were written: $(ls "$TMP/out")"
    grep -q "Error in\|\.cpp:\|faiss::" "$TMP/err" && fail "$what: FAISS's raw text: $(cat "$TMP/err")"
    return 0
}
# a device like /dev/full (a private one: an export that is wrong would
# replace the node it names), and a FIFO
if mknod "$TMP/out/full" c 1 7 2>/dev/null; then
    refused "a device node" "$TMP/out/full"
    [ -c "$TMP/out/full" ] || fail "the device node was replaced"
    contains "$(cat "$TMP/err")" "$TMP/out/full: not a regular file (a device)" "the device named"
fi
mkfifo "$TMP/out/fifo"
refused "a FIFO" "$TMP/out/fifo"
[ -p "$TMP/out/fifo" ] || fail "the FIFO was replaced"
mkdir "$TMP/out/folder"
refused "a folder" "$TMP/out/folder"
ln -s "$TMP/elsewhere" "$TMP/out/link"
refused "a symbolic link" "$TMP/out/link"
mkdir "$TMP/out/x.faiss.paths"
refused "OUT.paths a folder" "$TMP/out/x.faiss"
rmdir "$TMP/out/x.faiss.paths"
refused "a bad factory" "$TMP/out/x.faiss" --factory "Nonsense,Flat"
contains "$(cat "$TMP/err")" "'Nonsense,Flat' is not an index type FAISS can build" "factory"
refused "IVF1024 on 6 vectors" "$TMP/out/x.faiss" --factory "IVF1024,Flat"
contains "$(cat "$TMP/err")" "IVF1024 needs at least 1024 vectors to train; the catalogue has 6" \
    "training set too small"
refused "PQ on 6 vectors" "$TMP/out/x.faiss" --factory "PQ4"
contains "$(cat "$TMP/err")" "needs at least 256 vectors" "PQ training set too small"

# a good export: three files, a Python reader sees exactly the paths
"$CLIPSEARCH" export --faiss "$TMP/out/x.faiss" >/dev/null 2>"$TMP/err" ||
    fail "export: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/out/x.faiss.paths")" = 6 ] || fail ".paths holds other lines than the 6 paths"
/usr/bin/python3 - "$TMP/out/x.faiss" <<'PY' || fail "the manifest does not describe the files"
import hashlib, json, sys
p = sys.argv[1]
m = json.load(open(p + '.manifest'))
assert m['format'] == 'clipsearch-faiss-export' and m['count'] == 6, m
assert m['index_sha256'] == hashlib.sha256(open(p, 'rb').read()).hexdigest()
assert m['paths_sha256'] == hashlib.sha256(open(p + '.paths', 'rb').read()).hexdigest()
paths = [l.strip() for l in open(p + '.paths')]  # how a Python loader reads it
assert len(paths) == 6 and all(x.startswith('/') for x in paths), paths
PY

# a full disk at many levels: the old export stays whole, or the new one is
# whole; never a mismatched pair, never a temporary file left
mount_small_tmpfs 256k
mkdir -p "$TMP/three"
for f in china.jpg rocket.jpg coffee.png; do cp "$ORACLE/images/$f" "$TMP/three/"; done
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/three.db" "$TMP/three" || fail "index three"
for left in 0 1 2 3 4 6 8 12 16 24; do
    rm -rf "${MNT:?}"/*
    "$CLIPSEARCH" export --faiss "$MNT/e.faiss" --db "$TMP/three.db" >/dev/null 2>&1 ||
        fail "the first export into the tmpfs failed"
    fill_tmpfs_leaving $left
    "$CLIPSEARCH" export --faiss "$MNT/e.faiss" >/dev/null 2>"$TMP/err"
    rc=$?
    rm -f "$MNT/filler"
    [ $rc = 0 ] || contains "$(cat "$TMP/err")" "$MNT/e.faiss" "a failed export names its file"
    extra=$(ls "$MNT" | grep -v '^e\.faiss\(\.paths\|\.manifest\)\?$')
    [ -z "$extra" ] || fail "$left kB left: files left behind: $extra"
    /usr/bin/python3 - "$MNT/e.faiss" $rc <<'PY' || fail "$left kB left (exit $rc): a mismatched export"
import hashlib, json, sys
p, rc = sys.argv[1], int(sys.argv[2])
m = json.load(open(p + '.manifest'))
assert m['index_sha256'] == hashlib.sha256(open(p, 'rb').read()).hexdigest()
assert m['paths_sha256'] == hashlib.sha256(open(p + '.paths', 'rb').read()).hexdigest()
n = len(open(p + '.paths').read().splitlines())
assert n == m['count'] == (6 if rc == 0 else 3), (n, m['count'], rc)
PY
done
umount "$MNT"
done_test
