"""pprl on a Dask cluster: matching and linking cut into tiles that workers score.

``pip install pprl[dask]`` adds ``dask.distributed``; the core package does not need it.

The all-pairs work of A × B is cut into rectangular tiles of about ``tile`` comparisons each
(:data:`DEFAULT_TILE_COMPARISONS` by default). Each task scores one tile with
:func:`pprl.match_tile` on a worker, with the GIL released, and sends back only the passing pairs
as numpy arrays (global row indices, counts). The client gathers the tiles as they complete
(``as_completed``, under a progress bar), joins them with :func:`pprl.gather_tiles` into exactly
what :func:`pprl.match` returns, and for a link runs the one-to-one solve and the clustering once,
in C++, on the client (:func:`pprl.link`'s solver, per connected component for ``method="optimal"``).

Inputs are ``.pprl`` paths or :class:`pprl.Encodings`. A path is opened by every worker at the same
path (memory-mapped, once per worker process), so the files must be on storage that every worker
reads — a shared file system or the same copy on every machine; before any work is sent, every
worker checks that it sees the same file as the client, and the error names the worker that does
not. Encodings are scattered to the workers once, not per task. Encodings of different schemas or
keys are refused (:class:`pprl.KeyMismatchError`) before any work is sent.

Without a client, a ``LocalCluster`` of one single-threaded worker process per core is started and
closed. With a scheduler address (a string), a client connects to it and is closed afterwards.
"""
from __future__ import annotations

import concurrent.futures
import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import (Encodings, FormatError, IoError, UsageError, _check_output, _entities_table, _pairs_table,
                gather_tiles, load, match_tile)
from .._core import check_comparable as _check_comparable
from .._core import link_scored_tables as _link_scored_tables
from .._core import party_labels as _party_labels

try:
    import distributed
except ImportError as error:  # pragma: no cover - only without the extra
    raise ImportError("pprl.dask needs dask.distributed: pip install 'pprl[dask]'") from error

__all__ = ["DEFAULT_TILE_COMPARISONS", "link", "match", "tiles"]

# Comparisons per task: about a third of a second of one core at the matcher's rate on real
# encodings, large enough that the scheduler's few milliseconds per task and each tile's own set-up
# (bit-slicing its B rows, sorting both sides by popcount) stay small, and small enough that a
# million × a million makes a thousand tasks to spread and reschedule.
DEFAULT_TILE_COMPARISONS = 1_000_000_000

Source = Union[str, "os.PathLike[str]", Encodings]
Progress = Union[bool, Callable[[int, int], None]]


# ---------------------------------------------------------------------------------------------
# Tiling


