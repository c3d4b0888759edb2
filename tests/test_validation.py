"""netdream._validation: one helper per check, messages that name the argument."""

from __future__ import annotations

import numpy as np
import pytest

from netdream import _validation as v


def test_threads_none_means_every_core_and_absurd_counts_are_refused():
    assert v.check_threads(None) == v.CORES
    assert v.check_threads(1) == 1
    assert v.check_threads(v.MAX_THREADS) == min(v.MAX_THREADS, 4 * v.CORES)
    for bad, exc in ((0, ValueError), (10**6, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="threads"):
            v.check_threads(bad)


def test_seed_range():
    assert v.check_seed(2**64 - 1) == 2**64 - 1
    with pytest.raises(ValueError, match="seed must be < 2\\*\\*64"):
        v.check_seed(2**64)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        v.check_seed(-1)


def test_memory_check_names_what_to_lower():
    v.check_memory(1024, "a small thing")
    with pytest.raises(ValueError, match="runs=9 needs .* memory.*lower it"):
        v.check_memory(2.0**60, "runs=9")


def test_output_paths(tmp_path):
    assert v.check_output_path(tmp_path / "a.png", "-o", (".png",)) == str(tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match="-o: the folder .* does not exist"):
        v.check_output_path(tmp_path / "no" / "a.png", "-o")
    with pytest.raises(ValueError, match="-o: .* must end in .png or .PNG"):
        v.check_output_path(tmp_path / "a.jpg", "-o", (".png", ".PNG"))
    with pytest.raises(IsADirectoryError, match="folder, not a file"):
        v.check_output_path(tmp_path, "-o")


@pytest.mark.parametrize("value, kw, message", [
    (float("nan"), dict(low=0.0), ">= 0"),
    (-1.0, dict(low=0.0, high=1.0), "in \\[0, 1\\]"),
    (1.0, dict(low=0.0, high=1.0, high_open=True), "in \\[0, 1\\)"),
    (0.0, dict(low=0.0, low_open=True), "> 0"),
])
def test_real_bounds(value, kw, message):
    with pytest.raises(ValueError, match="x must be a finite number " + message):
        v.check_real(value, "x", **kw)


def test_images_of_any_declared_shape():
    x, single = v.as_images(np.zeros((3, 5, 5), np.uint8), shape=(3, 5, 5))
    assert single and x.shape == (1, 3, 5, 5)
    with pytest.raises(ValueError, match=r"shape \(3, 5, 5\) or \(N, 3, 5, 5\)"):
        v.as_images(np.zeros((5, 5)), shape=(3, 5, 5))
    with pytest.raises(TypeError, match="bool"):
        v.as_images(np.zeros((5, 5), bool), shape=(5, 5))


def test_labels():
    np.testing.assert_array_equal(v.check_labels([0, 2], 2, 3), [0, 2])
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        v.check_labels([0, 3], 2, 3)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        v.check_labels([0, 1], 3, 3)
    with pytest.raises(TypeError, match="integers"):
        v.check_labels([0.5, 1.0], 2, 3)
