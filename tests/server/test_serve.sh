#!/usr/bin/env bash
# `clipsearch serve` end to end with curl: it indexes the oracle's images with
# the tiny model, prints its URL, answers the API (thumbnails checked against
# Pillow), refuses path tricks and foreign Host names, and stops cleanly on
# Ctrl-C (SIGINT).
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
need_curl
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny

# bad command lines
"$CLIPSEARCH" serve --port 99999 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] || fail "--port 99999 exits $rc, want 2"
"$CLIPSEARCH" serve --model "$MODEL" --db "$TMP/none/x.db" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "a missing database exits $rc, want 1"
contains "$(cat "$TMP/err")" "x.db" "a missing database is named"

# start it: index the images, listen on a free port
start_serve --db "$TMP/c.db" --model "$MODEL" "$ORACLE/images"
pid=$SERVE_PID url=$SERVE_URL
contains "$(cat "$TMP/out")" "serving 25 images" "the URL line counts the images"
base=${url%/}

code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }

[ "$(code "$base/healthz")" = 200 ] || fail "/healthz"
# the catalogue's precisions, as `info --json` lists them, and the model's
[ "$(code "$base/api/stats")" = 200 ] || fail "/api/stats"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["precisions"] == [{"precision": "fp32", "count": 25}] and d["model"]["precision"] == d["model"]["image_precision"] == "fp32", d' \
    "$TMP/body" || fail "stats do not report the precisions: $(cat "$TMP/body")"
[ "$(code "$base/")" = 200 ] || fail "the page"
contains "$(cat "$TMP/body")" "<title>clipsearch</title>" "the page is ours"

# a text query: JSON results with ids, scores, thumbnails
[ "$(code "$base/api/search?q=a%20photo%20of%20a%20cat&k=5")" = 200 ] || fail "search: $(cat "$TMP/body")"
$PY - "$TMP/body" <<'EOF' || fail "search results malformed: $(cat "$TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert len(r) == 5 and d["more"] is True
for x in r:
    assert x["thumb"] == "/api/thumb/%d" % x["id"] and x["image"] == "/api/image/%d" % x["id"]
    assert x["width"] > 0 and x["height"] > 0 and x["path"].endswith(x["name"])
assert all(a["score"] >= b["score"] for a, b in zip(r, r[1:]))
EOF
id=$($PY -c 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["results"]][0])' "$TMP/body")

# an upload finds its own image first
[ "$(code -X POST -H 'Content-Type: image/jpeg' --data-binary "@$ORACLE/images/rocket.jpg" "$base/api/search?k=3")" = 200 ] ||
    fail "upload: $(cat "$TMP/body")"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; assert r[0]["name"]=="rocket.jpg" and r[0]["score"]>0.999, r' \
    "$TMP/body" || fail "the uploaded image is not first"
[ "$(code -F "image=@$ORACLE/images/coffee.png" "$base/api/search?k=3")" = 200 ] || fail "multipart: $(cat "$TMP/body")"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; assert r[0]["name"]=="coffee.png", r' \
    "$TMP/body" || fail "the multipart upload is not first"

# originals byte for byte; thumbnails look like Pillow's reduction of the image
for name in china.jpg motorcycle_exif3.jpg coins.bmp wide_strip.jpg tall_strip.png; do
    [ "$(code "$base/api/search?q=x&k=25")" = 200 ] || fail "search for ids"
    nid=$($PY -c 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["results"] if x["name"]==sys.argv[2]][0])' \
        "$TMP/body" "$name")
    [ "$(code "$base/api/image/$nid")" = 200 ] || fail "original of $name"
    cmp -s "$TMP/body" "$ORACLE/images/$name" || fail "original of $name differs"
    [ "$(code "$base/api/thumb/$nid")" = 200 ] || fail "thumbnail of $name"
    $PY - "$TMP/body" "$ORACLE/images/$name" <<'EOF' || fail "thumbnail of $name does not match Pillow's"
import sys
from PIL import Image, ImageOps, ImageChops, ImageStat
thumb = Image.open(sys.argv[1])
assert thumb.format == "JPEG", thumb.format
ref = ImageOps.exif_transpose(Image.open(sys.argv[2])).convert("RGB")
w, h = ref.size
scale = min(1.0, 320 / max(w, h))
want = (max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5)))  # halves round up
assert thumb.size == want, (thumb.size, want)
ref = ref.resize(want, Image.BILINEAR)
diff = ImageStat.Stat(ImageChops.difference(thumb.convert("RGB"), ref)).mean
assert max(diff) < 9, diff  # JPEG q82 alone costs ~4 on a busy photo; a 1-pixel shift ~12
EOF
done