def tiles(a_rows: int, b_rows: int, comparisons: int = DEFAULT_TILE_COMPARISONS,
          triangle: bool = False) -> List[Tuple[int, int, int, int]]:
    """Rectangles ``(i0, i1, j0, j1)`` of about ``comparisons`` pairs each that cover a × b exactly.

    Tiles are square where both sides allow (side ⌈√comparisons⌉), so each tile's rows of B are
    bit-sliced once for as many rows of A as they are compared with. ``triangle`` (deduplication,
    a == b) keeps only the tiles on or above the diagonal.
    """
    if comparisons < 1:
        raise UsageError("a tile must hold at least one comparison")
    if a_rows == 0 or b_rows == 0:
        return []
    side = math.isqrt(comparisons - 1) + 1
    b_step = min(b_rows, side)
    a_step = min(a_rows, max(1, comparisons // b_step))
    if triangle:
        a_step = b_step = min(a_step, b_step)
    out = []
    for i0 in range(0, a_rows, a_step):
        for j0 in range(0, b_rows, b_step):
            if triangle and j0 + b_step <= i0:
                continue
            out.append((i0, min(i0 + a_step, a_rows), j0, min(j0 + b_step, b_rows)))
    return out


# ---------------------------------------------------------------------------------------------
# Inputs: files opened on the workers, or Encodings scattered to them


@dataclass(frozen=True)
class _File:
    """A .pprl file as the client saw it: absolute path, size and footer (its two checksums)."""

    path: str
    size: int
    footer: bytes


_FOOTER_BYTES = 32


def _describe(path: str) -> _File:
    absolute = os.path.abspath(os.fspath(path))
    try:
        with open(absolute, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _FOOTER_BYTES:
                raise FormatError(f"'{path}' is too short to be a pprl file")
            f.seek(size - _FOOTER_BYTES)
            footer = f.read(_FOOTER_BYTES)
    except OSError as error:
        raise IoError(f"cannot read '{path}': {error.strerror}") from None
    return _File(absolute, size, footer)


def _problem(file: _File) -> Optional[str]:
    """What is wrong with `file` as this process sees it, or None if it is the client's file."""
    try:
        seen = _describe(file.path)
    except (IoError, FormatError) as error:
        return str(error)
    if seen != file:
        return f"'{file.path}' differs from the client's copy (size or checksums)"
    return None


def _check_files(files: Sequence[_File]) -> List[str]:
    """Run on every worker before work is sent: the problems it has with the files."""
    return [problem for problem in map(_problem, files) if problem is not None]


_opened: Dict[_File, Encodings] = {}
_opened_lock = threading.Lock()
_OPENED_KEPT = 16


def _open(file: _File) -> Encodings:
    """The file's encodings in this worker process: loaded (memory-mapped, verified) once."""
    with _opened_lock:
        if file in _opened:
            return _opened[file]
    problem = _problem(file)
    if problem is not None:
        raise IoError(f"on worker {_worker_name()}: {problem}; pprl.dask needs every file at the same path on "
                      "storage that every worker reads")
    encodings = load(file.path)
    with _opened_lock:
        while len(_opened) >= _OPENED_KEPT:
            _opened.pop(next(iter(_opened)))
        _opened[file] = encodings
    return encodings


def _worker_name() -> str:
    try:
        return distributed.get_worker().address
    except ValueError:
        return "(the client process)"


def _score_tile(source_a: Union[_File, Encodings], source_b: Union[_File, Encodings], tile: Tuple[int, int, int, int],
                dedup: bool, threshold: Union[float, str], top_k: int, threads: int) -> Dict[str, np.ndarray]:
    """One task: the pairs of one tile that pass, as numpy arrays with global row indices."""
    a = _open(source_a) if isinstance(source_a, _File) else source_a
    b = _open(source_b) if isinstance(source_b, _File) else source_b
    i0, i1, j0, j1 = tile
    diagonal = dedup and j0 < i1
    # A tile that crosses the diagonal keeps i < j only, so its own top k is taken after that cut.
    found = match_tile(a, i0, i1, b, j0, j1, threshold, 0 if diagonal else top_k, threads)
    if diagonal:
        keep = found["a"] < found["b"]
        found = {name: column[keep] for name, column in found.items()}
    found.pop("score")  # recomputed from the counts on the client
    return found


class _Inputs:
    """The parties as the client holds them (for ids and checks) and as tasks receive them."""

    def __init__(self, client: Any, sources: Sequence[Source]) -> None:
        self.encodings: List[Encodings] = []
        self.remote: List[Any] = []
        files: List[_File] = []
        for source in sources:
            if isinstance(source, Encodings):
                self.encodings.append(source)
                self.remote.append(None)
            elif isinstance(source, (str, os.PathLike)):
                file = _describe(os.fspath(source))
                self.encodings.append(load(file.path))
                self.remote.append(file)
                files.append(file)
            else:
                raise UsageError("pprl.dask takes .pprl paths or pprl.Encodings, not " + type(source).__name__)
        for p in range(len(self.encodings)):
            for q in range(p + 1, len(self.encodings)):
                warning = _check_comparable(self.encodings[p], self.encodings[q])
                if warning:
                    import warnings

                    warnings.warn(warning, stacklevel=4)
        if files:
            problems = {worker: found for worker, found in client.run(_check_files, files).items() if found}
            if problems:
                worker, found = sorted(problems.items())[0]
                raise IoError(f"worker {worker} cannot use the input: {found[0]}; pprl.dask needs every file at the "
                              f"same path on storage that every worker reads ({len(problems)} worker(s) affected)")
        for k, source in enumerate(self.remote):
            if source is None:
                self.remote[k] = client.scatter(self.encodings[k], broadcast=True, hash=False)


# ---------------------------------------------------------------------------------------------
# Running tiles


class _Cluster:
    """The client to use: the caller's, one connected to an address, or a LocalCluster of our own."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.owned: List[Any] = []
        if client is None:
            cluster = distributed.LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                               dashboard_address=":0")
            self.owned.append(cluster)
            self.client = distributed.Client(cluster)
            self.owned.insert(0, self.client)
        elif isinstance(client, str):
            self.client = connect(client)
            self.owned.append(self.client)

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: Any) -> None:
        for owned in self.owned:
            owned.close()


def connect(address: str, timeout: float = 10) -> Any:
    """A ``distributed.Client`` on the scheduler at `address`; IoError if it cannot be reached."""
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise IoError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(error).__name__})") from None


@dataclass
class _Job:
    """The tiles of one party pair (or one party's own pairs)."""

    a: int
    b: int
    tiles: List[Tuple[int, int, int, int]]
    found: List[Dict[str, np.ndarray]]


def _run(client: Any, inputs: _Inputs, jobs: List[_Job], threshold: Union[float, str], top_k: int, threads: int,
         progress: Progress) -> None:
    """Scores every job's tiles on the cluster; each job's `found` gets its tiles' pairs."""
    tasks = [(job, tile) for job in jobs for tile in job.tiles]
    total = sum((i1 - i0) * (j1 - j0) for _, (i0, i1, j0, j1) in tasks)
    report = _progress_reporter(progress, total)
    # Positional arguments are mapped (one per task); keywords are passed to every task as they are.
    futures = client.map(_score_tile, [inputs.remote[job.a] for job, _ in tasks], [inputs.remote[job.b] for job, _ in tasks],
                         [tile for _, tile in tasks], [job.a == job.b for job, _ in tasks], threshold=threshold,
                         top_k=top_k, threads=threads, pure=False)
    where = {future.key: k for k, future in enumerate(futures)}
    done = 0
    try:
        for future in distributed.as_completed(futures):
            k = where[future.key]
            try:
                found = future.result()
            except concurrent.futures.CancelledError:  # distributed's FutureCancelledError derives from it
                raise IoError(f"the run was cancelled with {len(futures) - done} of {len(futures)} tiles left; nothing "
                              "was written") from None
            job, (i0, i1, j0, j1) = tasks[k]
            job.found.append(found)
            done += 1
            report((i1 - i0) * (j1 - j0))
            future.release()
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        report(None)


def _progress_reporter(progress: Progress, total: int) -> Callable[[Optional[int]], None]:
    """report(n) after n more comparisons, report(None) at the end; a tqdm bar, a callable or nothing."""
    if callable(progress):
        state = [0]

        def call(step: Optional[int]) -> None:
            if step is not None:
                state[0] += step
                progress(state[0], total)

        return call
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="pairs", unit_scale=True, desc="scoring tiles")
        except ImportError:
            bar = None

    def update(step: Optional[int]) -> None:
        if bar is None:
            return
        if step is None:
            bar.close()
        else:
            bar.update(step)

    return update


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer")


def _tile_size(tile: Optional[int]) -> int:
    if tile is None:
        return DEFAULT_TILE_COMPARISONS
    _positive("tile (comparisons per task)", tile)
    return tile


# ---------------------------------------------------------------------------------------------
# The API


def match_arrays(a: Source, b: Optional[Source], threshold: Union[float, str], client: Any = None,
                 tile: Optional[int] = None, top_k: Optional[int] = None, progress: Progress = True,
                 threads: int = 1) -> Tuple[Encodings, Encodings, Dict[str, np.ndarray]]:
    """:func:`match`'s pairs as arrays (``a``, ``b``, ``common``, ``total``, ``score``) with the two
    Encodings they index (``b`` None: a's own pairs i < j)."""
    size = _tile_size(tile)
    top_k = _top_k(top_k)
    _check_threshold(threshold)
    _positive("threads", threads)
    with _Cluster(client) as active:
        inputs = _Inputs(active, [a] if b is None else [a, b])
        last = len(inputs.encodings) - 1
        rows_a, rows_b = len(inputs.encodings[0]), len(inputs.encodings[last])
        job = _Job(0, last, tiles(rows_a, rows_b, size, triangle=b is None), [])
        _run(active, inputs, [job], threshold, top_k, threads, progress)
    return inputs.encodings[0], inputs.encodings[last], gather_tiles(job.found, top_k)


def match(a: Source, b: Optional[Source], threshold: Union[float, str], client: Any = None, tile: Optional[int] = None,
          top_k: Optional[int] = None, progress: Progress = True, threads: int = 1, output: str = "pandas") -> Any:
    """Every pair with Dice ≥ threshold, best first: exactly :func:`pprl.match`'s table, scored on a cluster.

    ``a`` and ``b`` are .pprl paths or Encodings (``b=None``: a's own pairs i < j, as ``pprl match``
    with one file). ``client`` is a ``distributed.Client``, a scheduler address, or None (a
    LocalCluster for the call). ``tile``: comparisons per task (default DEFAULT_TILE_COMPARISONS).
    ``top_k``: at most k pairs per record of a, across tiles. ``progress``: a bar (tqdm, if
    installed), False, or a callable ``(comparisons_done, comparisons_total)``. ``threads``: matcher
    threads per task (1 for single-threaded workers).
    """
    _check_output(output)
    left, right, found = match_arrays(a, b, threshold, client, tile, top_k, progress, threads)
    return _pairs_table(left, right, found["a"], found["b"], found["score"], output)


def link(parties: Sequence[Source], threshold: Union[float, str], method: str = "greedy", merge: str = "parties",
         client: Any = None, tile: Optional[int] = None, progress: Progress = True, threads: int = 1,
         output: str = "pandas") -> Any:
    """Links the parties into entities: exactly :func:`pprl.link` with ``model="record"``, scored on a cluster.

    Every party pair's tiles run at once; the gathered candidates are solved and clustered on the
    client (``method`` greedy or optimal; ``merge`` as in :func:`pprl.link`). One party is
    deduplicated. ``threshold`` is a Dice threshold (choose it with ``pprl.link(...,
    threshold="auto")`` on a sample, or from ``pprl evaluate``).
    """
    _check_output(output)
    if isinstance(threshold, str) and threshold == "auto":
        raise UsageError('pprl.dask.link needs a Dice threshold, not "auto" (estimate it with pprl.link on a sample)')
    if method not in ("greedy", "optimal"):
        raise UsageError("method must be 'greedy' or 'optimal'")
    if merge not in ("parties", "clique"):
        raise UsageError("merge must be 'parties' or 'clique'")
    parties = list(parties)
    if not parties:
        raise UsageError("link needs at least one party")
    size = _tile_size(tile)
    _check_threshold(threshold)
    _positive("threads", threads)
    with _Cluster(client) as active:
        inputs = _Inputs(active, parties)
        _party_labels(inputs.encodings)  # two parties alike are refused before any work
        n = len(inputs.encodings)
        pairs = [(0, 0)] if n == 1 else [(p, q) for p in range(n) for q in range(p + 1, n)]
        jobs = [_Job(p, q, tiles(len(inputs.encodings[p]), len(inputs.encodings[q]), size, triangle=p == q), [])
                for p, q in pairs]
        _run(active, inputs, jobs, threshold, 0, threads, progress)
    blocks = [gather_tiles(job.found, 0) for job in jobs]
    columns = _link_scored_tables(inputs.encodings, blocks, threshold, method, merge, output == "arrow")
    return _entities_table(columns, output)


def _top_k(top_k: Optional[int]) -> int:
    if top_k is None:
        return 0
    _positive("top_k", top_k)
    return top_k


def _check_threshold(threshold: Union[float, str]) -> None:
    """UsageError now, on the client, for a threshold every task would refuse."""
    empty = Encodings.from_numpy(np.zeros((0, 8), dtype=np.uint8), [])
    match_tile(empty, 0, 0, empty, 0, 0, threshold)
