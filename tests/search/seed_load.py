"""Loads an index the way the Python tutorial does and searches it.

usage: seed_load.py INDEX QUERIES.f32 VECTORS.f32 K

Prints one line per hit, "query rank id score path", then a line
"same_bytes 0|1": whether the Python faiss package, given the same vectors,
writes a byte-identical IndexIDMap(IndexFlatIP) file.
"""
import sys

import faiss
import numpy as np


def load_faiss_index(index_path):  # the tutorial's own loading code
    index = faiss.read_index(index_path)
    with open(index_path + '.paths', 'r') as f:
        image_paths = [line.strip() for line in f]
    return index, image_paths


def main():
    path, queries, vectors, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    index, paths = load_faiss_index(path)
    q = np.fromfile(queries, dtype='float32').reshape(-1, index.d)
    D, I = index.search(q, k)
    for qi in range(q.shape[0]):
        for rank in range(k):
            i = int(I[qi, rank])
            print(qi, rank, i, repr(float(D[qi, rank])), paths[i] if i >= 0 else '-')
    v = np.fromfile(vectors, dtype='float32').reshape(-1, index.d)
    ref = faiss.IndexIDMap(faiss.IndexFlatIP(index.d))
    ref.add_with_ids(v, np.arange(v.shape[0]).astype('int64'))
    faiss.write_index(ref, path + '.python')
    same = open(path, 'rb').read() == open(path + '.python', 'rb').read()
    print('same_bytes', int(same))


if __name__ == '__main__':
    main()
