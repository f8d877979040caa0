"""The Python package: numpy zero-copy, pandas in and out, CLI equivalence, errors, the GIL."""
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pprl

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "examples" / "youth_schema.json"


def cli() -> str:
    path = os.environ.get("PPRL_CLI", str(ROOT / "build" / "release" / "pprl"))
    if not Path(path).exists():
        pytest.fail(f"the pprl CLI is needed at {path} (set PPRL_CLI); build it with `make build`")
    return path


@pytest.fixture(scope="module")
def data():
    return pprl.synth(people=2000, seed=5)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("key") / "k.key"
    pprl.SecretKey.generate().write(str(path))
    return path


def test_numpy_round_trip_shares_memory(data, key_file, tmp_path):
    schema = pprl.Schema.from_file(str(SCHEMA))
    enc, rejects = pprl.encode(data["city"], schema, pprl.SecretKey.from_file(str(key_file)), party="city")
    assert len(rejects) == 0
    view = enc.to_numpy()
    assert view.dtype == np.uint8 and view.shape == (len(enc), enc.bits // 8)
    assert np.shares_memory(view, enc.to_numpy())
    assert not view.flags.writeable
    enc.save(str(tmp_path / "c.pprl"))
    loaded = pprl.load(str(tmp_path / "c.pprl"))
    mapped = loaded.to_numpy()
    assert np.array_equal(mapped, view)
    assert np.shares_memory(mapped, loaded.to_numpy())  # a view of the memory-mapped file
    again = pprl.Encodings.from_numpy(view, enc.ids, party="copy")
    assert np.array_equal(again.to_numpy(), view)
    assert np.array_equal(again.popcounts, enc.popcounts)
    del enc, loaded
    assert view.sum() > 0  # the view keeps its buffer alive after the Encodings are gone


def test_python_equals_cli_byte_for_byte(data, key_file, tmp_path):
    frame = data["schools"]
    csv = tmp_path / "schools.csv"
    frame.to_csv(csv, index=False)
    subprocess.run([cli(), "encode", "--schema", str(SCHEMA), "--secret-file", str(key_file), "--in", str(csv),
                    "--out", str(tmp_path / "cli.pprl"), "--party", "schools"], check=True, capture_output=True)
    enc, _ = pprl.encode(frame, pprl.Schema.from_file(str(SCHEMA)), pprl.SecretKey.from_file(str(key_file)),
                         party="schools")
    enc.save(str(tmp_path / "py.pprl"))
    assert (tmp_path / "cli.pprl").read_bytes() == (tmp_path / "py.pprl").read_bytes()

    # And matching: the CLI's pairs file equals the DataFrame, scores printed the same way.
    subprocess.run([cli(), "match", str(tmp_path / "cli.pprl"), str(tmp_path / "py.pprl"), "--threshold", "0.8",
                    "--out", str(tmp_path / "pairs.csv")], check=True, capture_output=True)
    from_cli = pd.read_csv(tmp_path / "pairs.csv", dtype={"a_id": str, "b_id": str, "score": str})
    from_py = pprl.match(enc, pprl.load(str(tmp_path / "cli.pprl")), "0.8")
    assert list(from_cli.a_id) == list(from_py.a_id)
    assert list(from_cli.b_id) == list(from_py.b_id)
    assert list(from_cli.score) == [repr(float(s)) if float(s) != 1.0 else "1" for s in from_py.score]


def test_inputs_as_dict_of_columns_and_iterable_of_dicts(data, key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    frame = data["promise"].head(50)
    a, _ = pprl.encode(frame, schema, key)
    b, _ = pprl.encode({c: list(frame[c]) for c in frame.columns}, schema, key)
    c, _ = pprl.encode(frame.to_dict("records"), schema, key)
    assert np.array_equal(a.to_numpy(), b.to_numpy()) and np.array_equal(a.to_numpy(), c.to_numpy())


def test_missing_cells_in_every_form_encode_as_empty(key_file):
    # None, NaN (Python and numpy), pd.NA: the empty cell a CSV would have, in a DataFrame, a dict of
    # columns (lists or numpy arrays) and records alike.
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    base = {"record_id": ["1", "2", "3", "4"], "first_name": ["Ann", "Bo", "Cy", "Di"],
            "last_name": ["Lee", "Ng", "Ox", "Po"], "dob": ["2010-01-02"] * 4, "sex": ["F", "M", "F", "M"]}
    empty = dict(base, address=["", "", "", ""], zip=["60601", "", "", ""])
    holes = dict(base, address=[None, float("nan"), np.nan, pd.NA], zip=["60601", None, np.nan, pd.NA])
    expected = pprl.encode(pd.DataFrame(empty), schema, key)[0].to_numpy()
    for data in (pd.DataFrame(holes), holes, {k: np.array(v, dtype=object) for k, v in holes.items()},
                 pd.DataFrame(holes).to_dict("records")):
        assert np.array_equal(pprl.encode(data, schema, key)[0].to_numpy(), expected)


def test_rejected_rows_come_back_as_a_dataframe(key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    rows = pd.DataFrame({"record_id": ["1", "2", "1"], "first_name": ["Ann", "Secretname", "Bo"],
                         "last_name": ["Lee", "Doe", "Ng"], "dob": ["2010-01-02", "2010-01-02", "2011-03-04"],
                         "sex": ["F", "Q", "M"], "address": ["1 Elm St", "2 Oak St", None], "zip": ["60601", "", "60602"]})
    enc, rejects = pprl.encode(rows, schema, key)
    assert len(enc) == 1 and enc.ids == ["1"]
    assert list(rejects.columns) == ["row", "field", "reason"]
    assert list(rejects.row) == [2, 3]
    assert "Secretname" not in rejects.to_string()
    with pytest.raises(pprl.ValidationError, match="row 2, field sex"):
        pprl.encode(rows, schema, key, errors="raise")


def test_every_exception_class_from_a_real_bad_input(data, key_file, tmp_path):
    assert all(issubclass(e, pprl.Error) for e in (pprl.UsageError, pprl.ValidationError, pprl.KeyMismatchError,
                                                   pprl.FormatError, pprl.IoError))
    with pytest.raises(pprl.ValidationError, match="/fields/0/tokenizer/q"):
        pprl.Schema.from_json('{"pprl_schema": 1, "fields": [{"name": "a", "tokenizer": {"q": 0}}]}')
    with pytest.raises(pprl.IoError):
        pprl.load(str(tmp_path / "absent.pprl"))
    schema = pprl.Schema.from_file(str(SCHEMA))
    a, _ = pprl.encode(data["city"].head(20), schema, pprl.SecretKey.from_file(str(key_file)), party="a")
    b, _ = pprl.encode(data["city"].head(20), schema, pprl.SecretKey.generate(), party="b")
    with pytest.raises(pprl.KeyMismatchError, match="different secret keys"):
        pprl.match(a, b, 0.8)
    a.save(str(tmp_path / "a.pprl"))
    raw = bytearray((tmp_path / "a.pprl").read_bytes())
    raw[300] ^= 1
    (tmp_path / "bad.pprl").write_bytes(bytes(raw))
    with pytest.raises(pprl.FormatError, match="checksum"):
        pprl.load(str(tmp_path / "bad.pprl"))
    with pytest.raises(pprl.UsageError):
        pprl.match(a, a, 1.5)
    with pytest.raises(pprl.ValidationError, match="too short|128 bits"):
        (tmp_path / "short.key").write_text("00112233\n")
        pprl.SecretKey.from_file(str(tmp_path / "short.key"))


def test_the_key_never_shows(key_file):
    key = pprl.SecretKey.from_file(str(key_file))
    text = key_file.read_text().strip()
    assert text not in repr(key) and text not in str(key)
    with pytest.raises(pprl.UsageError):
        import pickle

        pickle.dumps(key)


@pytest.mark.filterwarnings("ignore:schema of an imported file is unknown")
def test_match_releases_the_gil():
    # While one thread is inside pprl.match, another Python thread keeps running. The switch interval
    # is raised for the test, so a call that held the GIL would freeze the other thread for the whole
    # call (it would count to about 0); with the GIL released it counts all along. No timing involved.
    rng = np.random.default_rng(1)
    a = pprl.Encodings.from_numpy((rng.random((4000, 128)) < 0.3).astype(np.uint8) * rng.integers(0, 256, (4000, 128), dtype=np.uint8),
                                  [str(i) for i in range(4000)], party="a")
    b = pprl.Encodings.from_numpy(rng.integers(0, 256, (200_000, 128), dtype=np.uint8) & rng.integers(0, 256, (200_000, 128), dtype=np.uint8),
                                  [str(i) for i in range(200_000)], party="b")
    inside, done = threading.Event(), threading.Event()

    def run():
        inside.set()
        pprl.match(a, b, 0.8, threads=1)
        done.set()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        worker = threading.Thread(target=run)
        worker.start()
        inside.wait()
        ticks = 0
        while not done.is_set():
            ticks += 1
            if ticks % 1000 == 0:
                time.sleep(0)  # lets the worker take the GIL back when its call returns
        worker.join()
    finally:
        sys.setswitchinterval(previous)
    assert ticks > 1000, ticks


def test_link_synth_evaluate_and_capabilities(data, key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    parties = [pprl.encode(data[p], schema, key, party=p)[0] for p in ("city", "schools", "promise")]
    entities = pprl.link(parties, threshold=0.65)
    assert list(entities.columns) == ["party", "record_id", "entity_id"]
    assert len(entities) == sum(len(p) for p in parties)
    metrics, groups = pprl.evaluate(data["truth"], entities)
    assert metrics["f1"] > 0.9
    assert set(groups.group) == set(data["truth"].group)
    caps = pprl.capabilities()
    assert caps["active_backend"] in caps["backends"]
    assert caps["keystream"] in ("vaes", "openssl")
    families = caps["families"]
    assert set(families) == {"matcher", "sha256", "blake2b", "aes", "blip", "diffusion"}
    for family in families.values():
        assert family["active"] in family["available"]
        assert set(family["available"]) <= set(family["compiled"])
    assert families["matcher"]["active"] == caps["active_backend"]
    assert families["aes"]["active"] == caps["keystream"]
    lsh = pprl.link(parties[:2], threshold=0.65, blocking="lsh:20,16")
    assert len(lsh) == len(parties[0]) + len(parties[1])
    with pytest.raises(pprl.UsageError):
        pprl.link(parties[:2], threshold=0.65, blocking="lsh:0,16")


def test_link_merge_rules_match_the_cli(data, key_file, tmp_path):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    parties = [pprl.encode(data[p], schema, key, party=p)[0] for p in ("city", "schools", "promise")]
    paths = []
    for p in parties:
        paths.append(str(tmp_path / f"{p.party}.pprl"))
        p.save(paths[-1])
    for merge in ("parties", "clique"):
        entities = pprl.link(parties, threshold=0.7, merge=merge)
        subprocess.run([cli(), "link", *paths, "--model", "record", "--threshold", "0.7", "--merge", merge,
                        "--out", str(tmp_path / "e.csv")], check=True, capture_output=True)
        expected = pd.read_csv(tmp_path / "e.csv", dtype=str)
        assert entities.astype(str).sort_values(["party", "record_id"]).reset_index(drop=True).equals(
            expected.sort_values(["party", "record_id"]).reset_index(drop=True)), merge
    default, clique = (pprl.link(parties, threshold=0.7, merge=m) for m in ("parties", "clique"))
    assert clique.entity_id.nunique() > default.entity_id.nunique()  # the clique rule links less
    with pytest.raises(pprl.UsageError, match="merge"):
        pprl.link(parties, threshold=0.7, merge="any")


def test_link_chooses_model_and_threshold(data, key_file):
    key = pprl.SecretKey.from_file(str(key_file))
    segmented = pprl.Schema.from_file(str(SCHEMA.parent / "youth_schema_segmented.json"))
    parties = [pprl.encode(data[p], segmented, key, party=p)[0] for p in ("city", "schools", "promise")]
    assert [s["name"] for s in parties[0].layout] == ["first_name", "last_name", "dob", "sex", "address", "zip"]
    assert sum(s["bits"] for s in parties[0].layout) == parties[0].bits
    entities = pprl.link(parties)  # Fellegi-Sunter on segmented encodings, automatic threshold
    assert 0 < entities.attrs["threshold"] < 1
    metrics, _ = pprl.evaluate(data["truth"], entities)
    assert metrics["f1"] > 0.93
    record = pprl.link(parties, model="record")
    assert 0.5 <= record.attrs["threshold"] < 1  # never below the candidate floor (0.5), which it may reach
    assert pprl.evaluate(data["truth"], record)[0]["f1"] > 0.93
    with pytest.raises(pprl.UsageError):
        pprl.link(parties, model="bayes")
    plain = pprl.Schema.from_file(str(SCHEMA))
    record_level = [pprl.encode(data[p], plain, key, party=p)[0] for p in ("city", "schools")]
    assert record_level[0].layout == []
    with pytest.raises(pprl.UsageError, match="segmented"):
        pprl.link(record_level, model="fs")


def test_party_labels_are_checked_before_any_work(data, key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    with pytest.raises(pprl.UsageError, match="64 bytes"):
        pprl.encode(data["city"].head(3), schema, key, party="x" * 65)
    enc, _ = pprl.encode(data["city"].head(3), schema, key, party="é" * 32)  # 64 bytes of UTF-8
    with pytest.raises(pprl.UsageError, match="64 bytes"):
        pprl.Encodings.from_numpy(enc.to_numpy(), enc.ids, party="y" * 65)


def test_readme_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- python-example -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README has no python example block"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 12
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(old)


def test_notebook_executes(tmp_path):
    import nbclient
    import nbformat

    notebook = nbformat.read(str(ROOT / "examples" / "notebook.ipynb"), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)


def test_clkhash_schema_reproduces_clkhash_clks(tmp_path):
    # Vectors generated by clkhash 0.18.3 itself (tests/compat/generate_vectors.py).
    doc = json.loads((ROOT / "tests" / "compat" / "vectors" / "dates.json").read_text(encoding="utf-8"))
    schema_path = tmp_path / "clkhash_schema.json"
    schema_path.write_text(json.dumps(doc["schema"]))
    secret_path = tmp_path / "secret.txt"
    secret_path.write_text(doc["secret"] + "\n")
    schema = pprl.Schema.from_file(str(schema_path))
    assert schema.dialect == "clkhash"
    secret = pprl.SecretKey.from_file(str(secret_path), encoding="raw")
    assert doc["secret"] not in repr(secret)
    frame = pd.DataFrame(doc["rows"], columns=doc["columns"])
    encodings, rejects = pprl.encode(frame, schema, secret)
    expected = [c for c in doc["clks"] if c is not None]
    assert len(encodings) == len(expected)
    assert len(rejects) == len(doc["clks"]) - len(expected)
    import base64
    got = [base64.b64encode(bytes(row)).decode() for row in encodings.to_numpy()]
    assert got == expected
    # Ids: the ignored first column.
    assert list(encodings.ids) == [r[0] for r, c in zip(doc["rows"], doc["clks"]) if c is not None]
    with pytest.raises(pprl.UsageError):
        pprl.SecretKey.from_file(str(secret_path), encoding="base32")


def test_clkhash_length_that_is_not_a_multiple_of_64(tmp_path):
    import base64
    doc = json.loads((ROOT / "tests" / "compat" / "vectors" / "length_1000.json").read_text(encoding="utf-8"))
    schema = pprl.Schema.from_json(json.dumps(doc["schema"]))
    secret_path = tmp_path / "secret.txt"
    secret_path.write_text(doc["secret"])
    encodings, _ = pprl.encode(pd.DataFrame(doc["rows"], columns=doc["columns"]), schema,
                               pprl.SecretKey.from_file(str(secret_path), encoding="raw"))
    assert encodings.bits == 1000
    view = encodings.to_numpy()
    assert view.shape == (len(encodings), 125)
    assert [base64.b64encode(bytes(row)).decode() for row in view] == [c for c in doc["clks"] if c is not None]
    again = pprl.Encodings.from_numpy(view, encodings.ids, bits=1000)
    assert again.bits == 1000 and np.array_equal(again.to_numpy(), view)
    with pytest.raises(pprl.UsageError):
        pprl.Encodings.from_numpy(view, encodings.ids, bits=1024)  # 128 bytes, not 125
    odd = np.full((1, 13), 0xFF, dtype=np.uint8)
    with pytest.raises(pprl.ValidationError):
        pprl.Encodings.from_numpy(odd, ["x"], bits=100)  # bits set past bit 100
    assert pprl.Encodings.from_numpy(odd, ["x"]).bits == 104


def test_a_raw_secret_ending_in_whitespace_warns_without_the_secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"horse battery staple\r\n")
    with pytest.warns(UserWarning, match=r"ends in whitespace \(\\r\)") as caught:
        pprl.SecretKey.from_file(str(path), encoding="raw")
    assert "horse" not in str(caught[0].message)
    path.write_bytes(b"horse battery staple\n")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pprl.SecretKey.from_file(str(path), encoding="raw")


def test_a_lone_surrogate_rejects_its_row_without_echoing_the_batch(key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    # object columns: with pyarrow installed, pandas 3 keeps str columns in Arrow, which refuses a surrogate
    rows = pd.DataFrame({"record_id": ["1", "2", "3"], "first_name": ["Ana", "Bo\ud800b", "Cy"],
                         "last_name": ["Privatesurname", "Other", "Third"], "dob": ["2010-01-01"] * 3,
                         "sex": ["f"] * 3, "address": ["1 Elm St"] * 3, "zip": ["60601"] * 3}, dtype=object)
    enc, rejects = pprl.encode(rows, schema, key)
    assert len(enc) == 2
    assert list(rejects.row) == [2] and list(rejects.field) == ["first_name"]
    assert "Privatesurname" not in str(rejects.reason.tolist())
    with pytest.raises(pprl.ValidationError) as raised:
        pprl.encode(rows, schema, key, errors="raise")
    assert "Privatesurname" not in str(raised.value) and "Bo" not in str(raised.value)


def test_private_evaluate_tables_refuses_columns_of_different_lengths():
    from pprl import _core
    with pytest.raises(pprl.UsageError):
        _core.evaluate_tables(["city"], ["1", "2"], ["p"], [], ["city"], ["1"], ["e"])
    with pytest.raises(pprl.UsageError):
        _core.evaluate_tables(["city"], ["1"], ["p"], [], ["city", "city"], ["1"], ["e"])


# Arrow input and output, Parquet tables. tests/compat/arrow holds what pyarrow itself made
# (generate_arrow_vectors.py): every layout pprl reads in place, the types it casts, and tables.
ARROW = ROOT / "tests" / "compat" / "arrow"
ONE_FIELD = json.dumps({
    "pprl_schema": 1, "filter": {"bits": 512, "hashing": "hmac-sha256-random"}, "id_column": "record_id",
    "fields": [{"name": "first_name", "type": "string", "max_length": 64,
                "tokenizer": {"kind": "qgram", "q": 2, "padding": True}, "weight": {"bits_per_token": 10}}]})


def _rows_by_id(encodings):
    return dict(zip(encodings.ids, encodings.to_numpy().tolist()))


def test_arrow_columns_encode_as_pyarrow_renders_them():
    import pyarrow as pa

    table = pa.ipc.open_file(str(ARROW / "columns.arrow")).read_all()
    assert table.column("utf8").num_chunks == 2
    expected = json.loads((ARROW / "columns.json").read_text(encoding="utf-8"))["columns"]
    schema = pprl.Schema.from_json(ONE_FIELD)
    key = pprl.SecretKey.generate()
    ids = expected["record_id"]
    for name, texts in expected.items():
        if name == "record_id":
            continue
        for start, stop in ((0, len(ids)), (3, 15)):  # all rows, and a slice (offsets into the buffers)
            arrow_in = pa.table({"record_id": table.column("record_id"), "first_name": table.column(name)}).slice(start, stop - start)
            frame = pd.DataFrame({"record_id": ids[start:stop], "first_name": ["" if t is None else t for t in texts[start:stop]]})
            from_arrow, rejected = pprl.encode(arrow_in, schema, key)
            from_pandas, _ = pprl.encode(frame, schema, key)
            not_utf8 = [i + 1 for i, t in enumerate(texts[start:stop]) if t is None]
            assert list(rejected.row) == not_utf8, name
            assert set(rejected.reason) <= {"not valid UTF-8"}
            want = _rows_by_id(from_pandas)
            for bad in not_utf8:
                del want[ids[start + bad - 1]]
            assert _rows_by_id(from_arrow) == want, (name, start)
            assert from_arrow.ids == [i for i in from_pandas.ids if i in want]


def test_polars_and_any_arrow_stream_encode_alike(data, key_file):
    import polars as pl
    import pyarrow as pa

    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    reference, _ = pprl.encode(data["schools"].astype(object), schema, key)  # cell by cell
    table = pa.Table.from_pandas(data["schools"], preserve_index=False)
    # pandas frames held by Arrow (pandas 3's default str with pyarrow installed, or asked for) go
    # through Arrow too, without copying
    assert pprl._arrow_table(data["schools"].astype("string[pyarrow]")) is not None
    assert pprl._arrow_table(data["schools"].astype(object)) is None

    class Stream:  # only the Arrow PyCapsule stream interface
        def __init__(self, inner):
            self.inner = inner

        def __arrow_c_stream__(self, requested_schema=None):
            return self.inner.__arrow_c_stream__(requested_schema)

    frame = pl.from_arrow(table)
    for source in (table, table.combine_chunks().to_batches()[0], frame, pa.table(frame), Stream(table),
                   data["schools"].astype("string[pyarrow]"), data["schools"].astype(pd.ArrowDtype(pa.large_string()))):
        encoded, rejects = pprl.encode(source, schema, key, progress=True)
        assert np.array_equal(encoded.to_numpy(), reference.to_numpy()) and encoded.ids == reference.ids
        assert len(rejects) == 0
    assert pa.types.is_string_view(pa.table(frame).schema.field("first_name").type)
    with pytest.raises(pprl.UsageError, match="collect"):
        pprl.encode(frame.lazy(), schema, key)
    with pytest.raises(pprl.UsageError, match="cannot be read as text"):
        pprl.encode(table.append_column("extra", pa.array([[1]] * table.num_rows)), schema, key)


def test_malformed_arrow_arrays_are_refused_not_read():
    import pyarrow as pa

    schema = pprl.Schema.from_json(ONE_FIELD)
    key = pprl.SecretKey.generate()
    ids = pa.array(["a", "b"])
    decreasing = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 5, 2], np.int32)),
                                                        pa.py_buffer(b"hello")])
    past_values = pa.DictionaryArray.from_arrays(pa.array([0, 7], pa.int8()), pa.array(["x", "y"]), safe=False)
    for column, message in ((decreasing, "decrease"), (past_values, "outside its 2 values")):
        with pytest.raises(pprl.FormatError, match=message):
            pprl.encode(pa.table({"record_id": ids, "first_name": column}), schema, key)


