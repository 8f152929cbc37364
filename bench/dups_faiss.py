"""The duplicate job of bench_dups, done with Debian's FAISS (python3-faiss),
for a side-by-side ratio (bench/compare_dups.sh).

usage: /usr/bin/python3 dups_faiss.py BASE.f32 DUPS.i64 [--dim 512] [--n N]
       [--threshold 0.97] [--nlist L] [--nprobe P] [--threads T]

IndexIVFFlat (inner product) trained on an evenly spaced sample (the same
sizes as ours: 32 rows a list, at most 65536), every row added, then
range_search(rows, threshold) in batches, which gives every pair >= T the
probed lists hold; then connected components (union-find in numpy).
Prints one JSON line like bench_dups.
"""
import argparse
import json
import resource
import time

import faiss
import numpy as np


def components(n, a, b):
    """Union-find over the links: a label per row (the root row)."""
    parent = {}

    def find(v):
        while parent.get(v, v) != v:
            parent[v] = parent.get(parent[v], parent[v])
            v = parent[v]
        return v

    for u, v in zip(a.tolist(), b.tolist()):
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    label = np.arange(n, dtype=np.int64)
    for v in list(parent):
        label[v] = find(v)
    return label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base"), ap.add_argument("dups")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--n", type=int, default=-1)
    ap.add_argument("--threshold", type=float, default=0.97)
    ap.add_argument("--nlist", type=int, default=0)
    ap.add_argument("--nprobe", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=20000)
    a = ap.parse_args()
    if a.threads:
        faiss.omp_set_num_threads(a.threads)
    t0 = time.time()
    x = np.memmap(a.base, dtype=np.float32, mode="r").reshape(-1, a.dim)
    if 0 <= a.n < len(x):
        x = x[:a.n]
    x = np.ascontiguousarray(x)  # read once, before the clock starts (as bench_dups maps it)
    n = len(x)
    load_s = time.time() - t0
    nlist = a.nlist or int((a.nprobe * n) ** 0.5)
    s0 = time.time()
    quant = faiss.IndexFlatIP(a.dim)
    index = faiss.IndexIVFFlat(quant, a.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # the same sample as ours, without its warning
    s = min(max(nlist * 32, nlist), 65536, n)
    index.train(x[(np.arange(s) * n) // s])
    index.add(x)
    index.nprobe = a.nprobe
    ea, eb = [], []
    for i in range(0, n, a.batch):
        lims, D, I = index.range_search(x[i:i + a.batch], a.threshold)
        rows = np.repeat(np.arange(i, i + len(lims) - 1), np.diff(lims.astype(np.int64)))
        keep = I > rows  # each pair once, and not the row itself
        ea.append(rows[keep]), eb.append(I[keep])
    ea, eb = np.concatenate(ea), np.concatenate(eb)
    find_s = time.time() - s0
    label = components(n, ea, eb)
    total_s = time.time() - s0
    pairs = np.fromfile(a.dups, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[(pairs[:, 0] < n) & (pairs[:, 1] < n)]
    same = label[pairs[:, 0]] == label[pairs[:, 1]]
    cos = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    above = cos >= a.threshold
    print(json.dumps({"n": n, "dim": a.dim, "threshold": a.threshold, "method": "faiss-ivfflat",
                      "nlist": nlist, "nprobe": a.nprobe, "threads": faiss.omp_get_max_threads(),
                      "load_s": round(load_s, 2), "find_s": round(find_s, 2), "total_s": round(total_s, 2),
                      "links": int(len(ea)), "planted": int(len(pairs)), "found": int(same.sum()),
                      "recall": round(float(same.mean()), 5), "planted_above_t": int(above.sum()),
                      "recall_above_t": round(float(same[above].mean()), 5),
                      "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "faiss": faiss.__version__}))


if __name__ == "__main__":
    main()
