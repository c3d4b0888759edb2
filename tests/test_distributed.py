"""netdream.distributed: the searches on a Dask LocalCluster (worker
processes) give the local results, bit for bit; summaries, sweeps, a killed
worker, Ctrl-C, and the error when Dask is absent."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import time

import numba
import numpy as np
import pytest

import netdream
from netdream import regularizers

distributed = pytest.importorskip(
    "distributed", reason='Dask is not installed (pip install "netdream[distributed]")')
nd = pytest.importorskip("netdream.distributed")


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, started for these tests (the
    dashboard on a free port: another cluster may hold Dask's usual 8787)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def net():
    return netdream.MLP.pretrained()


@numba.njit(cache=False)
def _ink_value(img, params):  # a user's own regulariser, defined here (not importable
    return ((img - params[0]) ** 2).sum()  # on the workers: Numba pickles it by value)


@numba.njit(cache=False)
def _ink_delta(img, row, col, new, params):
    old = img[row, col]
    return (new - params[0]) ** 2 - (old - params[0]) ** 2


def _same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.score, b.score)


# ------------------------------------------------------------ bit-identical
@pytest.mark.parametrize("chunk", [1, 3, 7, 24])
def test_hill_climb_is_bit_identical_for_any_chunking(client, net, chunk):
    reg = regularizers.smoothness(1e-5) + regularizers.custom(_ink_value, _ink_delta, 1e-4,
                                                              params=[0.1])
    kw = dict(steps=3000, regularizer=reg, seed=5, first_run=3)
    local = netdream.hill_climb(net, 4, runs=24, progress=False, **kw)
    dist = nd.hill_climb(net, 4, runs=24, client=client, chunk=chunk, progress=False, **kw)
    _same(dist, local)
    np.testing.assert_array_equal(dist.accepted, local.accepted)
    assert dist.settings == local.settings


def test_hill_climb_splits_start_images_and_trajectories(client, net):
    starts = np.random.default_rng(0).random((6, 28, 28)) * 0.2
    kw = dict(steps=1000, start=starts, record_every=250, precision="float64", seed=2)
    local = netdream.hill_climb(net, 7, runs=6, progress=False, **kw)
    with client.as_current():  # Dask's current client, no client= needed
        dist = nd.hill_climb(net, 7, runs=6, chunk=4, progress=False, **kw)
    _same(dist, local)
    np.testing.assert_array_equal(dist.trajectory.images, local.trajectory.images)
    np.testing.assert_array_equal(dist.trajectory.steps, local.trajectory.steps)


def test_evolve_repeats_are_the_local_runs(client, net):
    kw = dict(population=20, steps=15, seed=9, stop_at=None)
    dist = nd.evolve(net, 2, runs=5, chunk=2, client=client, progress=False, **kw)
    for r in range(5):
        local = netdream.evolve(net, 2, run=r, progress=False, **kw)
        np.testing.assert_array_equal(dist.images[r], local.images[0])
        assert dist.score[r] == local.score[0]


def test_gradient_ascent_splits_runs_and_targets(client, net):
    kw = dict(steps=30, step_size=0.05, start="noise", seed=4)
    targets = [0, 1, 2, 3, 4, 5, 6]
    local = netdream.gradient_ascent(net, targets, runs=7, progress=False, **kw)
    dist = nd.gradient_ascent(net, targets, runs=7, chunk=3, client=client, progress=False, **kw)
    _same(dist, local)


def test_a_class_by_name_on_the_cluster(client, net):
    local = netdream.hill_climb(net, 3, runs=3, steps=200, progress=False)
    dist = nd.hill_climb(net, "3", runs=3, steps=200, chunk=2, client=client, progress=False)
    np.testing.assert_array_equal(dist.images, local.images)
    ascent = nd.gradient_ascent(net, ["1", "2"], runs=2, steps=5, chunk=1, client=client,
                                progress=False)
    np.testing.assert_array_equal(
        ascent.images, netdream.gradient_ascent(net, [1, 2], runs=2, steps=5, progress=False).images)
    with pytest.raises(ValueError, match="'three' is not one of the model's class names"):
        nd.hill_climb(net, "three", runs=2, client=client, progress=False)


def test_arguments_are_checked_on_the_client(client, net):
    with pytest.raises(ValueError, match="steps must be >= 0"):
        nd.hill_climb(net, 3, runs=4, steps=-1, client=client, progress=False)
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        nd.hill_climb(net, 3, runs=4, chunk=0, client=client, progress=False)
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        nd.hill_climb(net, 3, runs=4, client="tcp://x", progress=False)
    with pytest.raises(ValueError, match="MAP-Elites"):
        nd.evolve(net, "all", runs=2, client=client, progress=False)


def test_chunk_size_balances_tasks_and_overhead():
    assert nd.chunk_size(1000, 20000, 2) == 100        # half a second of one core
    assert nd.chunk_size(1000, 1000, 2) == 1000
    assert nd.chunk_size(1000, 10**6, 2) == 32         # at most 16 tasks per thread ...
    assert nd.chunk_size(1000, 10**6, 2, 10) == 313    # ... over all the searches
    assert nd.chunk_size(10**5, 20000, 1600) == 1600   # 8 s tasks: the scheduler keeps up
    assert nd.chunk_size(10**6, 20000, 1600, 200) == 7813
    assert nd.chunk_size(5, 20000, 2) == 5


# --------------------------------------------------------------- summaries
def test_summary_average_equals_local_average(client, net):
    kw = dict(steps=2000, seed=1, regularizer=regularizers.smoothness(1e-5))
    local = netdream.hill_climb(net, 8, runs=30, progress=False, **kw)
    s = nd.hill_climb(net, 8, runs=30, chunk=4, summary=True, keep=5, client=client,
                      progress=False, **kw)
    assert s.count == 30 and s.histogram.sum() == 30
    np.testing.assert_allclose(s.average(), netdream.average(local), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(netdream.average(s), s.average())
    np.testing.assert_array_equal(s.examples, local.images[:5])
    np.testing.assert_array_equal(s.example_runs, np.arange(5))
    assert s.confidence_min == local.confidence.min()
    assert s.confidence_max == local.confidence.max()
    assert s.confidence_mean == pytest.approx(local.confidence.mean(), rel=1e-12)
    assert s.confidence_std == pytest.approx(local.confidence.std(), rel=1e-6, abs=1e-12)
    lower_median = np.quantile(local.confidence, 0.5, method="inverted_cdf")
    assert abs(s.confidence_quantile(0.5) - lower_median) <= 1 / nd.BINS
    # merged in chunk order: the same bits for the same chunking, whatever the schedule
    again = nd.hill_climb(net, 8, runs=30, chunk=4, summary=True, keep=5, client=client,
                          progress=False, **kw)
    np.testing.assert_array_equal(again.sum, s.sum)


# ------------------------------------------------------------------- sweep
def test_sweep_table_and_store(client, net, tmp_path):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("pandas")
    other = netdream.MLP([w * 0.5 for w in net.weights], net.biases)
    store = tmp_path / "sweep.zarr"
    df = nd.sweep({"shipped": net, "halved": other}, targets=[1, 6],
                  methods={"hill_climb": {"steps": [300, 600]}, "gradient_ascent": {}},
                  runs=6, seed=3, store=store, images=True, keep=2, chunk=4, client=client,
                  progress=False)
    assert len(df) == 2 * 2 * 3
    assert list(df.columns[:4]) == ["model", "target", "method", "settings"]
    for col in ("confidence_mean", "confidence_std", "confidence_min", "confidence_median",
                "confidence_max", "seconds", "candidates", "candidates_per_s", "row"):
        assert col in df.columns
    assert set(df.model) == {"shipped", "halved"} and set(df.target) == {1, 6}
    assert (df.runs == 6).all() and (df.seconds > 0).all()
    row = df[(df.model == "halved") & (df.target == 6) & (df.method == "hill_climb")
             & (df.settings == '{"seed": 3, "steps": 600}')]
    assert len(row) == 1
    local = netdream.hill_climb(other, 6, runs=6, steps=600, seed=3, progress=False)
    r = row.iloc[0]
    assert r.confidence_min == local.confidence.min()
    assert r.confidence_mean == pytest.approx(local.confidence.mean(), rel=1e-12)
    assert r.candidates == 6 * 600
    g = zarr.open_group(str(store), mode="r")
    np.testing.assert_array_equal(g["images"][int(r.row)], local.images)
    np.testing.assert_allclose(g["average"][int(r.row)], local.average(), rtol=1e-13)
    np.testing.assert_array_equal(g["examples"][int(r.row)], local.images[:2])
    assert g["histogram"][int(r.row)].sum() == 6
    assert g.attrs["table"]["columns"] == list(df.columns)


def test_sweep_checks_its_grid(client, net):
    with pytest.raises(ValueError, match="methods must be among"):
        nd.sweep(net, [1], methods=["dream"], client=client, progress=False)
    with pytest.raises(ValueError, match="must not set 'runs'"):
        nd.sweep(net, [1], settings={"runs": [2]}, client=client, progress=False)
    with pytest.raises(TypeError, match="step_size must be a number"):
        nd.sweep(net, [1], settings={"step_size": ["big"]}, client=client, progress=False)
    with pytest.raises(ValueError, match="images=True needs store="):
        nd.sweep(net, [1], images=True, client=client, progress=False)
    with pytest.raises(TypeError, match="settings must be a dict of lists or a list of dicts"):
        nd.sweep(net, [1], settings="steps=5", client=client, progress=False)
    with pytest.raises(TypeError, match=r"models\['x'\] must be a netdream.MLP"):
        nd.sweep({"x": "model.npz"}, [1], client=client, progress=False)


# -------------------------------------------------------------------- CLI
def test_cli_dream_evolve_and_sweep_on_a_scheduler(client, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    from netdream.cli import main
    address = client.scheduler.address
    assert main(["dream", "3", "--runs", "6", "--steps", "500", "--no-progress", "--scheduler",
                 address, "--chunk", "2", "-o", str(tmp_path / "d.png"), "--average",
                 str(tmp_path / "a.png")]) == 0
    captured = capsys.readouterr()
    assert "dreamt 6 x 3" in captured.out and "Dask: 2 workers" in captured.err
    assert (tmp_path / "a.png").is_file()
    assert main(["evolve", "5", "--runs", "3", "--steps", "5", "--population", "20",
                 "--no-progress", "--scheduler", address, "-o", str(tmp_path / "e.png")]) == 0
    assert "3 independent searches" in capsys.readouterr().out
    assert main(["sweep", "--targets", "2-3", "--set", "steps=100,200", "--set", "smoothness=0",
                 "--runs", "3", "--no-progress", "--scheduler", address, "-o",
                 str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 4 and set(table.target) == {2, 3}
    assert "4 searches in" in capsys.readouterr().out
    assert main(["sweep", "--targets", "9-2", "--scheduler", address, "-o",
                 str(tmp_path / "t.csv")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


# ---------------------------------------------------------------- failure
def _worker_pids(client):
    return client.run(os.getpid)


@pytest.mark.slow
def test_a_killed_worker_does_not_change_the_result(client, net):
    kw = dict(steps=60000, seed=7)
    local = netdream.hill_climb(net, 5, runs=48, progress=False, **kw)
    before = _worker_pids(client)
    victim = next(iter(before.values()))
    killed = threading.Event()

    def kill_when_running():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # once the workers are busy with our tasks
            if sum(len(v) for v in client.processing().values()) >= 2:
                os.kill(victim, signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.02)

    t = threading.Thread(target=kill_when_running)
    t.start()
    dist = nd.hill_climb(net, 5, runs=48, chunk=2, client=client, progress=False, **kw)
    t.join()
    assert killed.is_set()
    _same(dist, local)
    summary = nd.hill_climb(net, 5, runs=48, chunk=2, summary=True, client=client,
                            progress=False, **kw)
    np.testing.assert_allclose(summary.average(), local.average(), rtol=1e-13)
    client.wait_for_workers(2, timeout=30)  # the nanny restarted the killed worker
    assert victim not in _worker_pids(client).values()


def test_ctrl_c_cancels_the_tasks(client, net):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            nd.hill_climb(net, 1, runs=400, steps=200_000, chunk=2, client=client,
                          progress=False)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10  # (uncancelled, this takes minutes)

    def ours(dask_scheduler):
        return [str(k) for k in dask_scheduler.tasks if "netdream" in str(k)]

    deadline = time.monotonic() + 10
    while client.run_on_scheduler(ours) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.run_on_scheduler(ours) == []


# ------------------------------------------------------- without Dask
def test_a_clear_error_when_dask_is_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.delitem(sys.modules, "netdream.distributed")
    monkeypatch.delattr(netdream, "distributed", raising=False)
    with pytest.raises(ImportError, match=r'pip install "netdream\[distributed\]"'):
        importlib.import_module("netdream.distributed")
    from netdream.cli import main
    assert main(["dream", "3", "--local-cluster", "2", "-o", str(tmp_path / "d.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "netdream[distributed]"' in err
