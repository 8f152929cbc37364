#!/usr/bin/python3
"""Recall@10 against time of Debian's FAISS (python3-faiss) on the files of
make_vectors.py: IVF<nlist>,Flat and IVF<nlist>,SQ8 (plain, and with
exact re-ranking of the best 160 by IndexRefineFlat, as clipsearch does)
at several nprobe, and HNSW at several efSearch, one query at a time on
one thread, as clipsearch's bench_ann measures its own search. One JSON
object per setting.

  ann_faiss.py BASE.f32 QUERIES.f32 GT.i32 [--dim 512] [--cache DIR]
               [--ann DB.ann] [--kinds flat,sq8,sq8-refine,hnsw]
               [--nlist 4096] [--nprobe 16,32,64] [--hnsw-m 16] [--ef 64,128,256]

--ann DB.ann gives FAISS's IVF indexes clipsearch's own centroids and
lists (read from the file; ids there are rows + 1), so that both search
the same partition and only the scans differ; without it FAISS trains its
own k-means with the same budget as clipsearch (32 rows per list, 10
rounds). --cache keeps the built indexes (DIR/*.faiss) so that a second
run measures without building again; build times are printed when an
index is built. The first half of the queries are image-like, the second
half text-like (make_vectors.py). "cpu_median_ms" is the thread's CPU
time, the steadier figure on a shared machine."""
import argparse
import json
import os
import statistics
import struct
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


def read_ann(path):
    """Centroids (nlist x dim), and per base row its list, from DB.ann
    (src/index/ann.h)."""
    with open(path, "rb") as f:
        h = f.read(128)
    magic, _ver, dim, nlist, _stride, count = struct.unpack_from("<8s4IQ", h)
    assert magic == b"CSANN1\0\0", magic
    off = struct.unpack_from("<6Q", h, 64)  # centroids, sq, lists, ids, codes, size
    m = np.memmap(path, dtype=np.uint8, mode="r")
    cent = np.frombuffer(m[off[0]:off[0] + nlist * dim * 4], dtype=np.float32).reshape(nlist, dim)
    lists = np.frombuffer(m[off[2]:off[2] + (nlist + 1) * 8], dtype=np.uint64).astype(np.int64)
    ids = np.frombuffer(m[off[3]:off[3] + count * 8], dtype=np.int64)
    assign = np.empty(count, dtype=np.int64)
    assign[ids - 1] = np.repeat(np.arange(nlist), np.diff(lists))
    return np.array(cent), assign


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
    ap.add_argument("--ann")
    ap.add_argument("--kinds", default="flat,sq8,sq8-refine,hnsw")
    a = ap.parse_args()
    d = a.dim
    x = np.memmap(a.base, dtype=np.float32, mode="r").reshape(-1, d)
    q = np.fromfile(a.queries, dtype=np.float32).reshape(-1, d)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    gt = np.fromfile(a.gt, dtype=np.int32).reshape(len(q), -1)[:, :10].tolist()
    if a.cache:
        os.makedirs(a.cache, exist_ok=True)

    kinds = a.kinds.split(",")
    ours = read_ann(a.ann) if a.ann else None
    nlist = len(ours[0]) if ours else a.nlist
    tag = "ours" if ours else "own"

    def ivf(kind):
        def build():
            quant = faiss.IndexFlatIP(d)
            if kind == "flat":
                index = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexIVFScalarQuantizer(quant, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                      faiss.METRIC_INNER_PRODUCT)
            index.cp.max_points_per_centroid = 32  # clipsearch's training budget
            index.cp.niter = 10
            sample = np.ascontiguousarray(x[:: max(1, len(x) // (32 * nlist))])
            if ours:
                quant.add(ours[0])  # trained: IndexIVF.train trains the SQ alone
            index.train(sample)
            for b in range(0, len(x), 65536):
                xb = np.ascontiguousarray(x[b:b + 65536])
                ids = np.arange(b, b + len(xb), dtype=np.int64)
                if ours:
                    lb = np.ascontiguousarray(ours[1][b:b + len(xb)])
                    index.add_core(len(xb), faiss.swig_ptr(xb), faiss.swig_ptr(ids),
                                   faiss.swig_ptr(lb))
                else:
                    index.add_with_ids(xb, ids)
            return index
        return load_or_build(cache("ivf%d-%s-%s.faiss" % (nlist, kind, tag)), build)

    def hnsw():
        index = faiss.IndexHNSWFlat(d, a.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 100
        for b in range(0, len(x), 65536):
            index.add(np.ascontiguousarray(x[b:b + 65536]))
        return index

    faiss.omp_set_num_threads(a.build_threads)
    cache = (lambda name: os.path.join(a.cache, name)) if a.cache else (lambda name: None)
    for kind in [k for k in ("flat", "sq8") if k in kinds or (k == "sq8" and "sq8-refine" in kinds)]:
        faiss.omp_set_num_threads(a.build_threads)
        index = ivf(kind)
        faiss.omp_set_num_threads(1)
        runs = [(index, "faiss-ivf%d-%s-%s" % (nlist, kind, tag))] if kind in kinds else []
        if kind == "sq8" and "sq8-refine" in kinds:
            flat = faiss.IndexFlatIP(d)  # the full vectors, for the re-ranking
            for b in range(0, len(x), 65536):
                flat.add(np.ascontiguousarray(x[b:b + 65536]))
            refine = faiss.IndexRefine(index, flat)
            refine.k_factor = 16  # 160 candidates for 10, as clipsearch
            runs.append((refine, "faiss-ivf%d-sq8-refine160-%s" % (nlist, tag)))
        for target, name in runs:
            for p in [int(s) for s in a.nprobe.split(",") if s]:
                index.nprobe = p  # the refined search asks its base index
                ids, *t = timed_search(target, q)
                report(name, "nprobe", p, ids, gt, *t)
        del runs, index
    if "hnsw" in kinds and a.ef:
        faiss.omp_set_num_threads(a.build_threads)
        index = load_or_build(cache("hnsw%d.faiss" % a.hnsw_m), hnsw)
        faiss.omp_set_num_threads(1)
        for ef in [int(s) for s in a.ef.split(",") if s]:
            index.hnsw.efSearch = ef
            ids, *t = timed_search(index, q)
            report("faiss-hnsw%d" % a.hnsw_m, "ef", ef, ids, gt, *t)


if __name__ == "__main__":
    main()
