#!/usr/bin/env bash
# tests/fuzz/make_seeds_index.sh DIR - seed corpora for fuzz_faiss (DIR/faiss:
# small indexes of each type clipsearch reads, written by Python's faiss)
# and fuzz_vecfile (DIR/vecfile: DB.vectors files as vecfile.c writes
# them), and hostile files clipsearch must refuse: DIR/hnsw_bad_link (a graph
# with a link past its nodes), DIR/hnsw_wide (a search width of 2^31 - 1),
# DIR/ivf_bad_direct_map, DIR/ivf_negative_id, DIR/ivf_custom_ids (see below)
# and DIR/ivf_bad_metric (an IVF-PQ index whose
# metric is no metric FAISS knows), made at run time so that no binaries live
# in the repository.
set -euo pipefail
out=${1:?usage: make_seeds_index.sh DIR}
mkdir -p "$out/faiss" "$out/vecfile"
/usr/bin/python3 - "$out" <<'PY'
import struct, sys
import numpy as np
import faiss
out = sys.argv[1]
rng = np.random.default_rng(1)
x = rng.standard_normal((300, 8)).astype('float32')
x /= np.linalg.norm(x, axis=1, keepdims=True)
def save(name, ix, train=True):
    if train and not ix.is_trained:
        ix.train(x)
    if isinstance(ix, (faiss.IndexIDMap, faiss.IndexIDMap2)):
        ix.add_with_ids(x[:40], np.arange(40).astype('int64'))
    else:
        ix.add(x[:40])
    faiss.write_index(ix, f"{out}/faiss/{name}")
save("flat_ip", faiss.IndexFlatIP(8))
save("flat_l2", faiss.IndexFlatL2(8))
save("idmap_flat", faiss.IndexIDMap(faiss.IndexFlatIP(8)))
save("idmap2_flat", faiss.IndexIDMap2(faiss.IndexFlatIP(8)))
save("ivf_flat", faiss.index_factory(8, "IVF4,Flat", faiss.METRIC_INNER_PRODUCT))
save("ivf_pq", faiss.index_factory(8, "IVF4,PQ2x4np"))
save("ivf_sq", faiss.index_factory(8, "IVF4,SQ8"))
save("pq", faiss.index_factory(8, "PQ2x4np"))
save("sq", faiss.index_factory(8, "SQ8"))
save("hnsw", faiss.IndexHNSWFlat(8, 4))
faiss.write_index(faiss.IndexFlatIP(8), f"{out}/faiss/empty")
# hostile: an HNSW graph link to a node that is not there (faiss.read_index
# takes it; a search would follow it past the end of the vectors)
ix = faiss.IndexHNSWFlat(8, 4)
ix.add(x[:40])
nb = faiss.vector_to_array(ix.hnsw.neighbors)
nb[3] = 1000000
faiss.copy_array_to_vector(nb, ix.hnsw.neighbors)
faiss.write_index(ix, f"{out}/hnsw_bad_link")
# hostile: a search width of 2^31 - 1, for which every search allocates
# heaps of that many entries
ix = faiss.IndexHNSWFlat(8, 4)
ix.add(x[:40])
ix.hnsw.efSearch = 2**31 - 1
faiss.write_index(ix, f"{out}/hnsw_wide")
# an IVF index saved with its direct map (id -> list and offset), and the
# same with entry 0 pointing far past its list (FAISS uses a map read from
# a file as it is) and with a negative id in a list
ix = faiss.index_factory(8, "IVF4,Flat", faiss.METRIC_INNER_PRODUCT)
ix.train(x)
ix.add(x[:40])
ix.make_direct_map()
faiss.write_index(ix, f"{out}/faiss/ivf_direct_map")
dm = faiss.vector_to_array(ix.direct_map.array)
dm[0] = (dm[0] >> 32 << 32) + 100000
faiss.copy_array_to_vector(dm, ix.direct_map.array)
faiss.write_index(ix, f"{out}/ivf_bad_direct_map")
ix = faiss.index_factory(8, "IVF4,Flat", faiss.METRIC_INNER_PRODUCT)
ix.train(x)
ix.add(x[:40])
lists = ix.invlists
ids = faiss.rev_swig_ptr(lists.get_ids(0), lists.list_size(0))  # a view of list 0's ids
ids[0] = -5
faiss.write_index(ix, f"{out}/ivf_negative_id")
# an IVF index whose own ids are not its rows: its vectors cannot be read as rows
ix = faiss.index_factory(8, "IVF4,Flat", faiss.METRIC_INNER_PRODUCT)
ix.train(x)
ix.add_with_ids(x[:40], np.arange(1000, 1040).astype('int64'))
faiss.write_index(ix, f"{out}/ivf_custom_ids")
# hostile: the metric field (bytes 33..36, after fourcc, d, ntotal and two
# dummies, is_trained) set to 2^24, which faiss.read_index takes; a value
# over 1 is followed by a float metric_arg. FAISS's IVF scanner for it is null.
ix = faiss.index_factory(8, "IVF4,PQ2x4np")
ix.train(x)
ix.add(x[:40])
raw = faiss.serialize_index(ix).tobytes()
assert raw[:4] == b"IwPQ" and struct.unpack_from("<i", raw, 33)[0] == faiss.METRIC_L2
open(f"{out}/ivf_bad_metric", "wb").write(raw[:33] + struct.pack("<if", 1 << 24, 0.0) + raw[37:])
# DB.vectors: magic, version, dim, count, generation, uuid, ids_offset, vectors_offset
for n, dim in ((0, 4), (3, 4), (5, 16)):
    ids = np.arange(1, n + 1, dtype='<i8')
    voff = (64 + 8 * n + 63) & ~63
    v = rng.standard_normal((n, dim)).astype('<f4')
    if n:
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    head = b"CSVECS1\0" + struct.pack("<IIQQ16sQQ", 1, dim, n, 7, bytes(range(16)), 64, voff)
    body = head + ids.tobytes()
    body += b"\0" * (voff - len(body)) + v.tobytes()
    open(f"{out}/vecfile/v{n}x{dim}", "wb").write(body)
PY
ls "$out/faiss" "$out/vecfile" | wc -l
