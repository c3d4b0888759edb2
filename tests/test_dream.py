"""Hill climbing: the seed recipe, incremental state, regularisers, threads."""

from __future__ import annotations

import _thread
import threading
import time

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream
from netdream import _core, regularizers

from conftest import NETJS, random_mlp
from reference import Rng, objective64, seed_recipe


def test_rng_mirror_matches_core():
    for seed, stream in [(0, 0), (12345, 7), (2**64 - 1, 2**40)]:
        ref = Rng(seed, stream)
        np.testing.assert_array_equal(_core.rng_uniform(seed, stream, 50),
                                      [ref.uniform() for _ in range(50)])


# ------------------------------------------------------------ seed recipe
@pytest.mark.parametrize("target, smooth", [(3, 0.0), (5, 1e-5), (8, 1e-5)])
def test_seed_recipe_matches_numpy_transcription(seed_net, target, smooth):
    steps = 2000
    w12, w23 = seed_net.weights
    b2, b3 = seed_net.biases
    decisions, final = seed_recipe(w12, b2, w23, b3, target, steps, smooth, seed=11)
    r = netdream.hill_climb(seed_net, target, steps=steps, recipe="seed", smoothness=smooth,
                            seed=11, precision="float64", record_every=1, progress=False)
    traj = r.trajectory.images[0].astype(np.float64)
    ours = np.any(traj[1:] != traj[:-1], axis=(1, 2))
    assert decisions.sum() > 50  # the test means something
    np.testing.assert_array_equal(ours, decisions)
    np.testing.assert_allclose(r.images[0], final, atol=1e-6)  # float32 result
    assert r.accepted[0] == decisions.sum()


def test_seed_recipe_float32_agrees_almost_everywhere(seed_net):
    w12, w23 = seed_net.weights
    b2, b3 = seed_net.biases
    decisions, final = seed_recipe(w12, b2, w23, b3, 2, 2000, 1e-5, seed=3)
    r = netdream.hill_climb(seed_net, 2, steps=2000, recipe="seed", smoothness=1e-5, seed=3,
                            record_every=1, progress=False)
    traj = r.trajectory.images[0]
    ours = np.any(traj[1:] != traj[:-1], axis=(1, 2))
    assert np.mean(ours == decisions) > 0.99


def test_seed_prob_objective_stalls_but_default_does_not(seed_net):
    """The seed's 1 - p saturates: with smoothness, an 8 whose p starts near
    0 never moves. The default objective (log p) does not stall."""
    seed_way = netdream.hill_climb(seed_net, 8, steps=20000, runs=2, recipe="seed",
                                   smoothness=1e-5, progress=False)
    ours = netdream.hill_climb(seed_net, 8, steps=20000, runs=2, smoothness=1e-5, progress=False)
    assert seed_way.confidence.max() < 0.5
    assert ours.confidence.min() >= 0.99


# --------------------------------------------------- incremental == full
HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 3),
       hidden=st.sampled_from(HIDDEN), output=st.sampled_from(["softmax", "sigmoid", "identity"]),
       objective=st.sampled_from(["prob", "logprob", "margin"]),
       precision=st.sampled_from(["float32", "float64"]), hidden_target=st.booleans())
def test_incremental_state_equals_full_recomputation(seed, depth, hidden, output, objective,
                                                      precision, hidden_target):
    rng = np.random.default_rng(seed)
    widths = [int(w) for w in rng.integers(3, 40, size=depth)]
    net = random_mlp(rng, [784, *widths, 5], hidden, output, scale=2.0)
    target = ("hidden", int(rng.integers(depth)), 0) if hidden_target else int(rng.integers(5))
    r = netdream.hill_climb(net, target, steps=3000, runs=2, objective=objective, step=0.3,
                            start="noise", seed=seed % 1000, precision=precision,
                            refresh_every=0, progress=False)
    assert r.accepted.min() > 20
    expected = objective64(net, r.images.astype(np.float64), target, objective)
    # float32: the state was kept in float32 and the images are rounded to it
    tol = 1e-10 if precision == "float64" else 2e-4
    np.testing.assert_allclose(r.objective, expected, rtol=tol * 10, atol=tol * 50)


