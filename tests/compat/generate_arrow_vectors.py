#!/usr/bin/env python3
"""Known answers for pprl's Arrow input and Parquet tables, made by pyarrow itself.

Run once by hand, in a throwaway virtual environment (the tests only read what it writes):

    python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow==26.0.1
    /tmp/pa/bin/python tests/compat/generate_arrow_vectors.py tests/compat/arrow

Writes into the directory given:
- columns.arrow: an Arrow IPC file of two record batches whose columns are every layout pprl reads
  in place (utf8, large utf8, utf8 view, binary, dictionaries with 8- and 32-bit indices) and the
  types it casts to text first (int64, float64 with NaN, date32, bool), with nulls, empty strings,
  non-ASCII text, values longer than a view's 12 inline bytes and one byte string that is not UTF-8;
- columns.json: for each column, the text pyarrow makes of each cell (what pprl must encode: a null,
  or a float NaN, is missing, ""; casts by pyarrow.compute.cast to string), or null for the cell that
  is not UTF-8 (pprl must reject its row);
- entities.parquet, pairs.parquet, link_pairs.parquet: tables as pprl writes them, written by
  pyarrow.parquet, with their rows in tables.json;
- bad_null_id.parquet (an entity table with a missing record id) and bad_score.parquet (a score of
  1.5): tables pprl.read_parquet must refuse.
"""
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NAMES = ["José", "", None, "李小龙", "😀Joy", "Aaliyah Washington-Montgomery", "o'neal", "ZOË", "Łukasz", "x"]


def columns_table():
    n = len(NAMES)
    ids = [f"r{i:02d}" for i in range(2 * n)]
    names = NAMES + list(reversed(NAMES))
    binary = [None if v is None else v.encode("utf-8") for v in names]
    binary[3] = b"\xffbad"  # not UTF-8
    dict_values = ["f", "m", "x", "female"]
    dict_indices = [i % 4 if i % 7 else None for i in range(2 * n)]
    ints = [i * 1_000_003 - 5 if i % 5 else None for i in range(2 * n)]
    floats = [1.5, 2.0, float("nan"), None, -0.25, 1e21, 3.0, 60612.0, 7.125, 0.1] * 2
    dates = [None if i % 6 == 0 else 10_000 + 37 * i for i in range(2 * n)]  # days since 1970-01-01
    bools = [True, False, None, True, False] * 4
    arrays = {
        "record_id": pa.array(ids, pa.string()),
        "utf8": pa.array(names, pa.string()),
        "large_utf8": pa.array(names, pa.large_string()),
        "utf8_view": pa.array(names, pa.string_view()),
        "binary": pa.array(binary, pa.binary()),
        "dict8": pa.DictionaryArray.from_arrays(pa.array(dict_indices, pa.int8()), pa.array(dict_values, pa.string())),
        "dict32_large": pa.DictionaryArray.from_arrays(pa.array(dict_indices, pa.uint32()),
                                                       pa.array(dict_values, pa.large_string())),
        "int64": pa.array(ints, pa.int64()),
        "float64": pa.array(floats, pa.float64()),
        "date32": pa.array(dates, pa.date32()),
        "bool": pa.array(bools, pa.bool_()),
    }
    table = pa.table(arrays)
    return pa.Table.from_batches(table.to_batches(max_chunksize=n))  # two record batches


def rendered(column):
    """What pprl must see in each cell, as pyarrow renders it."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_binary(kind):
        out = []
        for value in column.to_pylist():
            if value is None:
                out.append("")
                continue
            try:
                out.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(None)
        return out
    if pa.types.is_floating(kind):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)
    text = pc.cast(column, pa.large_string())
    return ["" if v is None else v for v in text.to_pylist()]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    table = columns_table()
    with pa.ipc.new_file(os.path.join(out_dir, "columns.arrow"), table.schema) as writer:
        for batch in table.to_batches():
            writer.write_batch(batch)
    expected = {name: rendered(table.column(name)) for name in table.column_names}
    with open(os.path.join(out_dir, "columns.json"), "w", encoding="utf-8") as out:
        json.dump({"pyarrow": pa.__version__, "columns": expected}, out, ensure_ascii=False, indent=1)
        out.write("\n")

    entities = pa.table({"party": ["city", "city", "schools"], "record_id": ["c-1", "c-2", "s-9"],
                         "entity_id": ["00aa11bb22cc33dd", "44ee55ff66007711", "00aa11bb22cc33dd"]})
    pairs = pa.table({"a_id": ["c-1", "c-2", "c-2"], "b_id": ["s-9", "s-9", "s-3"], "score": [0.9375, 0.71, 0.5]})
    link_pairs = pa.table({"party_a": ["city", "city"], "a_id": ["c-1", "c-2"], "party_b": ["schools", "schools"],
                           "b_id": ["s-9", "s-3"], "score": [0.9375, 0.5], "linked": [1, 0]})
    tables = {"entities": entities, "pairs": pairs, "link_pairs": link_pairs}
    for name, t in tables.items():
        pq.write_table(t, os.path.join(out_dir, f"{name}.parquet"))
    pq.write_table(pa.table({"party": ["city", "city"], "record_id": ["c-1", None], "entity_id": ["e1", "e2"]}),
                   os.path.join(out_dir, "bad_null_id.parquet"))
    pq.write_table(pa.table({"a_id": ["c-1"], "b_id": ["s-1"], "score": [1.5]}), os.path.join(out_dir, "bad_score.parquet"))
    with open(os.path.join(out_dir, "tables.json"), "w", encoding="utf-8") as out:
        json.dump({"pyarrow": pa.__version__, "tables": {name: t.to_pydict() for name, t in tables.items()}}, out, indent=1)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "arrow")))
