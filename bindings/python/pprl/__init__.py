"""pprl: privacy-preserving record linkage with keyed Bloom filters.

Agencies encode quasi-identifiers into keyed Bloom filters (CLKs) at home; a hub that never holds the
key scores every cross-agency pair with the Dice coefficient and links records into pseudonymous
entities. Everything heavy runs in C++ (``pprl._core``) with the GIL released.

>>> import pprl
>>> data = pprl.synth(people=1000, seed=1)
>>> key = pprl.SecretKey.generate()
>>> schema = pprl.Schema.from_file("examples/youth_schema.json")  # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from ._core import (  # noqa: F401  (re-exported)
    BatchEncoder as _BatchEncoder,
    Encodings,
    Error,
    FormatError,
    InternalError,
    IoError,
    KeyMismatchError,
    Registry as _Registry,
    Schema,
    SecretKey,
    UsageError,
    ValidationError,
    __version__,
    capabilities,
    evaluate_tables as _evaluate_tables,
    gather_ids as _gather_ids,
    gather_tiles,
    link_tables as _link_tables,
    load,
    match_arrays as _match_arrays,
    match_tile,
    set_backend,
    synth_tables as _synth_tables,
)

__all__ = [
    "Encodings", "Error", "FormatError", "InternalError", "IoError", "KeyMismatchError", "Registry", "Schema", "SecretKey", "UsageError",
    "ValidationError", "capabilities", "encode", "evaluate", "gather_tiles", "link", "load", "match", "match_tile", "read_parquet", "synth",
    "to_parquet", "__version__",
]

# Rows handed to C++ per call when a progress bar is shown.
_PROGRESS_CHUNK = 20_000
# Rows of an Arrow table handed to C++ per call (the filters and per-row state of one batch).
_ARROW_BATCH_ROWS = 1 << 16


def _texts(values: Iterable[Any]) -> List[str]:
    """Cells as the CSV reader would see them: missing values (None, NaN, pd.NA) become "". One
    expression per cell rather than a function call, which cost more than the encoding."""
    na = pd.NA
    return ["" if v is None or v is na or (isinstance(v, float) and v != v) else v if type(v) is str else str(v)
            for v in values]


def _columns_and_rows(data: Any) -> Tuple[List[str], Sequence[Sequence[str]]]:
    # Column by column (a DataFrame or a dict of columns), then rows as tuples.
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
        cells = [_texts(data.iloc[:, i].tolist()) for i in range(data.shape[1])]
        return columns, list(zip(*cells)) if cells else []
    if isinstance(data, Mapping):
        columns = [str(c) for c in data.keys()]
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise UsageError("all columns of a dict of columns must have the same length")
        cells = [_texts(v.tolist() if hasattr(v, "tolist") else v) for v in data.values()]
        return columns, list(zip(*cells)) if cells else []
    records = list(data)
    if not records:
        raise ValidationError("no rows to encode")
    columns = [str(c) for c in records[0].keys()]
    rows = []
    for number, record in enumerate(records, start=1):
        if set(map(str, record.keys())) != set(columns):
            raise ValidationError(f"row {number} has different keys from the first row")
        rows.append(_texts(record[c] for c in columns))
    return columns, rows


# Arrow: pyarrow is an optional extra (pip install "pprl[arrow]"); imported only when used.
def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
    except ImportError as error:
        raise ImportError('this needs pyarrow: pip install "pprl[arrow]"') from error
    return pyarrow


def _arrow_table(data: Any) -> Any:
    """A pyarrow Table for Arrow-backed data (a pyarrow Table or RecordBatch, a polars DataFrame, a
    pandas DataFrame whose every column is held by Arrow, any object with the Arrow PyCapsule stream
    interface), else None."""
    if isinstance(data, pd.DataFrame):
        # pandas 3 keeps strings in Arrow when pyarrow is installed (and ArrowDtype columns always):
        # such a frame converts without copying. Object columns take the cell-by-cell path.
        dtypes = list(data.dtypes)
        if dtypes and all(isinstance(d, pd.ArrowDtype) or (isinstance(d, pd.StringDtype) and d.storage == "pyarrow")
                          for d in dtypes):
            return _pyarrow().Table.from_pandas(data, preserve_index=False)
        return None
    package = type(data).__module__.split(".")[0]
    if package == "pyarrow":
        pa = _pyarrow()
        if isinstance(data, pa.Table):
            return data
        if isinstance(data, pa.RecordBatch):
            return pa.Table.from_batches([data])
        return None
    if package == "polars":
        if not hasattr(data, "to_arrow"):
            raise UsageError("a polars LazyFrame must be collected first (.collect())")
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return _pyarrow().table(data)
    return None


def _is_text(pa: Any, kind: Any) -> bool:
    types = pa.types
    return (types.is_string(kind) or types.is_large_string(kind) or types.is_binary(kind)
            or types.is_large_binary(kind) or types.is_string_view(kind) or types.is_binary_view(kind))


def _text_column(pa: Any, name: str, column: Any) -> Any:
    """A column as Arrow text that the encoder reads in place: text (and dictionaries of text) as it
    is; other types as Arrow's cast renders them (integers as digits, dates as YYYY-MM-DD), a float
    NaN as missing."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        if _is_text(pa, kind.value_type):
            return column
        column = column.cast(kind.value_type)
        kind = column.type
    if _is_text(pa, kind):
        return column
    compute = pa.compute
    try:
        if pa.types.is_floating(kind):
            column = compute.if_else(compute.is_nan(column), pa.scalar(None, kind), column)
        return compute.cast(column, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UsageError(f"column {name!r} of Arrow type {kind} cannot be read as text") from error


def _arrow_batches(table: Any, step: int) -> Tuple[List[str], int, Iterable[Tuple[int, List[Any]]]]:
    """The table's column names, its row count, and its rows in batches of at most `step`, each as
    (rows, one __arrow_c_array__ capsule pair per column)."""
    pa = _pyarrow()
    columns = [str(name) for name in table.column_names]
    texts = [_text_column(pa, columns[i], table.column(i)) for i in range(table.num_columns)]
    table = pa.Table.from_arrays(texts, names=columns)

    def batches() -> Iterable[Tuple[int, List[Any]]]:
        for batch in table.to_batches(max_chunksize=step):
            if batch.num_rows:
                yield batch.num_rows, [batch.column(i).__arrow_c_array__() for i in range(batch.num_columns)]

    return columns, table.num_rows, batches()


def _arrow_strings(pa: Any, buffers: Tuple[np.ndarray, np.ndarray]) -> Any:
    offsets, data = buffers
    return pa.Array.from_buffers(pa.large_string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _check_output(output: str) -> None:
    if output not in ("pandas", "arrow"):
        raise UsageError('output must be "pandas" or "arrow"')


def encode(
    data: Union[pd.DataFrame, Mapping[str, Sequence[Any]], Iterable[Mapping[str, Any]], Any],
    schema: Schema,
    secret: SecretKey,
    id_column: Optional[str] = None,
    threads: Optional[int] = None,
    progress: bool = False,
    errors: str = "collect",
    party: str = "",
) -> Tuple[Encodings, pd.DataFrame]:
    """Encode rows into keyed Bloom filters.

    ``data`` is a pandas DataFrame, a dict of columns, an iterable of dicts, or Arrow data: a pyarrow
    Table or RecordBatch, a polars DataFrame, or any object with the Arrow PyCapsule stream
    interface. Arrow string, large string, string view and binary columns (and dictionaries of them)
    are read in place by the encoding threads, with no Python string per cell; other Arrow types are
    cast to text first (integers as digits, dates as YYYY-MM-DD, a float NaN as missing); a null is
    missing. Returns the encodings and a DataFrame of rejected rows (``row``, ``field``, ``reason``;
    the value itself is never shown).
    With ``errors="raise"`` the first rejected row raises ValidationError instead. ``id_column``
    defaults to the schema's; with a clkhash schema, to the first column if its feature is ignored,
    else the row number. A clkhash schema takes clkhash's text secret:
    ``SecretKey.from_file(path, encoding="raw")``.
    """
    if errors not in ("collect", "raise"):
        raise UsageError('errors must be "collect" or "raise"')
    table = _arrow_table(data)
    if table is not None:
        columns, total, arrow_batches = _arrow_batches(table, _PROGRESS_CHUNK if progress else _ARROW_BATCH_ROWS)
    else:
        columns, rows = _columns_and_rows(data)
        total = len(rows)
    if total == 0:
        raise ValidationError("no rows to encode")
    encoder = _BatchEncoder(schema, secret, columns, id_column or "", party, threads)
    rejected: List[Tuple[int, str, str]] = []
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="rows", desc="encoding")
        except ImportError:
            bar = None
    if table is not None:
        # All batches in one call: C++ encodes one while it checks the ids of the one before.
        done = [0]

        def advance(rows_done: int) -> None:
            bar.update(rows_done - done[0])
            done[0] = rows_done

        rejected.extend(encoder.add_arrow([capsules for _, capsules in arrow_batches],
                                          advance if bar is not None else None))
    else:
        step = _PROGRESS_CHUNK if bar is not None else total
        for start in range(0, total, step):
            rejected.extend(encoder.add(rows[start:start + step]))
            if bar is not None:
                bar.update(min(step, total - start))
    if bar is not None:
        bar.close()
    rejects = pd.DataFrame(rejected, columns=["row", "field", "reason"])
    if errors == "raise" and len(rejects):
        first = rejects.iloc[0]
        where = f", field {first.field}" if first.field else ""
        raise ValidationError(f"row {first.row}{where}: {first.reason}")
    return encoder.finish(), rejects


def match(a: Encodings, b: Encodings, threshold: Union[float, str], top_k: Optional[int] = None,
          threads: Optional[int] = None, output: str = "pandas") -> Any:
    """Every pair with Dice ≥ threshold as a DataFrame ``a_id, b_id, score``, best first.

    A string threshold ("0.8") is exact; a float is read as the shortest decimal that round-trips.
    ``output="arrow"`` returns a pyarrow Table of the same columns instead, built from C++ buffers.
    """
    _check_output(output)
    a_index, b_index, scores, warning = _match_arrays(a, b, threshold, top_k or 0, threads)
    if warning:
        import warnings

        warnings.warn(warning, stacklevel=2)
    return _pairs_table(a, b, a_index, b_index, scores, output)


def _pairs_table(a: Encodings, b: Encodings, a_index: np.ndarray, b_index: np.ndarray, scores: np.ndarray,
                 output: str) -> Any:
    """Pairs given as row indices into a and b: ``a_id, b_id, score`` as a DataFrame or pyarrow Table."""
    if output == "arrow":
        pa = _pyarrow()
        return pa.table({"a_id": _arrow_strings(pa, _gather_ids(a, a_index)),
                         "b_id": _arrow_strings(pa, _gather_ids(b, b_index)), "score": pa.array(scores)})
    a_ids = np.asarray(a.ids, dtype=object)
    b_ids = np.asarray(b.ids, dtype=object)
    return pd.DataFrame({"a_id": a_ids[a_index] if len(a_index) else [], "b_id": b_ids[b_index] if len(b_index) else [],
                         "score": scores})


def link(parties: Sequence[Encodings], threshold: Union[float, str] = "auto", method: str = "greedy",
         blocking: Optional[str] = None, threads: Optional[int] = None, model: str = "auto",
         merge: str = "parties", output: str = "pandas") -> Any:
    """Link parties into entities: a DataFrame ``party, record_id, entity_id`` with every record once.

    ``model`` is "auto" (Fellegi-Sunter for encodings with a segmented layout, else record-level
    Dice), "record" or "fs". ``threshold`` is "auto" (chosen from the data; the value used is in the
    frame's ``attrs["threshold"]``), or a Dice threshold (record) or match probability (fs).
    ``blocking`` is None (exact all pairs) or "lsh" / "lsh:L,K" (Hamming LSH). ``merge`` (three or
    more parties): "parties" merges two clusters when they share no party, "clique" only when every
    pair across them is a candidate (anonlink's greedy_solve). ``output="arrow"`` returns a pyarrow
    Table, the threshold used in its schema metadata (``b"pprl.threshold"``).
    """
    if blocking is not None and not isinstance(blocking, str):
        raise UsageError('blocking must be None, "lsh" or "lsh:L,K"')
    _check_output(output)
    columns = _link_tables(list(parties), threshold, method, "none" if blocking is None else blocking, threads, model,
                           merge, output == "arrow")
    return _entities_table(columns, output)


def _entities_table(columns: Tuple[Any, Any, Any, List[str], float], output: str) -> Any:
    """link_tables' columns as a DataFrame (threshold in attrs) or a pyarrow Table; warnings issued."""
    party, record, entity, warnings_, used = columns
    for warning in warnings_:
        import warnings

        warnings.warn(warning, stacklevel=3)
    if output == "arrow":
        pa = _pyarrow()
        table = pa.table({"party": _arrow_strings(pa, party), "record_id": _arrow_strings(pa, record),
                          "entity_id": _arrow_strings(pa, entity)})
        return table.replace_schema_metadata({"pprl.threshold": repr(float(used))})
    frame = pd.DataFrame({"party": party, "record_id": record, "entity_id": entity})
    frame.attrs["threshold"] = used
    return frame


class Registry:
    """The hub's registry: entity ids that stay stable across refreshes (one SQLite file).

    ``Registry(path)`` opens an existing registry; ``create=True`` makes a new one (never replacing a
    file), ``read_only=True`` opens it for reading only. Errors are those of the CLI:
    KeyMismatchError for an extract under another key, schema or filter length, FormatError for a
    file that is not a registry or comes from a newer pprl, IoError for a registry another process
    is writing or that is read-only, UsageError for a bad date. See the README's "The registry" for
    the id contract.
    """

    def __init__(self, path: Union[str, os.PathLike], create: bool = False, read_only: bool = False) -> None:
        self._core = _Registry(os.fspath(path), create, read_only)

    def ingest(self, file: Union[str, os.PathLike], party: str, as_of: str, label: str = "") -> Dict[str, Any]:
        """Adds one party's extract (a .pprl file) dated ``as_of`` (YYYY-MM-DD); returns what it did:
        ``records``, ``new``, ``updated``, ``unchanged``, ``already_ingested``, ..."""
        return self._core.ingest(os.fspath(file), party, as_of, label)

    def link(self, threshold: Union[float, str], method: str = "greedy", merge: str = "parties",
             blocking: Optional[str] = None, threads: Optional[int] = None) -> Dict[str, Any]:
        """Brings every entity up to date, scoring only new and updated records; returns counts
        (``scored_records``, ``kept_ids``, ``new_entities``, ``merged``, ``split``, ...)."""
        return self._core.link(threshold, method, merge, "none" if blocking is None else blocking, threads)

    def export(self, as_of: Optional[str] = None) -> pd.DataFrame:
        """``party, record_id, entity_id, last_seen`` as the registry stood on ``as_of`` (default: now)."""
        party, record, entity, last_seen = self._core.entities("" if as_of is None else as_of)
        return pd.DataFrame({"party": party, "record_id": record, "entity_id": entity, "last_seen": last_seen})

    def events(self, since: Optional[str] = None) -> pd.DataFrame:
        """The event log, oldest first (dated on or after ``since`` if given)."""
        rows = self._core.events("" if since is None else since)
        return pd.DataFrame(rows, columns=["event", "kind", "as_of", "recorded_at", "entity", "other", "party",
                                           "record_id", "detail"])

    def verify(self) -> Dict[str, Any]:
        """SQLite integrity, filter checksums and the id contract's invariants: ``problems`` is empty
        when the registry is sound."""
        return self._core.verify()

    def backup(self, path: Union[str, os.PathLike]) -> None:
        """An online copy to a new file."""
        self._core.backup(os.fspath(path))

    def forget(self, party: str, record_id: str) -> None:
        """Erases a record on request (filters, pairs, memberships); the event is logged."""
        self._core.forget(party, record_id)


def synth(people: int = 20_000, seed: int = 1,
          parties: Sequence[str] = ("city", "schools", "promise")) -> Dict[str, pd.DataFrame]:
    """Synthetic youth records: one DataFrame per party plus ``"truth"`` (party, record_id, person_id, group)."""
    tables = _synth_tables(people, seed, list(parties))
    return {name: pd.DataFrame(columns) for name, columns in tables.items()}


def _string_columns(table: Any, names: Sequence[str], optional: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Columns of a pandas DataFrame or Arrow data as lists of str (a missing value: ""). A column
    in `optional` that is absent is absent from the result."""
    arrow = _arrow_table(table)
    present = list(arrow.column_names) if arrow is not None else list(table.columns)
    out: Dict[str, List[str]] = {}
    for name in list(names) + list(optional):
        if name not in present:
            if name in optional:
                continue
            raise UsageError(f"the table has no column {name!r}")
        if arrow is not None:
            pa = _pyarrow()
            values = _text_column(pa, name, arrow.column(name)).to_pylist()
            out[name] = ["" if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
        else:
            out[name] = _texts(table[name].tolist())
    return out


def evaluate(truth: Any, entities: Any, output: str = "pandas") -> Tuple[Dict[str, Any], Any]:
    """Pairwise precision, recall and F1 of ``entities`` against ``truth``, overall and per group.

    ``truth`` (party, record_id, person_id and optionally group) and ``entities`` (party,
    record_id, entity_id) are pandas DataFrames or Arrow data (as for :func:`encode`). Returns a
    dict of the overall metrics (and the group with the largest F1 gap) and a DataFrame with one row
    per group (``output="arrow"``: a pyarrow Table).
    """
    _check_output(output)
    t = _string_columns(truth, ["party", "record_id", "person_id"], optional=["group"])
    e = _string_columns(entities, ["party", "record_id", "entity_id"])
    result = _evaluate_tables(t["party"], t["record_id"], t["person_id"], t.get("group", [""] * len(t["party"])),
                              e["party"], e["record_id"], e["entity_id"])
    per_group = pd.DataFrame(result.pop("groups"), columns=["group", "precision", "recall", "f1", "true_positives",
                                                           "false_positives", "false_negatives"])
    if output == "arrow":
        return result, _pyarrow().Table.from_pandas(per_group, preserve_index=False)
    return result, per_group


# Parquet: the tables pprl reads and writes, known by their columns (in this order of preference);
# a file pprl writes names its kind in the schema metadata (b"pprl.table").
_TABLE_KINDS: Tuple[Tuple[str, Tuple[Tuple[str, str], ...]], ...] = (
    ("link_pairs", (("party_a", "text"), ("a_id", "text"), ("party_b", "text"), ("b_id", "text"),
                    ("score", "float64"), ("linked", "bool"))),
    ("pairs", (("a_id", "text"), ("b_id", "text"), ("score", "float64"))),
    ("entities", (("party", "text"), ("record_id", "text"), ("entity_id", "text"))),
    ("ids", (("party", "text"), ("row", "int64"), ("record_id", "text"))),
)


def _table_kind(columns: Sequence[str], declared: Optional[str]) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    for kind, wanted in _TABLE_KINDS:
        if (declared is None or declared == kind) and all(name in columns for name, _ in wanted):
            return kind, wanted
    if declared is not None:
        raise FormatError(f"a pprl {declared} table without its columns")
    kinds = "; ".join(f"{kind}: {', '.join(name for name, _ in wanted)}" for kind, wanted in _TABLE_KINDS)
    raise UsageError(f"not a pprl table (columns {', '.join(columns)}); the tables are {kinds}")


def _typed_table(pa: Any, table: Any, wanted: Tuple[Tuple[str, str], ...], error: Any) -> Any:
    """The table with each required column cast to its type (text: large_string) and checked: no
    missing value, scores within [0, 1]. Other columns are kept as they are."""
    compute = pa.compute
    types = {"text": pa.large_string(), "float64": pa.float64(), "bool": pa.bool_(), "int64": pa.int64()}
    for name, kind in wanted:
        index = table.column_names.index(name)
        column = table.column(index)
        try:
            column = compute.cast(column, types[kind])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as failure:
            raise error(f"column {name!r} of type {table.schema.field(index).type} is not {kind}") from failure
        if column.null_count:
            raise error(f"column {name!r} has {column.null_count} missing values")
        if name == "score" and len(column):
            low, high = compute.min(column).as_py(), compute.max(column).as_py()
            if not (0.0 <= low and high <= 1.0):
                raise error("column 'score' has values outside [0, 1] (or NaN)")
        table = table.set_column(index, name, column)
    return table


def to_parquet(data: Any, path: Union[str, os.PathLike], compression: str = "zstd") -> None:
    """Write a pprl table to a Parquet file: pairs (``a_id, b_id, score``, as :func:`match` returns),
    a link's scored pairs (``party_a, a_id, party_b, b_id, score, linked``), entities (``party,
    record_id, entity_id``, as :func:`link` returns), or an :class:`Encodings`' record ids
    (``party, row, record_id``; never its filters, which travel in .pprl files with their key and
    schema checks). ``data`` is a pandas DataFrame, Arrow data or an Encodings. The file is written
    beside ``path`` under a temporary name and renamed when complete; ``path`` may not be a symbolic
    link, a directory or a device.
    """
    import tempfile

    pa = _pyarrow()
    import pyarrow.parquet as pq

    if isinstance(data, Encodings):
        rows = np.arange(len(data), dtype=np.int64)  # the ids come from C++ buffers, not Encodings.ids
        table = pa.table({"party": pa.array([data.party] * len(data), pa.large_string()), "row": pa.array(rows),
                          "record_id": _arrow_strings(pa, _gather_ids(data, rows.astype(np.uint32)))})
    else:
        table = _arrow_table(data)
        if table is None:
            if not isinstance(data, pd.DataFrame):
                raise UsageError("to_parquet takes a pandas DataFrame, Arrow data or Encodings")
            table = pa.Table.from_pandas(data, preserve_index=False)
    kind, wanted = _table_kind([str(c) for c in table.column_names], None)
    table = _typed_table(pa, table, wanted, ValidationError)
    metadata = dict(table.schema.metadata or {})
    metadata.pop(b"pandas", None)
    metadata[b"pprl.table"] = kind.encode()
    metadata[b"pprl.version"] = __version__.encode()
    table = table.replace_schema_metadata(metadata)

    target = os.fspath(path)
    if os.path.islink(target):
        raise UsageError(f"'{target}' is a symbolic link; pprl never writes through one")
    if os.path.exists(target) and not os.path.isfile(target):
        raise UsageError(f"'{target}' exists and is not a regular file")
    directory = os.path.dirname(os.path.abspath(target))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".pprl-", suffix=".parquet.tmp", dir=directory)
    except OSError as failure:
        raise IoError(f"cannot write in '{directory}': {failure.strerror}") from failure
    try:
        with os.fdopen(handle, "wb") as out:
            pq.write_table(table, out, compression=compression)
        os.replace(temporary, target)
    except BaseException as failure:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(failure, OSError):
            raise IoError(f"cannot write '{target}': {failure.strerror or failure}") from failure
        raise


def read_parquet(path: Union[str, os.PathLike], output: str = "pandas") -> Any:
    """Read a pprl table from a Parquet file (see :func:`to_parquet`): its kind from the file's
    metadata or its columns, each required column checked (type, no missing values, scores within
    [0, 1]). Returns a pandas DataFrame, or with ``output="arrow"`` a pyarrow Table."""
    _check_output(output)
    pa = _pyarrow()
    import pyarrow.parquet as pq

    target = os.fspath(path)
    try:
        table = pq.read_table(target)
    except FileNotFoundError as failure:
        raise IoError(f"'{target}' does not exist") from failure
    except OSError as failure:
        raise IoError(f"cannot read '{target}': {failure}") from failure
    except (pa.ArrowInvalid, pa.ArrowException) as failure:
        raise FormatError(f"'{target}' is not a readable Parquet file: {failure}") from failure
    metadata = table.schema.metadata or {}
    declared = metadata.get(b"pprl.table")
    kind, wanted = _table_kind([str(c) for c in table.column_names], declared.decode("utf-8", "replace") if declared else None)
    table = _typed_table(pa, table, wanted, FormatError)
    if output == "arrow":
        return table
    frame = table.to_pandas()
    frame.attrs["pprl.table"] = kind
    return frame