def test_match_link_evaluate_return_arrow_tables(data, key_file):
    import pyarrow as pa

    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    parties = [pprl.encode(data[p], schema, key, party=p)[0] for p in ("city", "schools")]
    pairs = pprl.match(parties[0], parties[1], 0.7, output="arrow")
    assert isinstance(pairs, pa.Table) and pairs.column_names == ["a_id", "b_id", "score"]
    assert pairs.to_pandas().equals(pprl.match(parties[0], parties[1], 0.7))
    entities = pprl.link(parties, threshold=0.7, output="arrow")
    frame = pprl.link(parties, threshold=0.7)
    assert entities.to_pandas().equals(frame)
    assert float(entities.schema.metadata[b"pprl.threshold"]) == frame.attrs["threshold"]
    metrics, groups = pprl.evaluate(pa.Table.from_pandas(data["truth"]), entities, output="arrow")
    assert metrics == pprl.evaluate(data["truth"], frame)[0]
    assert isinstance(groups, pa.Table) and groups.num_rows == data["truth"].group.nunique()
    with pytest.raises(pprl.UsageError, match="output"):
        pprl.match(parties[0], parties[1], 0.7, output="polars")


def test_parquet_tables_known_answers_and_round_trips(data, key_file, tmp_path):
    import pyarrow.parquet as pq

    expected = json.loads((ARROW / "tables.json").read_text(encoding="utf-8"))["tables"]
    for name, columns in expected.items():
        frame = pprl.read_parquet(ARROW / f"{name}.parquet")
        assert frame.attrs["pprl.table"] == name
        for column, values in columns.items():
            got = frame[column].tolist()
            assert got == ([bool(v) for v in values] if column == "linked" else values), (name, column)
        assert pprl.read_parquet(ARROW / f"{name}.parquet", output="arrow").num_rows == len(frame)
    with pytest.raises(pprl.FormatError, match="missing"):
        pprl.read_parquet(ARROW / "bad_null_id.parquet")
    with pytest.raises(pprl.FormatError, match=r"outside \[0, 1\]"):
        pprl.read_parquet(ARROW / "bad_score.parquet")
    with pytest.raises(pprl.IoError):
        pprl.read_parquet(tmp_path / "absent.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(pprl.FormatError):
        pprl.read_parquet(tmp_path / "junk.parquet")

    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    city, schools = (pprl.encode(data[p], schema, key, party=p)[0] for p in ("city", "schools"))
    pairs = pprl.match(city, schools, 0.7)
    entities = pprl.link([city, schools], threshold=0.7, output="arrow")
    for table, kind in ((pairs, "pairs"), (entities, "entities"), (city, "ids")):
        path = tmp_path / f"{kind}.parquet"
        pprl.to_parquet(table, path)
        assert pq.read_schema(path).metadata[b"pprl.table"] == kind.encode()
        back = pprl.read_parquet(path)
        if kind == "pairs":
            assert back.equals(pairs)
        elif kind == "entities":
            assert back.equals(entities.to_pandas())
        else:
            assert back.record_id.tolist() == city.ids and set(back.party) == {"city"}
            assert back.row.tolist() == list(range(len(city)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entities.parquet", "ids.parquet", "junk.parquet",
                                                          "pairs.parquet"]
    # Refused: a table with a missing id (and nothing left behind), a symbolic link, an unknown table.
    with pytest.raises(pprl.ValidationError, match="missing"):
        pprl.to_parquet(pd.DataFrame({"party": ["a"], "record_id": [None], "entity_id": ["e"]}), tmp_path / "x.parquet")
    (tmp_path / "link.parquet").symlink_to(tmp_path / "pairs.parquet")
    with pytest.raises(pprl.UsageError, match="symbolic link"):
        pprl.to_parquet(pairs, tmp_path / "link.parquet")
    with pytest.raises(pprl.UsageError, match="not a pprl table"):
        pprl.to_parquet(pd.DataFrame({"x": [1]}), tmp_path / "y.parquet")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pprl-") or p.name in ("x.parquet", "y.parquet")]


def test_progress_counts_every_row_of_an_arrow_table(data, key_file, monkeypatch):
    import types

    import pyarrow as pa

    updates = []

    class Bar:  # stands in for tqdm.auto.tqdm
        def __init__(self, total, unit, desc):
            self.total = total

        def update(self, n):
            updates.append(n)

        def close(self):
            pass

    fake = types.ModuleType("tqdm")
    fake.auto = types.ModuleType("tqdm.auto")
    fake.auto.tqdm = Bar
    monkeypatch.setitem(sys.modules, "tqdm", fake)
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake.auto)
    monkeypatch.setattr(pprl, "_PROGRESS_CHUNK", 1000)
    schema = pprl.Schema.from_file(str(SCHEMA))
    key = pprl.SecretKey.from_file(str(key_file))
    table = pa.Table.from_pandas(data["schools"], preserve_index=False)
    encoded, _ = pprl.encode(table, schema, key, progress=True)
    assert sum(updates) == table.num_rows and len(updates) == -(-table.num_rows // 1000)
    assert encoded.ids == pprl.encode(data["schools"], schema, key)[0].ids


def test_registry_from_python_matches_the_cli(data, key_file, tmp_path):
    schema = pprl.Schema.from_file(str(SCHEMA))
    secret = pprl.SecretKey.from_file(str(key_file))
    files = {}
    for party in ("city", "schools"):
        enc, _ = pprl.encode(data[party], schema, secret, party=party)
        files[party] = tmp_path / f"{party}.pprl"
        enc.save(str(files[party]))
    db = tmp_path / "hub.db"
    with pytest.raises(pprl.IoError):
        pprl.Registry(db)  # no registry there yet
    registry = pprl.Registry(db, create=True)
    first = registry.ingest(files["city"], "city", "2025-09-01", label="fall")
    assert first["new"] == len(data["city"]) and not first["already_ingested"]
    registry.ingest(files["schools"], "schools", "2025-09-01")
    assert registry.ingest(files["city"], "city", "2025-09-02")["already_ingested"]
    done = registry.link(0.7)
    assert done["scored_records"] == len(data["city"]) + len(data["schools"])
    frame = registry.export()
    assert list(frame.columns) == ["party", "record_id", "entity_id", "last_seen"]
    assert (frame["last_seen"] == "2025-09-01").all()
    # The same partition as the CLI's registry over the same files.
    cli_db = tmp_path / "cli.db"
    subprocess.run([cli(), "registry", "init", str(cli_db)], check=True, capture_output=True)
    for party in ("city", "schools"):
        subprocess.run([cli(), "registry", "ingest", str(cli_db), str(files[party]), "--party", party, "--as-of", "2025-09-01"],
                       check=True, capture_output=True)
    subprocess.run([cli(), "registry", "link", str(cli_db), "--threshold", "0.7"], check=True, capture_output=True)
    subprocess.run([cli(), "registry", "export", str(cli_db), "--out", str(tmp_path / "e.csv")], check=True, capture_output=True)
    from_cli = pd.read_csv(tmp_path / "e.csv", dtype=str)

    def partition(f):
        return sorted(sorted(g["party"] + ":" + g["record_id"]) for _, g in f.groupby("entity_id"))

    assert partition(frame) == partition(from_cli)
    events = registry.events()
    assert list(events["kind"][:3]) == ["INIT", "INGEST", "INGEST"] and "LINK" in set(events["kind"])
    assert registry.verify()["problems"] == []
    # The same errors as the CLI.
    with pytest.raises(pprl.UsageError):
        registry.ingest(files["city"], "city", "2025-13-01")
    other, _ = pprl.encode(data["city"], schema, pprl.SecretKey.generate(), party="other")
    other.save(str(tmp_path / "other.pprl"))
    with pytest.raises(pprl.KeyMismatchError):
        registry.ingest(tmp_path / "other.pprl", "other", "2025-09-01")
    with pytest.raises(pprl.UsageError):
        pprl.Registry(db, create=True)
    with pytest.raises(pprl.FormatError):
        pprl.Registry(files["city"])
    record = frame["record_id"][0]
    registry.forget("city", record)
    assert record not in set(registry.export()["record_id"])
    registry.backup(tmp_path / "copy.db")
    assert pprl.Registry(tmp_path / "copy.db", read_only=True).verify()["problems"] == []


def test_match_tiles_gathered_equal_match(data, key_file):
    schema = pprl.Schema.from_file(str(SCHEMA))
    secret = pprl.SecretKey.from_file(str(key_file))
    a, _ = pprl.encode(data["city"], schema, secret, party="city")
    b, _ = pprl.encode(data["schools"], schema, secret, party="schools")
    for top_k in (None, 2):
        whole = pprl.match(a, b, 0.6, top_k=top_k)
        tiles = [pprl.match_tile(a, i, min(i + 500, len(a)), b, j, min(j + 700, len(b)), 0.6, top_k=top_k or 0)
                 for i in range(0, len(a), 500) for j in range(0, len(b), 700)]
        assert all(t["a"].dtype == np.uint32 and t["score"].dtype == np.float64 for t in tiles)
        gathered = pprl.gather_tiles(tiles, top_k=top_k or 0)
        ids_a, ids_b = np.array(a.ids), np.array(b.ids)
        assert list(ids_a[gathered["a"]]) == list(whole["a_id"])
        assert list(ids_b[gathered["b"]]) == list(whole["b_id"])
        assert np.allclose(gathered["score"], whole["score"].to_numpy())
    with pytest.raises(pprl.UsageError):
        pprl.match_tile(a, 0, len(a) + 1, b, 0, 1, 0.6)
    with pytest.raises(pprl.UsageError):
        pprl.gather_tiles([{"a": np.zeros(2, np.uint32), "b": np.zeros(1, np.uint32), "common": np.zeros(2, np.uint32),
                            "total": np.zeros(2, np.uint32)}])
