"""pprl.dask.match on a two-worker LocalCluster against `pprl match --threads 2`, in the same run.

    python3 bench/dask_match.py BUILD_DIR [ROWS] [THRESHOLD] [ROUNDS]

ROWS × ROWS CLK-like filters (1024 bits, 1 % of B planted as matches; bench/match_million writes
them), default one million × one million at t = 0.8. Each round times the CLI (whole process,
pairs to /dev/null) and then pprl.dask.match with the same output (client-side load and checks,
scoring, gathering, writing), the two alternating. Reports tasks, bytes shipped per task each way,
the tiles' compute time from Dask's task stream, and the CPU time of the thread running the
scheduler's event loop (shared with the client's communication in a LocalCluster).
"""
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings

import distributed

import pprl
import pprl.dask
from pprl._core import write_pairs


def main() -> None:
    build = os.path.abspath(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    threshold = sys.argv[3] if len(sys.argv) > 3 else "0.8"
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    warnings.simplefilter("ignore")  # the generated files carry no schema or key to check
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as folder:
        a, b = os.path.join(folder, "a.pprl"), os.path.join(folder, "b.pprl")
        subprocess.run([f"{build}/bench/match_million", str(rows), str(rows), threshold, "2", a, b], check=True)
        start = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = distributed.Client(cluster)
        print(f"dask_match: LocalCluster of 2 single-threaded workers up in {time.perf_counter() - start:.1f} s")
        tiles = pprl.dask.tiles(rows, rows)
        print(f"dask_match: {rows:,} x {rows:,} at t = {threshold}, {len(tiles)} tasks of about "
              f"{pprl.dask.DEFAULT_TILE_COMPARISONS:.0e} comparisons, backend {pprl.capabilities()['active_backend']}")
        file_a, file_b = pprl.dask._describe(a), pprl.dask._describe(b)
        arguments = len(pickle.dumps((pprl.dask._score_tile, file_a, file_b, tiles[0], False, threshold, 0, 1)))
        for round_number in range(1, rounds + 1):
            start = time.perf_counter()
            subprocess.run([f"{build}/pprl", "match", a, b, "--threshold", threshold, "--threads", "2", "--out",
                            "/dev/null"], check=True, capture_output=True)
            cli = time.perf_counter() - start
            time.sleep(10)
            loop_before = client.run_on_scheduler(time.thread_time)
            start = time.perf_counter()
            with distributed.get_task_stream(client) as stream:
                left, right, pairs = pprl.dask.match_arrays(a, b, threshold, client=client, progress=False)
                write_pairs("/dev/null", left, right, pairs)
            dask_seconds = time.perf_counter() - start
            loop = client.run_on_scheduler(time.thread_time) - loop_before
            compute = sum(stop - begin for task in stream.data for action, begin, stop in
                          ((s["action"], s["start"], s["stop"]) for s in task["startstops"]) if action == "compute")
            results = [task.get("nbytes", 0) for task in stream.data]
            print(f"round {round_number}: pprl match --threads 2 {cli:.1f} s; pprl.dask.match {dask_seconds:.1f} s "
                  f"({dask_seconds / cli:.3f}x, overhead {100 * (dask_seconds / cli - 1):+.1f} %); {len(pairs['a']):,} pairs")
            print(f"  tasks {len(stream.data)}, tile compute {compute:.1f} s over 2 workers "
                  f"({compute / 2 / dask_seconds * 100:.0f} % of wall), event-loop CPU {loop:.2f} s, "
                  f"per task {arguments} bytes sent, {sum(results) / max(1, len(results)):.0f} bytes back on average")
            time.sleep(10)
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
