"""Checks a `clipsearch search/similar --json` answer against the ranking the
reference embeddings give (expected-TAG.json of the oracle): every vector
L2-normalised, cosine = dot product, sorted best first.

usage: ranking.py EXPECTED.json RESULTS.json (--text TEXT | --image NAME) [--k K]
                  [--exclude NAME] [--tol T]

Result paths are matched to oracle images by their file name. Scores must
equal the reference cosines within --tol, and the order must be the
reference order, except between results whose reference scores are within
--tol of each other (a float32 engine may swap exact near-ties)."""
import argparse
import json
import math
import os
import sys


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("expected")
    ap.add_argument("results")
    ap.add_argument("--text")
    ap.add_argument("--image")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--tol", type=float, default=2e-4)
    a = ap.parse_args()

    ref = json.load(open(a.expected))
    images = {name: unit(e["embedding"]) for name, e in ref["images"].items()}
    if a.text is not None:
        q = [t for t in ref["texts"] if t["text"] == a.text]
        if not q:
            sys.exit("no reference text %r" % a.text)
        query = unit(q[0]["embedding"])
    else:
        query = images[a.image]
    score = {n: sum(x * y for x, y in zip(query, v)) for n, v in images.items()}
    candidates = [n for n in images if n not in a.exclude]
    want = sorted(candidates, key=lambda n: -score[n])[: a.k]

    got = json.load(open(a.results))
    if "query" not in got or "results" not in got:
        sys.exit("results JSON lacks query/results: %s" % sorted(got))
    names = [os.path.basename(r["path"]) for r in got["results"]]
    errors = []
    if len(names) != len(want):
        errors.append("%d results, want %d" % (len(names), len(want)))
    for r, n in zip(got["results"], names):
        if n not in score:
            errors.append("%s is not a reference image" % n)
        elif n in a.exclude:
            errors.append("%s should have been excluded" % n)
        elif abs(r["score"] - score[n]) > a.tol:
            errors.append("%s: score %.6f, reference %.6f" % (n, r["score"], score[n]))
    for i, (g, w) in enumerate(zip(names, want)):
        if g != w and (g not in score or abs(score[g] - score[w]) > a.tol):
            errors.append("rank %d: %s (%.6f), want %s (%.6f)"
                          % (i, g, score.get(g, float("nan")), w, score[w]))
    if errors:
        print("\n".join(errors))
        print("got:  " + " ".join(names))
        print("want: " + " ".join(want))
        sys.exit(1)


main()
