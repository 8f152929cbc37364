#!/usr/bin/env bash
# The server sends only the file that was indexed. After indexing, indexed
# images are swapped the ways an attacker with write access to the folders
# could: a symbolic link to a secret (standing in for /etc/shadow), a link
# to an identical image outside the folders, a parent folder swapped for a
# link, a hard link to the secret, the bytes rewritten with the mtime put
# back, a secret padded to the same size and mtime, a folder in its place.
# /api/image and /api/thumb must refuse each with a JSON 404 and never send
# the secret's bytes; the untouched images are still served byte for byte.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
need_curl
PY=/usr/bin/python3
IMG=$ORACLE/images

P=$TMP/photos OUT=$TMP/outside
mkdir -p "$P/sub" "$OUT/sub"
for n in rocket.jpg china.jpg coffee.png flower.jpg retina.jpg coins.bmp astronaut_progressive.jpg; do
    cp "$IMG/$n" "$P/$n"
done
cp "$IMG/chelsea.png" "$P/sub/chelsea.png"
chmod u+w "$P"/* "$P/sub"/*
SECRET='root:$6$THE-SECRET-HASH$abcdef:19000:0:99999:7:::'
printf '%s\n' "$SECRET" >"$OUT/shadow"

start_serve --db "$TMP/c.db" --model "$ORACLE/models/tiny" "$P"
base=${SERVE_URL%/}
contains "$(cat "$TMP/out")" "serving 8 images" "all images indexed"

code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
[ "$(code "$base/api/search?q=x&k=8")" = 200 ] || fail "search: $(cat "$TMP/body")"
cp "$TMP/body" "$TMP/all.json"
id_of() {
    $PY -c 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["results"] if x["name"]==sys.argv[2]][0])' \
        "$TMP/all.json" "$1"
}

# every image is served as it was indexed; thumbnails made (and cached) now
for n in rocket.jpg china.jpg coffee.png flower.jpg retina.jpg coins.bmp astronaut_progressive.jpg sub/chelsea.png; do
    id=$(id_of "${n#sub/}")
    [ "$(code "$base/api/image/$id")" = 200 ] || fail "original of $n before any swap: $(cat "$TMP/body")"
    cmp -s "$TMP/body" "$P/$n" || fail "original of $n differs"
    # flower.jpg's thumbnail is made only after its bytes change (case 5):
    # a thumbnail cached from the indexed bytes is kept while the file's
    # size, mtime and kind stay the same (docs/SERVER.md)
    [ "$n" = flower.jpg ] && continue
    [ "$(code "$base/api/thumb/$id")" = 200 ] || fail "thumbnail of $n before any swap"
done

# refused NAME WHAT: both endpoints answer a JSON 404 and send no secret
refused() {
    local id
    id=$(id_of "$1")
    for ep in image thumb; do
        c=$(code "$base/api/$ep/$id")
        [ "$c" = 404 ] || fail "$2: /api/$ep of $1 answers $c"
        grep -q 'THE-SECRET' "$TMP/body" && fail "$2: /api/$ep of $1 sent the secret"
        $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]==404 and "error" in d' \
            "$TMP/body" || fail "$2: /api/$ep of $1 is not a JSON error: $(head -c 200 "$TMP/body")"
    done
    contains "$(cat "$TMP/body")" "$3" "$2: the reason"
}

# 1. a symbolic link to the secret
rm "$P/rocket.jpg" && ln -s "$OUT/shadow" "$P/rocket.jpg"
refused rocket.jpg "a link to a secret" "symbolic link"

# 2. a link to an identical copy (same bytes, same mtime) outside the folders
cp -p "$P/china.jpg" "$OUT/china.jpg" && rm "$P/china.jpg" && ln -s "$OUT/china.jpg" "$P/china.jpg"
refused china.jpg "a link to an identical image outside" "symbolic link"

# 3. the parent folder swapped for a link to an identical folder outside
cp -p "$P/sub/chelsea.png" "$OUT/sub/chelsea.png"
mv "$P/sub" "$TMP/sub.orig" && ln -s "$OUT/sub" "$P/sub"
refused chelsea.png "a parent folder swapped for a link" "symbolic link"

# 4. a hard link to the secret in its place
ln -f "$OUT/shadow" "$P/coffee.png"
refused coffee.png "a hard link to the secret" "size changed"

# 5. the bytes rewritten in place, same size, the mtime put back
cp -p "$P/flower.jpg" "$TMP/flower.ref"
printf 'XXXX' | dd of="$P/flower.jpg" bs=1 seek=5000 conv=notrunc status=none
touch -r "$TMP/flower.ref" "$P/flower.jpg"
refused flower.jpg "rewritten bytes under the old mtime" "content changed"

# 6. the secret padded to the image's size, under its mtime: not an image,
#    and no byte of it is quoted in the refusal
cp -p "$P/retina.jpg" "$TMP/retina.ref"
$PY -c 'import sys; s=open(sys.argv[1],"rb").read(); n=int(sys.argv[2]); open(sys.argv[3],"wb").write((s*(n//len(s)+1))[:n])' \
    "$OUT/shadow" "$(stat -c %s "$TMP/retina.ref")" "$P/retina.jpg"
touch -r "$TMP/retina.ref" "$P/retina.jpg"
refused retina.jpg "a secret of the same size and mtime" "not an image"
grep -q 'root' "$TMP/body" && fail "the refusal quotes the file's first bytes"

# 7. a folder in its place
rm "$P/coins.bmp" && mkdir "$P/coins.bmp"
refused coins.bmp "a folder in its place" "not a regular file"

# the untouched image is still served, and nothing of the secret ever was
id=$(id_of astronaut_progressive.jpg)
[ "$(code "$base/api/image/$id")" = 200 ] || fail "the untouched image"
cmp -s "$TMP/body" "$P/astronaut_progressive.jpg" || fail "the untouched image differs"
grep -q 'THE-SECRET' "$TMP/log" && fail "the log holds the secret"
done_test