# similar: the image itself is left out
[ "$(code "$base/api/similar/$id?k=24")" = 200 ] || fail "similar: $(cat "$TMP/body")"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; assert len(r)==24 and all(x["id"]!=int(sys.argv[2]) for x in r)' \
    "$TMP/body" "$id" || fail "similar lists the image itself"

# errors are JSON with the right status
[ "$(code "$base/api/search")" = 400 ] || fail "no q"
contains "$(cat "$TMP/body")" '"error"' "errors are JSON"
[ "$(code "$base/api/image/123456")" = 404 ] || fail "unknown id"
[ "$(code -X POST -H 'Content-Type: image/jpeg' --data-binary "@$ORACLE/bad/huge_dims.jpg" "$base/api/search")" = 413 ] ||
    fail "an upload claiming 60000x60000 pixels: $(cat "$TMP/body")"
[ "$(code -X POST -H 'Content-Type: image/png' --data-binary "@$ORACLE/bad/truncated.png" "$base/api/search")" = 400 ] ||
    fail "a truncated upload: $(cat "$TMP/body")"

# path tricks and foreign hosts
for p in /../../../../etc/passwd /..%2f..%2fetc%2fpasswd /api/image/../../../etc/passwd \
         /api/image/1/../../../../etc/passwd /api/thumb/%2e%2e%2f1 /api/image/1%00 "/$ORACLE/images/rocket.jpg"; do
    c=$(code --path-as-is "$base$p")
    [ "$c" = 404 ] || fail "$p answers $c"
    grep -q 'root:' "$TMP/body" && fail "$p leaks /etc/passwd"
done
[ "$(code -H 'Host: evil.example' "$base/api/search?q=cat")" = 421 ] || fail "a foreign Host name is served"

# the port is taken: a second server says so
"$CLIPSEARCH" serve --db "$TMP/c.db" --model "$MODEL" --port "${base##*:}" 2>"$TMP/err2"; rc=$?
[ "$rc" -eq 1 ] || fail "a second server on the same port exits $rc"
contains "$(cat "$TMP/err2")" "cannot listen" "a taken port is explained"

# Ctrl-C stops it cleanly
kill -INT "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || fail "serve exits $rc after SIGINT: $(cat "$TMP/log")"
contains "$(cat "$TMP/log")" "stopping" "serve says it stops"
curl -s -o /dev/null "$base/healthz" && fail "still answering after SIGINT"

# the connection limits and deadlines from the command line, as /api/stats reports them
for bad in "--header-timeout 0" "--body-timeout 5x" "--max-connections -1" "--max-per-client 1.5"; do
    # shellcheck disable=SC2086
    "$CLIPSEARCH" serve --db "$TMP/c.db" $bad 2>"$TMP/err"; rc=$?
    [ "$rc" -eq 2 ] || fail "serve $bad exits $rc, want 2"
done
start_serve --db "$TMP/c.db" --model "$MODEL" --header-timeout 1500 --body-timeout 2500 \
    --max-connections 40 --max-per-client 3 --host 127.0.0.1
base=${SERVE_URL%/}
[ "$(code "$base/api/stats")" = 200 ] || fail "stats with limits"
$PY -c 'import json,sys; l=json.load(open(sys.argv[1]))["limits"]; assert (l["header_timeout_ms"], l["body_timeout_ms"], l["max_connections"], l["max_per_client"], l["reserve"]) == (1500, 2500, 40, 3, 5), l' \
    "$TMP/body" || fail "the limits given are not those used: $(cat "$TMP/body")"
kill -INT "$SERVE_PID"
wait "$SERVE_PID"
start_serve --db "$TMP/c.db" --model "$MODEL" --max-per-client 0
base=${SERVE_URL%/}
[ "$(code "$base/api/stats")" = 200 ] || fail "stats without a per-client limit"
$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["limits"]["max_per_client"] == 0' \
    "$TMP/body" || fail "--max-per-client 0 is not 'no limit': $(cat "$TMP/body")"
done_test
