# tests/search/test_export_cli.sh - the Python tutorial's workflow across the two
# stacks: `clipsearch index` the oracle images with the reference model,
# `clipsearch export --faiss`, then the tutorial's Python loading code (Debian's
# python3-faiss) must find, for every image, the neighbours that
# `clipsearch similar` finds, with the same scores.
source "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
/usr/bin/python3 -c 'import faiss, numpy' 2>/dev/null || { echo "SKIP: no python3-faiss"; exit 77; }

DB=$TMP/catalog.db
mkdir "$TMP/photos"
cp "$ORACLE"/images/*.{jpg,png,webp} "$TMP/photos/"
"$CLIPSEARCH" index --quiet --db "$DB" --model "$ORACLE/models/tiny" "$TMP/photos" \
    || fail "index failed"
out=$("$CLIPSEARCH" export --faiss "$TMP/photos.faiss" --db "$DB") || fail "export failed"
contains "$out" "photos.faiss.paths" "export summary"

# clipsearch similar for every indexed image, as TSV blocks
for f in "$TMP"/photos/*; do
    echo "# $f"
    "$CLIPSEARCH" similar --tsv -k 5 --db "$DB" "$f" || fail "similar $f failed"
done >"$TMP/similar.tsv"

/usr/bin/python3 - "$TMP/photos.faiss" "$TMP/similar.tsv" <<'PY' || fail "Python's neighbours differ from clipsearch similar"
import sys
import faiss
import numpy as np

def load_faiss_index(index_path):  # the tutorial's loading code
    index = faiss.read_index(index_path)
    with open(index_path + '.paths', 'r') as f:
        image_paths = [line.strip() for line in f]
    return index, image_paths

index, paths = load_faiss_index(sys.argv[1])
assert index.ntotal == len(paths) > 0, (index.ntotal, len(paths))
flat = faiss.downcast_index(index.index)
vectors = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
norms = np.linalg.norm(vectors, axis=1)
assert np.allclose(norms, 1, atol=1e-5), 'stored vectors are not L2-normalised'

expected, query = {}, None
for line in open(sys.argv[2]):
    line = line.rstrip('\n')
    if line.startswith('# '):
        query = line[2:]
        expected[query] = []
    elif line:
        score, path = line.split('\t', 1)
        expected[query].append((path, float(score)))
assert len(expected) == index.ntotal, (len(expected), index.ntotal)
for query, want in expected.items():
    qi = paths.index(query)
    D, I = index.search(vectors[qi:qi + 1], 6)
    got = [(paths[i], float(d)) for d, i in zip(D[0], I[0]) if i != qi][:5]
    for (gp, gs), (wp, ws) in zip(got, want):
        assert abs(gs - ws) < 1e-5, (query, gp, gs, wp, ws)
        assert gp == wp or abs(gs - ws) < 1e-6, (query, got, want)
    assert len(got) == len(want) == 5, (query, got, want)
print(f'{len(expected)} queries: the same neighbours')
PY
done_test
