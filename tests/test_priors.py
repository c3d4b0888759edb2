"""netdream.priors: natural-image statistics learnt from real digits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream
from netdream import priors


# ------------------------------------------------------------------ priors
@pytest.fixture(scope="module")
def fitted(mnist_test):
    return priors.fit(mnist_test[0][:2000], weight=1.0)



def test_prior_prefers_digits_to_noise(fitted, mnist_test):
    digits = mnist_test[0][5000:5100].astype(np.float64) / 255
    noise = np.random.default_rng(0).random((100, 28, 28))
    assert fitted.value(digits).max() < fitted.value(noise).min()
    # the batch value equals the single-image value
    np.testing.assert_allclose(fitted.value(digits)[:3], [fitted.value(d) for d in digits[:3]])



@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), index=st.integers(0, 783), new=st.floats(0, 1))
def test_prior_delta_equals_difference_of_values(fitted, seed, index, new):
    img = np.random.default_rng(seed).random((28, 28))
    img[img < 0.5] = 0.0
    after = img.copy()
    after.flat[index] = new
    assert fitted.delta(img, index, new) == pytest.approx(fitted.value(after) - fitted.value(img),
                                                          abs=1e-12)



def test_prior_histograms_and_sampling(fitted, mnist_test):
    assert fitted.pixel_hist.sum() == pytest.approx(1.0)
    assert fitted.pixel_hist[0] > 0.7  # mostly background
    s = fitted.sample(50, seed=1)
    assert s.shape == (50, 28, 28)
    assert abs(np.mean(s < 1 / 16) - fitted.pixel_hist[0]) < 0.02
    np.testing.assert_array_equal(s, fitted.sample(50, seed=1))



def test_prior_keeps_evolved_images_natural(default_net, fitted):
    free = netdream.evolve(default_net, 3, steps=60, progress=False)
    kept = netdream.evolve(default_net, 3, steps=60, regularizer=fitted.scaled(0.2), start="prior",
                           mutation="resample", progress=False)
    assert fitted.value(kept.images[:10]).mean() < fitted.value(free.images[:10]).mean() - 1.0
    assert kept.confidence[0] > 0.5



def test_prior_in_hill_climbing(default_net, fitted):
    r = netdream.hill_climb(default_net, 7, steps=20000, regularizer=fitted.scaled(0.05),
                            progress=False)
    assert r.confidence[0] > 0.9



def test_bad_prior_arguments(mnist_test):
    with pytest.raises(ValueError, match="bins"):
        priors.fit(mnist_test[0][:10], bins=1)
    with pytest.raises(ValueError, match="shape"):
        priors.fit(np.zeros((3, 28, 27)))
    with pytest.raises(ValueError, match="positive"):
        priors.Prior(np.zeros(4), np.ones(4))
