#!/usr/bin/env bash
# A full-size checkpoint (ViT-B/32 shapes, from ../shared/tools/make_model.py)
# loads and embeds an image file and a text at cosine >= 0.99999 of a float64
# PyTorch forward pass (clip_reference.py, itself checked against the oracle
# first). Set CS_FULL_MODEL to the folder (default: ../models/vit-b-32 beside
# the checkout); skipped when it is absent.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
FULL=${CS_FULL_MODEL:-$CS_SOURCE_DIR/../models/vit-b-32}
if [ ! -f "$FULL/model.safetensors" ]; then
    echo "SKIP: no full-size model at $FULL (set CS_FULL_MODEL)"
    exit 77
fi
PY=/usr/bin/python3
REF="$CS_SOURCE_DIR/tests/model/clip_reference.py"
IDS="[49406, 320, 1125, 539, 320, 2368, 49407]" # "a photo of a cat"
CROP="$ORACLE/crops-224/chelsea.png.png"

# the reference agrees with the oracle's own expected values
$PY "$REF" "$ORACLE/models/tiny" "$CROP" "$IDS" >"$TMP/tiny.json" || fail "reference failed"
$PY - "$TMP/tiny.json" "$ORACLE/expected-tiny.json" <<'PYEOF' || fail "reference disagrees with the oracle"
import json, math, sys
r = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
cos = lambda a, b: sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
assert cos(r["image"], d["images"]["chelsea.png"]["embedding"]) > 1 - 1e-12
assert cos(r["text"], [t for t in d["texts"] if t["text"] == "a photo of a cat"][0]["embedding"]) > 1 - 1e-12
PYEOF

$PY "$REF" "$FULL" "$CROP" "$IDS" >"$TMP/ref.json" || fail "reference failed on $FULL"
"$CLIPSEARCH" embed --model "$FULL" --raw --image "$ORACLE/images/chelsea.png" \
    --text "a photo of a cat" >"$TMP/ours.jsonl" || fail "embed failed on $FULL"
$PY - "$TMP/ref.json" "$TMP/ours.jsonl" <<'PYEOF' || fail "full-size embeddings differ from the reference"
import json, math, sys
r = json.load(open(sys.argv[1])); o = [json.loads(l) for l in open(sys.argv[2])]
cos = lambda a, b: sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
norm = lambda v: math.sqrt(sum(x * x for x in v))
for got, want in ((o[0]["embedding"], r["image"]), (o[1]["embedding"], r["text"])):
    assert len(got) == len(want) == 512
    assert cos(got, want) >= 0.99999, cos(got, want)
    assert abs(norm(got) / norm(want) - 1) < 1e-4
PYEOF
done_test
