#!/usr/bin/env bash
# GET /api/duplicates: the same groups as `clipsearch duplicates --json`
# (keeper, members, scores, sizes), paging, strict, bad arguments, and it is
# read only (no other method, no file touched).
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
need_curl
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny
cp -r "$ORACLE/images" "$TMP/photos"
chmod -R u+w "$TMP/photos"
cp "$TMP/photos/rocket.jpg" "$TMP/photos/rocket copy.jpg"

start_serve --db "$TMP/c.db" --model "$MODEL" "$TMP/photos"
base=${SERVE_URL%/}
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
before=$(cd "$TMP/photos" && ls -l | md5sum)

for t in 0.999 0.99; do
    [ "$(code "$base/api/duplicates?threshold=$t&limit=1000")" = 200 ] ||
        fail "duplicates at $t: $(cat "$TMP/body")"
    cp "$TMP/body" "$TMP/api.json"
    CLIPSEARCH_DB=$TMP/c.db "$CLIPSEARCH" duplicates --json -k 10 --threshold $t >"$TMP/cli.json" ||
        fail "the CLI at $t"
    $PY - "$TMP/api.json" "$TMP/cli.json" "$t" <<'EOF' || fail "API and CLI differ at $t: $(cat "$TMP/api.json")"
import json, sys
api = json.load(open(sys.argv[1]))
cli = [json.loads(l) for l in open(sys.argv[2])]
assert api["threshold"] == float(sys.argv[3]) and api["strict"] is False
assert api["total"] == len(cli) == len(api["groups"]) and api["more"] is False
assert api["total"] >= 1
for a, c in zip(api["groups"], cli):
    am, cm = a["members"], c["members"]
    assert [m["path"] for m in am] == [m["path"] for m in cm]
    assert am[0]["keeper"] is True and not any(m["keeper"] for m in am[1:])
    assert a["keeper"] == am[0]["id"] and am[0]["path"] == c["keeper"]
    for x, y in zip(am, cm):
        assert abs(x["score"] - y["score"]) < 1e-4
        assert (x["bytes"], x["width"], x["height"], x["mtime"]) == (y["bytes"], y["width"], y["height"], y["mtime"])
        assert x["thumb"] == "/api/thumb/%d" % x["id"] and x["image"] == "/api/image/%d" % x["id"]
    assert abs(a["best"] - max(m["score"] for m in am)) < 1e-6
    assert a["weakest"] <= a["best"]
EOF
done
# the byte-identical copy is one of the groups, scored 1
$PY - "$TMP/api.json" <<'EOF' || fail "rocket and its copy: $(cat "$TMP/api.json")"
import json, sys
g = [g for g in json.load(open(sys.argv[1]))["groups"] if any(m["name"] == "rocket copy.jpg" for m in g["members"])]
assert len(g) == 1 and any(m["name"] == "rocket.jpg" for m in g[0]["members"]), g
assert g[0]["best"] > 0.9999
EOF
# a thumbnail of a member is served
tid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["groups"][0]["members"][1]["id"])' "$TMP/api.json")
[ "$(code "$base/api/thumb/$tid")" = 200 ] || fail "thumbnail of a member"

# paging and strict
[ "$(code "$base/api/duplicates?threshold=0.99&limit=1&offset=0")" = 200 ] || fail "limit=1"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["groups"]) == 1 and d["more"] == (d["total"] > 1)' "$TMP/body" ||
    fail "paging: $(cat "$TMP/body")"
[ "$(code "$base/api/duplicates?threshold=0.99&strict=1")" = 200 ] || fail "strict"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["strict"] and all(g["weakest"] >= 0.99 - 1e-6 for g in d["groups"])' "$TMP/body" ||
    fail "strict groups pass on every pair: $(cat "$TMP/body")"
[ "$(code "$base/api/duplicates")" = 200 ] || fail "the default threshold"

# bad arguments, other methods
for q in "threshold=2" "threshold=0" "threshold=-0.5" "threshold=abc" "threshold=0.9x" "strict=2" "limit=0" "limit=5000" "offset=-1"; do
    [ "$(code "$base/api/duplicates?$q")" = 400 ] || fail "?$q answers $(cat "$TMP/body")"
    contains "$(cat "$TMP/body")" '"error"' "?$q explains itself"
done
[ "$(code -X POST "$base/api/duplicates")" = 405 ] || fail "POST is refused"
[ "$(code -X DELETE "$base/api/duplicates")" = 405 ] || fail "DELETE is refused"
[ "$before" = "$(cd "$TMP/photos" && ls -l | md5sum)" ] || fail "the photos changed"
done_test
