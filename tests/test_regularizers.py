"""netdream.regularizers: values, O(1) deltas, cfuncs, sums and scaling."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream
from netdream import regularizers
from netdream.regularizers import smoothness


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
        regularizers.l1(1.0),
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



@pytest.mark.slow
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
    # the reported score includes the regulariser: score = log p - weight * R <= 0
    assert np.all(kept.score <= 0)



def test_smoothness_makes_smoother_dreams(default_net):
    rough = netdream.hill_climb(default_net, 4, steps=20000, runs=3, progress=False)
    smooth = netdream.hill_climb(default_net, 4, steps=20000, runs=3, regularizer=smoothness(0.05),
                                 progress=False)
    s = regularizers.smoothness(1.0)
    assert s.value(smooth.images).mean() < s.value(rough.images).mean()



def test_regularizer_argument_checks():
    with pytest.raises(TypeError, match="njit"):
        regularizers.custom(lambda img, p: 0.0, _left_ink_delta)
    with pytest.raises(ValueError, match="weight"):
        regularizers.smoothness(-1.0)
    with pytest.raises(ValueError, match="params"):
        regularizers.custom(_left_ink, _left_ink_delta, params=[np.nan])


def test_a_regulariser_pickles_and_compiles_its_wrappers_again():
    import pickle
    reg = regularizers.smoothness(1e-5) + 0.5 * regularizers.l2(1e-3)
    for t in reg.terms:
        t.addresses  # compiled here
    copy = pickle.loads(pickle.dumps(reg))
    assert repr(copy) == repr(reg)
    assert all(t._cfuncs is None for t in copy.terms)
    img = np.random.default_rng(1).random((28, 28))
    assert copy.penalty(img) == reg.penalty(img)
    assert all(a == b for a, b in zip(copy.terms[0].addresses, reg.terms[0].addresses))
