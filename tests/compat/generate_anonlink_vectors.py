#!/usr/bin/env python3
"""Known answers for pprl's anonlink-compatible clustering (`pprl link --merge clique`), made by anonlink.

Run once by hand, in a throwaway virtual environment (CI never needs anonlink):

    python3 -m venv /tmp/ck && /tmp/ck/bin/pip install clkhash==0.18.3 anonlink==0.15.3
    /tmp/ck/bin/python tests/compat/generate_anonlink_vectors.py tests/compat/anonlink_groups.json

Three and four datasets are made from the CLKs clkhash produced for tests/compat/vectors/length_1000.json (1000 bits):
overlapping ranges of those records, each copy with a few random bits flipped (a seeded generator), so
there are near-duplicates, chains and ties. For several thresholds anonlink finds the candidate pairs
(Dice ≥ t, all pairs) and `anonlink.solving.greedy_solve` turns them into groups; the file holds the
datasets (base64), and per threshold the number of candidates and the groups as sorted
[dataset, record] lists. The native and the pure-Python solver must agree, and are checked to.
"""
import base64
import json
import os
import random
import sys

import anonlink
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient_accelerated
from anonlink.solving import greedy_solve, greedy_solve_python
from bitarray import bitarray

ROOT = os.path.dirname(os.path.abspath(__file__))


def flipped(clk, rng, flips):
    bits = bitarray()
    bits.frombytes(base64.b64decode(clk))
    for _ in range(flips):
        i = rng.randrange(len(bits))
        bits[i] = not bits[i]
    return bits


def make_datasets(clks, ranges, rng):
    return [[flipped(clks[i], rng, rng.choice([0, 0, 1, 3, 8, 20])) for i in range(*r)] for r in ranges]


def groups_of(solution):
    return sorted(sorted([int(d), int(r)] for d, r in group) for group in solution)


def main(out_path):
    source = json.load(open(os.path.join(ROOT, "vectors", "length_1000.json"), encoding="utf-8"))
    clks = [c for c in source["clks"] if c is not None]
    rng = random.Random("pprl anonlink groups")
    cases = []
    for name, ranges in (("three", [(0, 120), (30, 150), (60, 186)]),
                         ("four", [(0, 90), (20, 120), (50, 150), (80, 186)])):
        datasets = make_datasets(clks, ranges, rng)
        runs = []
        for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
            candidates = find_candidate_pairs(datasets, dice_coefficient_accelerated, threshold)
            native = groups_of(greedy_solve(candidates))
            assert native == groups_of(greedy_solve_python(candidates)), (name, threshold)
            runs.append({"threshold": threshold, "candidates": len(candidates[0]), "groups": native})
        cases.append({"name": name, "bits": len(datasets[0][0]),
                      "datasets": [[base64.b64encode(b.tobytes()).decode() for b in d] for d in datasets],
                      "runs": runs})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"anonlink_version": anonlink.__version__, "cases": cases}, f, indent=0)
        f.write("\n")
    for case in cases:
        for run in case["runs"]:
            print(f"{case['name']} t={run['threshold']}: {run['candidates']} candidates, {len(run['groups'])} groups, "
                  f"{sum(len(g) > 2 for g in run['groups'])} of more than two records")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "anonlink_groups.json"))
