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
    assert set(families) == {"matcher", "sha256", "blake2b", "aes", "blip"}
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
    rows = pd.DataFrame({"record_id": ["1", "2", "3"], "first_name": ["Ana", "Bo\ud800b", "Cy"],
                         "last_name": ["Privatesurname", "Other", "Third"], "dob": ["2010-01-01"] * 3,
                         "sex": ["f"] * 3, "address": ["1 Elm St"] * 3, "zip": ["60601"] * 3})
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
