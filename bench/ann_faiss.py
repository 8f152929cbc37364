#!/usr/bin/python3
"""Recall@10 against time of Debian's FAISS (python3-faiss) on the files of
make_vectors.py: IVF<nlist>,Flat at several nprobe and HNSW at several
efSearch, one query at a time on one thread, as clipsearch's bench_ann
measures its own search. One JSON object per setting.

  ann_faiss.py BASE.f32 QUERIES.f32 GT.i32 [--dim 512] [--cache DIR]
               [--nlist 4096] [--nprobe 16,32,64] [--hnsw-m 16] [--ef 64,128,256]

--cache keeps the built indexes (DIR/ivf<nlist>.faiss, DIR/hnsw<M>.faiss)
so that a second run measures without building again; build times are
printed when an index is built. The first half of the queries are
image-like, the second half text-like (make_vectors.py)."""
import argparse
import json
import os
import statistics
import time

import faiss
import numpy as np


def recall(ids, gt):
    h = len(gt) // 2
    r = [len(set(ids[i]) & set(gt[i])) / 10 for i in range(len(gt))]
    return np.mean(r), np.mean(r[:h]), np.mean(r[h:])


def timed_search(index, q):
    """Ids, and wall and thread-CPU times (ms) after an untimed pass."""
    out, times, cpu = [], [], []
    for timed in (False, True):
        for v in q:
            v = v[None, :]
            t0, c0 = time.perf_counter(), time.thread_time()
            _, i = index.search(v, 10)
            if timed:
                cpu.append((time.thread_time() - c0) * 1e3)
                times.append((time.perf_counter() - t0) * 1e3)
                out.append(i[0].tolist())
    return out, statistics.median(times), float(np.percentile(times, 90)), statistics.median(cpu)


def report(kind, setting, value, ids, gt, med, p90, cpu):
    a, im, tx = recall(ids, gt)
    print(json.dumps({"search": kind, setting: value, "recall": round(a, 4),
                      "recall_image": round(im, 4), "recall_text": round(tx, 4),
                      "median_ms": round(med, 3), "p90_ms": round(p90, 3),
                      "cpu_median_ms": round(cpu, 3)}), flush=True)


def load_or_build(path, build):
    if path and os.path.exists(path):
        return faiss.read_index(path)
    t0 = time.perf_counter()
    index = build()
    print(json.dumps({"built": os.path.basename(path) if path else "index",
                      "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    if path:
        faiss.write_index(index, path)
    return index


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("queries")
    ap.add_argument("gt")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--cache")
    ap.add_argument("--nlist", type=int, default=4096)
    ap.add_argument("--nprobe", default="16,32,64")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef", default="64,128,256")
    ap.add_argument("--build-threads", type=int, default=2)
    a = ap.parse_args()
    d = a.dim
    x = np.memmap(a.base, dtype=np.float32, mode="r").reshape(-1, d)
    q = np.fromfile(a.queries, dtype=np.float32).reshape(-1, d)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    gt = np.fromfile(a.gt, dtype=np.int32).reshape(len(q), -1)[:, :10].tolist()
    if a.cache:
        os.makedirs(a.cache, exist_ok=True)

    def ivf():
        quant = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quant, d, a.nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(x))
        index.add(np.ascontiguousarray(x))
        return index

    def hnsw():
        index = faiss.IndexHNSWFlat(d, a.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 100
        index.add(np.ascontiguousarray(x))
        return index

    faiss.omp_set_num_threads(a.build_threads)
    cache = (lambda name: os.path.join(a.cache, name)) if a.cache else (lambda name: None)
    index = load_or_build(cache("ivf%d.faiss" % a.nlist), ivf)
    faiss.omp_set_num_threads(1)
    for p in [int(s) for s in a.nprobe.split(",") if s]:
        index.nprobe = p
        ids, *t = timed_search(index, q)
        report("faiss-ivf%d-flat" % a.nlist, "nprobe", p, ids, gt, *t)
    del index
    if a.ef:
        faiss.omp_set_num_threads(a.build_threads)
        index = load_or_build(cache("hnsw%d.faiss" % a.hnsw_m), hnsw)
        faiss.omp_set_num_threads(1)
        for ef in [int(s) for s in a.ef.split(",") if s]:
            index.hnsw.efSearch = ef
            ids, *t = timed_search(index, q)
            report("faiss-hnsw%d" % a.hnsw_m, "ef", ef, ids, gt, *t)


if __name__ == "__main__":
    main()
