#!/usr/bin/env bash
# `clipsearch duplicates` on real files: 11 different photos, each also as
# JPEG, WebP, quality-60 JPEG, half size and 95% crop (dup_variants.py,
# Pillow), indexed with both test models. Checked against numpy on the
# catalogue's own vectors: at the weakest same-picture score every variant
# groups with its original and the groups are exactly the connected
# components numpy finds (pictures the model tells apart stay apart);
# --strict groups pass on every pair; the keeper rule; JSON, TSV and text;
# no model needed, and files that are gone do not matter.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
VARIANTS=$CS_SOURCE_DIR/tests/index/dup_variants.py
$PY -c "import PIL, numpy" 2>/dev/null || { echo "SKIP: needs python3-pil and python3-numpy"; exit 77; }
$PY "$VARIANTS" "$ORACLE/images" "$TMP/photos" || fail "making the variants"

for model in tiny tiny-p16; do
    export CLIPSEARCH_DB=$TMP/$model.db
    "$CLIPSEARCH" index --model "$ORACLE/models/$model" "$TMP/photos" >/dev/null 2>"$TMP/err" ||
        fail "index ($model) exits $?: $(cat "$TMP/err")"
    margin=$($PY "$VARIANTS" --margin "$CLIPSEARCH_DB") || fail "margin ($model)"
    echo "$model: $margin"
    # just under the weakest same-picture pair: every variant must join its original
    t=$($PY -c 'import json,sys; print("%.5f" % (json.loads(sys.argv[1])["weakest_true"] - 1e-4))' "$margin")
    CLIPSEARCH_MODEL=/nonexistent "$CLIPSEARCH" duplicates --json -k 100 --threshold "$t" \
        >"$TMP/g.json" 2>"$TMP/err" || fail "duplicates ($model) exits $?: $(cat "$TMP/err")"
    $PY - "$TMP/g.json" "$CLIPSEARCH_DB" "$t" <<'PY' || fail "groups ($model) differ from numpy's"
import json, os, sqlite3, sys
import numpy as np
groups = [json.loads(l) for l in open(sys.argv[1])]
t = float(sys.argv[3])
rows = sqlite3.connect(sys.argv[2]).execute("SELECT path, embedding, width, height, size, mtime_ns FROM images").fetchall()
paths = [r[0] for r in rows]
x = np.stack([np.frombuffer(r[1], np.float32) for r in rows]).astype(np.float64)
x /= np.linalg.norm(x, axis=1, keepdims=True)
s = x @ x.T
# the reference components of "cosine >= t"
parent = list(range(len(paths)))
def root(i):
    while parent[i] != i:
        i = parent[i]
    return i
for i in range(len(paths)):
    for j in range(i + 1, len(paths)):
        if s[i, j] >= t:
            parent[root(i)] = root(j)
comps = {}
for i in range(len(paths)):
    comps.setdefault(root(i), set()).add(paths[i])
want = sorted(sorted(c) for c in comps.values() if len(c) > 1)
got = sorted(sorted(m["path"] for m in g["members"]) for g in groups)
assert got == want, (len(got), len(want))
# every picture's six files share a group
where = {m["path"]: n for n, g in enumerate(groups) for m in g["members"]}
pic = lambda p: os.path.basename(os.path.dirname(p))
for p in paths:
    assert where[p] == where[os.path.join(os.path.dirname(p), "orig.png")], p
assert len({pic(p) for p in paths}) == 11
print("  %d groups for 11 pictures at %.5f" % (len(groups), t))
info = {r[0]: r for r in rows}
for g in groups:
    m = g["members"]
    assert g["keeper"] == m[0]["path"]
    # the keeper rule: most pixels, then largest file, then oldest
    key = lambda p: (-info[p][2] * info[p][3], -info[p][4], info[p][5])
    assert key(m[0]["path"]) == min(key(x["path"]) for x in m), g["keeper"]
    for x in m:
        r = info[x["path"]]
        assert (x["width"], x["height"], x["bytes"], x["mtime"]) == (r[2], r[3], r[4], r[5] // 10**9)
        i = paths.index(x["path"])
        best = max(s[i, paths.index(y["path"])] for y in m if y is not x)
        assert abs(x["score"] - best) < 2e-4, (x["score"], best)
    sc = g["scores"]
    for a in range(len(m)):
        for b in range(len(m)):
            assert abs(sc[a][b] - s[paths.index(m[a]["path"]), paths.index(m[b]["path"])]) < 2e-4
PY
    # strict: every pair of each group passes
    "$CLIPSEARCH" duplicates --json --strict -k 100 --threshold "$t" >"$TMP/s.json" ||
        fail "duplicates --strict ($model)"
    $PY - "$TMP/s.json" "$t" <<'PY' || fail "strict groups ($model)"
import json, sys
t = float(sys.argv[2])
for l in open(sys.argv[1]):
    g = json.loads(l)
    assert all(v >= t - 1e-4 for row in g["scores"] for v in row), g["keeper"]
PY
    # the default threshold groups every variant with its original too
    "$CLIPSEARCH" duplicates --json >"$TMP/d.json" || fail "duplicates at the default ($model)"
    $PY - "$TMP/d.json" <<'PY' || fail "default threshold ($model)"
import json, os, sys
where = {m["path"]: n for n, l in enumerate(open(sys.argv[1])) for m in json.loads(l)["members"]}
for p in where:
    assert where.get(os.path.join(os.path.dirname(p), "orig.png")) == where[p], p
assert len(where) == 66
PY
done

# text: groups, keeper marked, summary
out=$("$CLIPSEARCH" duplicates --threshold 0.999) || fail "text output"
contains "$out" " keep " "text marks the keeper"
contains "$out" "orig.png" "text lists paths"
contains "$out" "groups," "text ends with a summary"

# TSV: one line per image; control characters in a name are escaped
mkdir -p "$TMP/odd"
cp "$TMP/photos/rocket/orig.png" "$TMP/odd/a"$'\t'"b"$'\n'"c.png"
cp "$TMP/photos/rocket/orig.png" "$TMP/odd/plain.png"
export CLIPSEARCH_DB=$TMP/odd.db
"$CLIPSEARCH" index --model "$ORACLE/models/tiny" "$TMP/odd" >/dev/null 2>&1 || fail "index odd"
"$CLIPSEARCH" duplicates --tsv >"$TMP/g.tsv" || fail "tsv"
[ "$(wc -l <"$TMP/g.tsv")" = 2 ] || fail "TSV: want 2 lines, got: $(cat "$TMP/g.tsv")"
grep -qF 'a\tb\nc.png' "$TMP/g.tsv" || fail "TSV escapes tab and newline: $(cat "$TMP/g.tsv")"
[ "$(awk -F'\t' '{print NF}' "$TMP/g.tsv" | sort -u)" = 8 ] || fail "TSV has 8 fields a line"

# the files may be gone: only the catalogue is read
rm -rf "$TMP/odd"
n=$("$CLIPSEARCH" duplicates --json | wc -l) || fail "duplicates without the files"
[ "$n" = 1 ] || fail "without the files: want 1 group, got $n"

# bad options
"$CLIPSEARCH" duplicates --threshold 1.5 2>"$TMP/err" && fail "threshold 1.5 accepted"
contains "$(cat "$TMP/err")" "threshold" "names the bad threshold"
"$CLIPSEARCH" duplicates --dry-run 2>/dev/null && fail "--dry-run without --move-to accepted"
done_test
