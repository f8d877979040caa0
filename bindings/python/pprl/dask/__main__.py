"""python -m pprl.dask: ``pprl match`` and ``pprl link`` scored on a Dask cluster.

    python -m pprl.dask match A.pprl [B.pprl] --threshold T [--top-k K] --out pairs.csv
    python -m pprl.dask link A.pprl B.pprl [C.pprl ...] --threshold T [--method optimal] --out entities.csv

with ``--scheduler ADDRESS`` for an existing cluster (default: a local cluster of one worker process
per core). The tables have the CLI's columns and are written whole or not at all; ``--out -`` writes
standard output. Exit codes as the CLI's: 2 usage, 3 validation, 4 key or schema mismatch, 5 I/O,
format, an unreachable scheduler, a failed cluster or an interruption (SIGINT, SIGTERM, SIGHUP).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, List, Optional

from .. import Error, FormatError, IoError, KeyMismatchError, UsageError, ValidationError
from .._core import write_entities, write_pairs
from . import DEFAULT_TILE_COMPARISONS, connect
from . import link as dask_link
from . import match_arrays

_EXIT = {UsageError: 2, ValidationError: 3, KeyMismatchError: 4, FormatError: 5, IoError: 5}
_CATEGORY = {UsageError: "usage", ValidationError: "validation", KeyMismatchError: "key mismatch", FormatError: "format",
             IoError: "I/O"}


class _Interrupted(Exception):
    """A termination signal arrived: the run is cancelled and nothing is written."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pprl.dask",
                                     description="pprl match and link with the scoring spread over a Dask cluster")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument("--threshold", required=True, help="Dice threshold in (0, 1], exact decimal")
        command.add_argument("--out", required=True, help="the table to write ('-': standard output)")
        command.add_argument("--scheduler", help="address of a running Dask scheduler (default: a local cluster)")
        command.add_argument("--connect-timeout", type=float, default=10,
                             help="seconds to wait for the scheduler (default 10)")
        command.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
        command.add_argument("--tile", type=int, default=DEFAULT_TILE_COMPARISONS,
                             help=f"comparisons per task (default {DEFAULT_TILE_COMPARISONS:,})")
        command.add_argument("--threads", type=int, default=1, help="matcher threads per task (default 1)")
        command.add_argument("--no-progress", action="store_true", help="no progress bar")

    match = commands.add_parser("match", help="every pair with Dice >= threshold: a_id,b_id,score, best first")
    match.add_argument("a", help="first encoded file")
    match.add_argument("b", nargs="?", help="second encoded file (omit to deduplicate the first: pairs i < j)")
    match.add_argument("--top-k", type=int, help="at most K best pairs per record of the first file")
    common(match)
    link = commands.add_parser("link", help="entities over the parties: party,record_id,entity_id")
    link.add_argument("inputs", nargs="+", help="encoded files, one per party (one file: deduplicated)")
    link.add_argument("--method", choices=("greedy", "optimal"), default="greedy")
    link.add_argument("--merge", choices=("parties", "clique"), default="parties",
                      help="three or more parties: merge clusters that share no party, or only cliques (anonlink)")
    common(link)
    return parser


def _refuse_overwriting(out: str, inputs: List[str]) -> None:
    if out == "-" or not os.path.exists(out):
        return
    for path in inputs:
        if os.path.exists(path) and os.path.samefile(out, path):
            raise UsageError(f"the output '{out}' is the same file as the input '{path}'")


def _run(arguments: argparse.Namespace) -> None:
    inputs = [arguments.a] + ([arguments.b] if arguments.b else []) if arguments.command == "match" else arguments.inputs
    _refuse_overwriting(arguments.out, inputs)
    for name in ("tile", "threads", "workers", "top_k"):
        value = getattr(arguments, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} takes a whole number from 1")
    client, cluster = _client(arguments)
    try:
        progress = not arguments.no_progress and sys.stderr.isatty()
        if arguments.command == "match":
            a, b, pairs = match_arrays(arguments.a, arguments.b, arguments.threshold, client=client, tile=arguments.tile,
                                       top_k=arguments.top_k, progress=progress, threads=arguments.threads)
            _ignore_signals()  # from here the table is written whole, or not at all by the writer's own rules
            write_pairs(arguments.out, a, b, pairs)
            print(f"pprl: {len(pairs['a']):,} pairs with Dice >= {arguments.threshold}", file=sys.stderr)
        else:
            entities = dask_link(arguments.inputs, arguments.threshold, method=arguments.method, merge=arguments.merge,
                                 client=client, tile=arguments.tile, progress=progress, threads=arguments.threads)
            _ignore_signals()
            write_entities(arguments.out, list(entities["party"]), list(entities["record_id"]), list(entities["entity_id"]))
            print(f"pprl: {len(entities):,} records in {entities['entity_id'].nunique():,} entities", file=sys.stderr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _client(arguments: argparse.Namespace) -> Any:
    import distributed

    if arguments.scheduler:
        return connect(arguments.scheduler, arguments.connect_timeout), None
    cluster = distributed.LocalCluster(n_workers=arguments.workers or os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    return distributed.Client(cluster), cluster


def _ignore_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)


def _on_signal(number: int, frame: Optional[Any]) -> None:
    raise _Interrupted(signal.Signals(number).name)


def main(argv: Optional[List[str]] = None) -> int:
    arguments = _parser().parse_args(argv)  # usage errors exit 2
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _on_signal)
    try:
        _run(arguments)
        return 0
    except Error as error:
        kind = next((k for k in _EXIT if isinstance(error, k)), None)
        print(f"pprl: {_CATEGORY.get(kind, 'internal')} error: {error}", file=sys.stderr)
        return _EXIT.get(kind, 5)
    except _Interrupted as signal_name:
        print(f"pprl: interrupted by {signal_name}; the run was cancelled and nothing was written", file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        print("pprl: interrupted; the run was cancelled and nothing was written", file=sys.stderr)
        return 5
    except Exception as error:  # the cluster failed (a task that kept killing its workers, say)
        print(f"pprl: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 5


if __name__ == "__main__":
    sys.exit(main())
