"""pprl.dask: tiles scored on a Dask cluster give exactly pprl.match / pprl.link, and faults are clear."""
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pprl

distributed = pytest.importorskip("distributed")
import pprl.dask  # noqa: E402  (needs distributed)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "examples" / "youth_schema.json"
PARTIES = ("city", "schools", "promise")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three parties' encodings of a 2,000-person synthetic population, saved as .pprl files."""
    folder = tmp_path_factory.mktemp("dask")
    data = pprl.synth(people=2000, seed=11)
    schema = pprl.Schema.from_file(str(SCHEMA))
    secret = pprl.SecretKey.generate()
    paths = {}
    for party in PARTIES:
        encodings, _ = pprl.encode(data[party], schema, secret, party=party)
        paths[party] = str(folder / f"{party}.pprl")
        encodings.save(paths[party])
    other, _ = pprl.encode(data["city"], schema, pprl.SecretKey.generate(), party="other")
    paths["other_key"] = str(folder / "other_key.pprl")
    other.save(paths["other_key"])
    return paths


@pytest.fixture(scope="module")
def threads_client():
    with distributed.Client(distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                                     dashboard_address=":0")) as client:
        yield client


@pytest.fixture(scope="module")
def process_client():
    with distributed.Client(distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0")) as client:
        yield client


def loaded(files, *parties):
    return [pprl.load(files[p]) for p in parties]


def test_tiles_cover_every_pair_once():
    for a_rows, b_rows, size in [(10, 7, 20), (1, 1, 1), (1000, 3, 50), (3, 1000, 50), (97, 89, 1000), (5, 5, 10**9)]:
        covered = np.zeros((a_rows, b_rows), dtype=int)
        for i0, i1, j0, j1 in pprl.dask.tiles(a_rows, b_rows, size):
            assert 0 < (i1 - i0) * (j1 - j0) <= size
            covered[i0:i1, j0:j1] += 1
        assert (covered == 1).all()
    upper = np.zeros((50, 50), dtype=int)
    for i0, i1, j0, j1 in pprl.dask.tiles(50, 50, 100, triangle=True):
        upper[i0:i1, j0:j1] += 1
    assert (upper <= 1).all() and all(upper[i, j] == 1 for i in range(50) for j in range(i + 1, 50))
    assert pprl.dask.tiles(0, 10) == []
    with pytest.raises(pprl.UsageError):
        pprl.dask.tiles(10, 10, 0)


def test_encodings_pickle_whole(files):
    city = pprl.load(files["city"])
    again = pickle.loads(pickle.dumps(city))
    assert np.array_equal(again.to_numpy(), city.to_numpy()) and again.ids == city.ids
    assert (again.party, again.bits, again.layout, again.schema_fingerprint) == (city.party, city.bits, city.layout,
                                                                                city.schema_fingerprint)
    # The key check travels too: a pickled copy compares with the original, not with another key's file.
    pprl.match(again, city, 0.9)
    with pytest.raises(pprl.KeyMismatchError):
        pprl.match(again, pprl.load(files["other_key"]), 0.9)
    state = list(city.__getstate__())
    state[3] = state[3][:-1]
    with pytest.raises(pprl.FormatError):
        pprl.Encodings.__new__(pprl.Encodings).__setstate__(tuple(state))


@pytest.mark.parametrize("cluster", ["threads", "processes"])
@pytest.mark.parametrize("tile,threshold,top_k", [(50_000, "0.7", None), (1_000_000, 0.65, None), (7_919, "0.8", 1),
                                                  (250_000, 0.6, 3)])
def test_match_equals_pprl_match(files, request, cluster, tile, threshold, top_k):
    client = request.getfixturevalue("threads_client" if cluster == "threads" else "process_client")
    a, b = loaded(files, "city", "schools")
    expected = pprl.match(a, b, threshold, top_k=top_k)
    assert len(expected) > 100
    for inputs in ([files["city"], files["schools"]], [a, b]):
        got = pprl.dask.match(*inputs, threshold, client=client, tile=tile, top_k=top_k, progress=False)
        pd.testing.assert_frame_equal(got, expected)


def test_deduplication_equals_the_cli(files, threads_client, tmp_path):
    cli = os.environ.get("PPRL_CLI", str(ROOT / "build" / "release" / "pprl"))
    out = tmp_path / "dedup.csv"
    subprocess.run([cli, "match", files["city"], "--threshold", "0.7", "--out", str(out)], check=True,
                   capture_output=True)
    got = pprl.dask.match(files["city"], None, "0.7", client=threads_client, tile=30_000, progress=False)
    expected = pd.read_csv(out, dtype={"a_id": str, "b_id": str})
    assert len(expected) > 0
    assert list(got["a_id"]) == list(expected["a_id"]) and list(got["b_id"]) == list(expected["b_id"])
    assert np.allclose(got["score"], expected["score"])


@pytest.mark.parametrize("cluster", ["threads", "processes"])
@pytest.mark.parametrize("method,merge,tile,threshold", [("greedy", "parties", 100_000, "0.7"),
                                                         ("optimal", "parties", 1_000_000, 0.65),
                                                         ("greedy", "clique", 33_333, "0.75")])
def test_link_equals_pprl_link(files, request, cluster, method, merge, tile, threshold):
    client = request.getfixturevalue("threads_client" if cluster == "threads" else "process_client")
    parties = loaded(files, *PARTIES)
    expected = pprl.link(parties, threshold, method=method, merge=merge, model="record")
    got = pprl.dask.link([files[p] for p in PARTIES], threshold, method=method, merge=merge, client=client, tile=tile,
                         progress=False)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    assert expected["entity_id"].nunique() < len(expected)  # something was linked


def test_link_of_one_party_deduplicates_it(files, threads_client):
    city = pprl.load(files["city"])
    expected = pprl.link([city], "0.7", model="record")
    got = pprl.dask.link([city], "0.7", client=threads_client, tile=40_000, progress=False)
    pd.testing.assert_frame_equal(got, expected)


def test_link_scored_refuses_candidates_that_are_not_these_filters(files):
    a, b = loaded(files, "city", "schools")
    found = pprl.match_tile(a, 0, len(a), b, 0, len(b), 0.7)
    columns = pprl._core.link_scored_tables([a, b], [found], 0.7)
    assert len(columns[0]) == len(a) + len(b)
    forged = dict(found)
    forged["common"] = found["common"].copy()
    forged["common"][0] += 1
    with pytest.raises(pprl.FormatError):
        pprl._core.link_scored_tables([a, b], [forged], 0.7)
    with pytest.raises(pprl.UsageError):  # below the threshold it is linked at
        pprl._core.link_scored_tables([a, b], [found], 0.8)
    with pytest.raises(pprl.UsageError):  # a repeated pair
        pprl._core.link_scored_tables([a, b], [{k: np.concatenate([v, v[:1]]) for k, v in found.items()}], 0.7)
    with pytest.raises(pprl.UsageError):  # three parties need three blocks
        pprl._core.link_scored_tables([a, b, a], [found], 0.7)


def test_progress_counts_every_comparison(files, threads_client):
    a, b = loaded(files, "city", "schools")
    seen = []
    pprl.dask.match(a, b, 0.8, client=threads_client, tile=100_000, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(a) * len(b), len(a) * len(b))
    assert len(seen) == len(pprl.dask.tiles(len(a), len(b), 100_000))


def test_a_worker_killed_mid_run_changes_nothing(files):
    a, b = loaded(files, "city", "schools")
    expected = pprl.match(a, b, 0.6)
    with distributed.Client(distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0")) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed = []

        def kill_after_a_few(done, total):
            if not killed and done >= total // 20:
                os.kill(victim, signal.SIGKILL)
                killed.append((done, total))

        got = pprl.dask.match(files["city"], files["schools"], 0.6, client=client, tile=4_000,
                              progress=kill_after_a_few)
        assert killed and killed[0][0] < killed[0][1]  # it died with most tiles still to score
        with pytest.raises(ProcessLookupError):
            os.kill(victim, 0)
    pd.testing.assert_frame_equal(got, expected)


def test_keys_and_schemas_are_checked_before_any_work(files, threads_client):
    def tiles_run():
        return threads_client.run_on_scheduler(
            lambda dask_scheduler: sum(1 for key in dask_scheduler.tasks if "_score_tile" in str(key)))

    before = tiles_run()
    with pytest.raises(pprl.KeyMismatchError):
        pprl.dask.match(files["city"], files["other_key"], 0.8, client=threads_client, progress=False)
    with pytest.raises(pprl.KeyMismatchError):
        pprl.dask.link([files["city"], files["schools"], files["other_key"]], 0.8, client=threads_client, progress=False)
    with pytest.raises(pprl.UsageError, match="party label"):
        pprl.dask.link([files["city"], files["schools"], files["city"]], 0.8, client=threads_client, progress=False)
    with pytest.raises(pprl.UsageError):
        pprl.dask.link([files["city"], files["schools"]], "auto", client=threads_client)
    with pytest.raises(pprl.UsageError):
        pprl.dask.match(files["city"], files["schools"], "1.5", client=threads_client)
    assert tiles_run() == before


def _hide_file(path):
    """In a worker process: the file cannot be opened there (as on a machine without the share)."""
    import builtins

    real_open = builtins.open

    def open_except(name, *args, **kwargs):
        if os.fspath(name) == path:
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_open(name, *args, **kwargs)

    builtins.open = open_except
    return os.getpid()


def test_a_file_a_worker_cannot_read_is_named_before_any_work(files, tmp_path):
    with distributed.Client(distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0")) as client:
        worker = sorted(client.scheduler_info()["workers"])[1]
        client.run(_hide_file, files["schools"], workers=[worker])
        with pytest.raises(pprl.IoError, match=r"worker .*cannot use the input.*No such file.*every worker reads"):
            pprl.dask.match(files["city"], files["schools"], 0.8, client=client, progress=False)
        assert worker in str(pytest.raises(pprl.IoError, pprl.dask.link, [files["city"], files["schools"]], 0.8,
                                           client=client, progress=False).value)


def test_an_unreachable_scheduler_is_a_clear_error():
    start = time.monotonic()
    with pytest.raises(pprl.IoError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        pprl.dask.connect("tcp://127.0.0.1:9", timeout=2)
    assert time.monotonic() - start < 30


def test_an_interrupted_run_cancels_its_tiles(files, threads_client):
    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pprl.dask.match(files["city"], files["schools"], 0.8, client=threads_client, tile=10_000, progress=interrupt)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and threads_client.run_on_scheduler(
            lambda dask_scheduler: sum(1 for key in dask_scheduler.tasks if "_score_tile" in str(key))):
        time.sleep(0.1)
    assert threads_client.run_on_scheduler(
        lambda dask_scheduler: sum(1 for key in dask_scheduler.tasks if "_score_tile" in str(key))) == 0


def test_a_run_cancelled_on_the_cluster_is_a_clear_error(files, threads_client):
    def cancel_everything(done, total):
        if done < total:  # as an operator cancelling the client's work would
            threads_client.cancel([distributed.Future(key, threads_client) for key in list(threads_client.futures)])

    with pytest.raises(pprl.IoError, match="cancelled with .* tiles left; nothing was written"):
        pprl.dask.match(files["city"], files["schools"], 0.8, client=threads_client, tile=10_000,
                        progress=cancel_everything)


def test_without_a_client_a_local_cluster_is_started_and_closed(files):
    a, b = loaded(files, "city", "schools")
    import multiprocessing

    before = set(multiprocessing.active_children())
    got = pprl.dask.match(files["city"], files["schools"], 0.75, progress=False)
    pd.testing.assert_frame_equal(got, pprl.match(a, b, 0.75))
    assert set(multiprocessing.active_children()) <= before  # its worker processes are gone


def command(*arguments, **kwargs):
    return subprocess.run([sys.executable, "-m", "pprl.dask", *arguments], capture_output=True, text=True, **kwargs)


def test_the_command_writes_the_cli_tables(files, tmp_path):
    cli = os.environ.get("PPRL_CLI", str(ROOT / "build" / "release" / "pprl"))
    run = command("match", files["city"], files["schools"], "--threshold", "0.7", "--workers", "2", "--tile", "200000",
                  "--out", str(tmp_path / "pairs.csv"))
    assert run.returncode == 0, run.stderr
    subprocess.run([cli, "match", files["city"], files["schools"], "--threshold", "0.7", "--out",
                    str(tmp_path / "cli_pairs.csv")], check=True, capture_output=True)
    assert (tmp_path / "pairs.csv").read_bytes() == (tmp_path / "cli_pairs.csv").read_bytes()
    run = command("link", *(files[p] for p in PARTIES), "--threshold", "0.7", "--method", "optimal", "--workers", "2",
                  "--out", str(tmp_path / "entities.csv"))
    assert run.returncode == 0, run.stderr
    subprocess.run([cli, "link", *(files[p] for p in PARTIES), "--threshold", "0.7", "--method", "optimal", "--model",
                    "record", "--out", str(tmp_path / "cli_entities.csv")], check=True, capture_output=True)
    assert (tmp_path / "entities.csv").read_bytes() == (tmp_path / "cli_entities.csv").read_bytes()
    run = command("match", files["city"], files["schools"], "--threshold", "0.9", "--workers", "1", "--out", "-")
    assert run.returncode == 0 and run.stdout.startswith("a_id,b_id,score\n")


def test_the_command_exit_codes_and_no_partial_output(files, tmp_path):
    out = tmp_path / "out.csv"
    cases = [
        (["match", files["city"], files["other_key"], "--threshold", "0.8", "--workers", "1"], 4),
        (["match", files["city"], str(tmp_path / "missing.pprl"), "--threshold", "0.8", "--workers", "1"], 5),
        (["match", files["city"], files["schools"], "--threshold", "2", "--workers", "1"], 2),
        (["link", files["city"], files["schools"], "--threshold", "0.8", "--scheduler", "tcp://127.0.0.1:9",
          "--connect-timeout", "2"], 5),
        (["match", files["city"], files["schools"], "--threshold", "0.8", "--tile", "0"], 2),
        (["nonsense"], 2),
    ]
    for arguments, code in cases:
        run = command(*arguments, "--out", str(out)) if arguments != ["nonsense"] else command(*arguments)
        assert run.returncode == code, (arguments, run.stderr)
        assert "Traceback" not in run.stderr
        assert not out.exists()
    run = command("match", files["city"], files["schools"], "--threshold", "0.8", "--workers", "1", "--out",
                  files["schools"])
    assert run.returncode == 2 and "same file" in run.stderr
    assert pprl.load(files["schools"]) is not None
    assert sorted(os.listdir(tmp_path)) == []


def test_the_command_interrupted_leaves_nothing(files, tmp_path):
    out = tmp_path / "out.csv"
    process = subprocess.Popen([sys.executable, "-m", "pprl.dask", "match", files["city"], files["schools"],
                                "--threshold", "0.5", "--workers", "2", "--tile", "500", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # the cluster is up and scoring (about 7,000 small tiles)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 5, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert sorted(os.listdir(tmp_path)) == []
