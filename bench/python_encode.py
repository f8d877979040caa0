#!/usr/bin/env python3
"""pprl.encode from a pandas DataFrame against the same rows as a pyarrow Table (and a polars
DataFrame, when polars is installed), alternating, in one process; checks the bytes are identical.

"pandas" is a DataFrame of object columns, which pprl.encode reads cell by cell (as it read every
DataFrame before it read Arrow); "pandas-arrow" holds its strings in Arrow (pandas 3's default with
pyarrow installed, or dtype "string[pyarrow]"), which pprl.encode reads in place.

    python3 bench/python_encode.py [--rows 1000000] [--repeats 3] [--threads N] [--schema S]

The rows are `pprl synth` records of all three parties (ids are unique across them), the first
--rows of them. Building the pyarrow Table from the DataFrame is not timed: an analyst's Arrow data
comes from Parquet or a database, not from pandas.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa

import pprl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--schema", default=os.path.join(ROOT, "examples", "youth_schema.json"))
    args = parser.parse_args()

    people = max(1000, args.rows // 2)
    while True:
        data = pprl.synth(people=people, seed=5)
        frame = pd.concat([data[p] for p in ("city", "schools", "promise")], ignore_index=True)
        if len(frame) >= args.rows:
            break
        people = people * 3 // 2
    frame = frame.iloc[: args.rows].reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    inputs = {"pandas": frame.astype(object), "pandas-arrow": frame.astype("string[pyarrow]"), "pyarrow": table}
    try:
        import polars

        inputs["polars"] = polars.from_arrow(table)
    except ImportError:
        pass
    schema = pprl.Schema.from_file(args.schema)
    key = pprl.SecretKey.generate()
    seconds = {name: [] for name in inputs}
    first = {}
    for _ in range(args.repeats):
        for name, data_in in inputs.items():
            start = time.perf_counter()
            encodings, rejects = pprl.encode(data_in, schema, key, threads=args.threads)
            seconds[name].append(time.perf_counter() - start)
            if name not in first:
                first[name] = (encodings.to_numpy().copy(), encodings.ids, len(rejects))
    reference = first["pandas"]
    for name, (bits, ids, rejected) in first.items():
        if not (np.array_equal(bits, reference[0]) and ids == reference[1] and rejected == reference[2]):
            print(f"{name}: the encodings differ from pandas'", file=sys.stderr)
            return 1
    print(f"{len(frame):,} rows, {args.schema}, threads {args.threads or 'all'} ({os.cpu_count()} cores), "
          f"pyarrow {pa.__version__}; median of {args.repeats}, alternating; bytes identical")
    base = statistics.median(seconds["pandas"])
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:13s} {median:7.3f} s  {len(frame) / median:12,.0f} rows/s  {base / median:5.2f}x pandas  "
              f"(min {min(times):.3f}, max {max(times):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