# ----------------------------------------------------------- regularisers
@numba.njit
def _left_ink(img, params):
    return np.sum(img[:, : img.shape[1] // 2]) * params[0]


@numba.njit
def _left_ink_delta(img, row, col, new, params):
    if col < img.shape[1] // 2:
        return (new - img[row, col]) * params[0]
    return 0.0


REGS = [regularizers.smoothness(1.0), regularizers.total_variation(1.0), regularizers.l2(1.0),
        regularizers.custom(_left_ink, _left_ink_delta, params=[2.0])]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), index=st.integers(0, 783), new=st.floats(0, 1),
       which=st.integers(0, len(REGS) - 1))
def test_regulariser_delta_equals_difference_of_values(seed, index, new, which):
    reg = REGS[which]
    img = np.random.default_rng(seed).random((28, 28))
    after = img.copy()
    after.flat[index] = new
    assert reg.delta(img, index, new) == pytest.approx(reg.value(after) - reg.value(img),
                                                       abs=1e-11)


def test_regulariser_cfuncs_agree_with_njit():
    import ctypes
    img = np.random.default_rng(0).random((28, 28))
    ptr = img.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
    for reg in REGS:
        v, d = reg.addresses
        fv = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64,
                              ctypes.c_int64, ctypes.POINTER(ctypes.c_double))(v)
        fd = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64,
                              ctypes.c_int64, ctypes.c_int64, ctypes.c_double,
                              ctypes.POINTER(ctypes.c_double))(d)
        params = reg.params.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        assert fv(ptr, 28, 28, params) == pytest.approx(reg.value(img))
        assert fd(ptr, 28, 28, 100, 0.3, params) == pytest.approx(reg.delta(img, 100, 0.3))


def test_custom_regulariser_runs_inside_the_loop(default_net):
    reg = regularizers.custom(_left_ink, _left_ink_delta, weight=1.0, params=[5.0])
    free = netdream.hill_climb(default_net, 1, steps=5000, runs=2, progress=False)
    kept = netdream.hill_climb(default_net, 1, steps=5000, runs=2, regularizer=reg, progress=False)
    assert kept.images[:, :, :14].sum() < 0.2 * free.images[:, :, :14].sum()
    # the reported total includes the regulariser: objective + weight * R
    assert np.all(kept.objective >= 0)


def test_smoothness_makes_smoother_dreams(default_net):
    rough = netdream.hill_climb(default_net, 4, steps=20000, runs=3, progress=False)
    smooth = netdream.hill_climb(default_net, 4, steps=20000, runs=3, smoothness=0.05,
                                 progress=False)
    s = regularizers.smoothness(1.0)
    assert s.value(smooth.images).mean() < s.value(rough.images).mean()


# ------------------------------------------------------------- behaviour
def test_bit_identical_for_any_threads(default_net):
    kw = dict(steps=3000, runs=5, smoothness=1e-4, seed=9, progress=False)
    a = netdream.hill_climb(default_net, 7, threads=1, **kw)
    b = netdream.hill_climb(default_net, 7, threads=2, **kw)
    c = netdream.hill_climb(default_net, 7, threads=4, **kw)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.images, c.images)
    assert np.array_equal(a.accepted, b.accepted)
    # runs differ from each other, and a run does not depend on how many there are
    assert not np.array_equal(a.images[0], a.images[1])
    d = netdream.hill_climb(default_net, 7, threads=2, **{**kw, "runs": 2})
    assert np.array_equal(d.images, a.images[:2])


def test_confidence_is_the_models_probability(default_net):
    r = netdream.hill_climb(default_net, 6, steps=4000, runs=3, progress=False)
    np.testing.assert_allclose(r.confidence, default_net.predict_proba(r.images)[:, 6], atol=1e-4)
    assert r.images.dtype == np.float32 and r.images.shape == (3, 28, 28)
    assert 0 <= r.images.min() and r.images.max() <= 1


