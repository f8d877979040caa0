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
    Schema,
    SecretKey,
    UsageError,
    ValidationError,
    __version__,
    capabilities,
    evaluate_tables as _evaluate_tables,
    link_tables as _link_tables,
    load,
    match_arrays as _match_arrays,
    set_backend,
    synth_tables as _synth_tables,
)

__all__ = [
    "Encodings", "Error", "FormatError", "InternalError", "IoError", "KeyMismatchError", "Schema", "SecretKey", "UsageError",
    "ValidationError", "capabilities", "encode", "evaluate", "link", "load", "match", "synth", "__version__",
]

# Rows handed to C++ per call when a progress bar is shown.
_PROGRESS_CHUNK = 20_000


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


def encode(
    data: Union[pd.DataFrame, Mapping[str, Sequence[Any]], Iterable[Mapping[str, Any]]],
    schema: Schema,
    secret: SecretKey,
    id_column: Optional[str] = None,
    threads: Optional[int] = None,
    progress: bool = False,
    errors: str = "collect",
    party: str = "",
) -> Tuple[Encodings, pd.DataFrame]:
    """Encode rows into keyed Bloom filters.

    ``data`` is a DataFrame, a dict of columns or an iterable of dicts. Returns the encodings and a
    DataFrame of rejected rows (``row``, ``field``, ``reason``; the value itself is never shown).
    With ``errors="raise"`` the first rejected row raises ValidationError instead. ``id_column``
    defaults to the schema's; with a clkhash schema, to the first column if its feature is ignored,
    else the row number. A clkhash schema takes clkhash's text secret:
    ``SecretKey.from_file(path, encoding="raw")``.
    """
    if errors not in ("collect", "raise"):
        raise UsageError('errors must be "collect" or "raise"')
    columns, rows = _columns_and_rows(data)
    if not rows:
        raise ValidationError("no rows to encode")
    encoder = _BatchEncoder(schema, secret, columns, id_column or "", party, threads)
    rejected: List[Tuple[int, str, str]] = []
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(rows), unit="rows", desc="encoding")
        except ImportError:
            bar = None
    step = _PROGRESS_CHUNK if bar is not None else len(rows)
    for start in range(0, len(rows), step):
        rejected.extend(encoder.add(rows[start:start + step]))
        if bar is not None:
            bar.update(min(step, len(rows) - start))
    if bar is not None:
        bar.close()
    rejects = pd.DataFrame(rejected, columns=["row", "field", "reason"])
    if errors == "raise" and len(rejects):
        first = rejects.iloc[0]
        where = f", field {first.field}" if first.field else ""
        raise ValidationError(f"row {first.row}{where}: {first.reason}")
    return encoder.finish(), rejects


def match(a: Encodings, b: Encodings, threshold: Union[float, str], top_k: Optional[int] = None,
          threads: Optional[int] = None) -> pd.DataFrame:
    """Every pair with Dice ≥ threshold as a DataFrame ``a_id, b_id, score``, best first.

    A string threshold ("0.8") is exact; a float is read as the shortest decimal that round-trips.
    """
    a_index, b_index, scores, warning = _match_arrays(a, b, threshold, top_k or 0, threads)
    if warning:
        import warnings

        warnings.warn(warning, stacklevel=2)
    a_ids = np.asarray(a.ids, dtype=object)
    b_ids = np.asarray(b.ids, dtype=object)
    return pd.DataFrame({"a_id": a_ids[a_index] if len(a_index) else [], "b_id": b_ids[b_index] if len(b_index) else [],
                         "score": scores})


def link(parties: Sequence[Encodings], threshold: Union[float, str] = "auto", method: str = "greedy",
         blocking: Optional[str] = None, threads: Optional[int] = None, model: str = "auto",
         merge: str = "parties") -> pd.DataFrame:
    """Link parties into entities: a DataFrame ``party, record_id, entity_id`` with every record once.

    ``model`` is "auto" (Fellegi-Sunter for encodings with a segmented layout, else record-level
    Dice), "record" or "fs". ``threshold`` is "auto" (chosen from the data; the value used is in the
    frame's ``attrs["threshold"]``), or a Dice threshold (record) or match probability (fs).
    ``blocking`` is None (exact all pairs) or "lsh" / "lsh:L,K" (Hamming LSH). ``merge`` (three or
    more parties): "parties" merges two clusters when they share no party, "clique" only when every
    pair across them is a candidate (anonlink's greedy_solve).
    """
    if blocking is not None and not isinstance(blocking, str):
        raise UsageError('blocking must be None, "lsh" or "lsh:L,K"')
    party, record, entity, warnings_, used = _link_tables(list(parties), threshold, method,
                                                          "none" if blocking is None else blocking, threads, model, merge)
    for warning in warnings_:
        import warnings

        warnings.warn(warning, stacklevel=2)
    frame = pd.DataFrame({"party": party, "record_id": record, "entity_id": entity})
    frame.attrs["threshold"] = used
    return frame


def synth(people: int = 20_000, seed: int = 1,
          parties: Sequence[str] = ("city", "schools", "promise")) -> Dict[str, pd.DataFrame]:
    """Synthetic youth records: one DataFrame per party plus ``"truth"`` (party, record_id, person_id, group)."""
    tables = _synth_tables(people, seed, list(parties))
    return {name: pd.DataFrame(columns) for name, columns in tables.items()}


def evaluate(truth: pd.DataFrame, entities: pd.DataFrame) -> Tuple[Dict[str, Any], pd.DataFrame]:
    """Pairwise precision, recall and F1 of ``entities`` against ``truth``, overall and per group.

    Returns a dict of the overall metrics (and the group with the largest F1 gap) and a DataFrame with
    one row per group.
    """
    groups = truth["group"] if "group" in truth else pd.Series([""] * len(truth))
    result = _evaluate_tables(truth["party"].astype(str).tolist(), truth["record_id"].astype(str).tolist(),
                              truth["person_id"].astype(str).tolist(), groups.astype(str).tolist(),
                              entities["party"].astype(str).tolist(), entities["record_id"].astype(str).tolist(),
                              entities["entity_id"].astype(str).tolist())
    per_group = pd.DataFrame(result.pop("groups"))
    if len(per_group):
        per_group = per_group[["group", "precision", "recall", "f1", "true_positives", "false_positives",
                               "false_negatives"]]
    return result, per_group