@pytest.mark.parametrize("name", ["seed", "default"])
def test_every_digit_reaches_099(name, seed_net, default_net):
    net = seed_net if name == "seed" else default_net
    for digit in range(10):
        r = netdream.hill_climb(net, digit, steps=20000, runs=2, smoothness=1e-5, seed=digit,
                                progress=False)
        assert r.confidence.min() >= 0.99, (name, digit, r.confidence)


def test_hidden_unit_target_raises_its_activation(default_net):
    before = netdream.activations(default_net, np.zeros((1, 28, 28)))[0][0, 5]
    r = netdream.hill_climb(default_net, ("hidden", 0, 5), steps=20000, progress=False)
    # well past what real digits drive it to (its 99th percentile on the test set is about 1.7)
    assert r.confidence[0] > before + 2.0
    np.testing.assert_allclose(r.confidence,
                               netdream.activations(default_net, r.images)[0][:, 5], rtol=1e-6)


def test_start_images_and_trajectory(default_net, mnist_test):
    seven = mnist_test[0][mnist_test[1] == 7][0]
    r = netdream.hill_climb(default_net, 3, start=seven, runs=2, steps=1000, record_every=250,
                            progress=False)
    assert r.trajectory.images.shape == (2, 5, 28, 28)
    np.testing.assert_allclose(r.trajectory.images[:, 0], np.stack([seven, seven]) / 255, atol=1e-6)
    np.testing.assert_array_equal(r.trajectory.steps, [0, 250, 500, 750, 1000])
    assert np.all(np.diff(r.trajectory.values, axis=1) <= 0)  # never gets worse


def test_average(default_net):
    r = netdream.hill_climb(default_net, 0, steps=500, runs=4, progress=False)
    np.testing.assert_allclose(netdream.average(r), r.images.astype(np.float64).mean(axis=0))
    assert r.average().shape == (28, 28)


def test_ctrl_c_stops_within_a_second(default_net):
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        netdream.hill_climb(default_net, 2, steps=10**9, runs=2, progress=False)
    assert time.perf_counter() - t0 < 1.5


def test_progress_bar_runs(default_net, capsys):
    netdream.hill_climb(default_net, 2, steps=2000, runs=2, progress=True)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(target=10), ValueError, "0..9"),
    (dict(target="3"), TypeError, "target"),
    (dict(target=("hidden", 5, 0)), ValueError, "hidden layer"),
    (dict(target=("hidden", 0, 10**6)), ValueError, "out of range"),
    (dict(target=1, objective="fun"), ValueError, "objective"),
    (dict(target=1, steps=-1), ValueError, "steps"),
    (dict(target=1, runs=0), ValueError, "runs"),
    (dict(target=1, step=0), ValueError, "step"),
    (dict(target=1, smoothness=float("nan")), ValueError, "smoothness"),
    (dict(target=1, start="fog"), ValueError, "start"),
    (dict(target=1, start=np.zeros((3, 28, 28)), runs=2), ValueError, "runs"),
    (dict(target=1, start=np.full((28, 28), np.nan)), ValueError, "start"),
    (dict(target=1, regularizer="smooth"), TypeError, "Regularizer"),
    (dict(target=1, recipe="mine"), ValueError, "recipe"),
    (dict(target=1, seed=-1), ValueError, "seed"),
    (dict(target=1, precision="half"), ValueError, "precision"),
])
def test_bad_arguments(default_net, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        netdream.hill_climb(default_net, progress=False, **kwargs)


def test_regularizer_argument_checks():
    with pytest.raises(TypeError, match="njit"):
        regularizers.custom(lambda img, p: 0.0, _left_ink_delta)
    with pytest.raises(ValueError, match="weight"):
        regularizers.smoothness(-1.0)
    with pytest.raises(ValueError, match="params"):
        regularizers.custom(_left_ink, _left_ink_delta, params=[np.nan])
