"""netdream.pca: eigendigits and the nearest-centroid PCA baseline."""

from __future__ import annotations

import numpy as np
import pytest

from netdream.pca import Eigendigits, PCAClassifier, eigendigits


def toy_digits(rng, n=300, k=3):
    """Images from a few blurred templates plus noise, labels = template."""
    templates = np.zeros((k, 28, 28))
    for j in range(k):
        templates[j, 4 + 6 * j:10 + 6 * j, 5:23] = 0.8
        templates[j, 5:23, 4 + 7 * j:8 + 7 * j] = 0.8
    y = np.arange(n) % k
    x = np.clip(templates[y] + rng.normal(0, 0.1, (n, 28, 28)), 0, 1)
    return x, y


def test_components_are_orthonormal_and_sorted():
    rng = np.random.default_rng(0)
    x, _ = toy_digits(rng)
    e = eigendigits(x, 20)
    assert isinstance(e, Eigendigits)
    c = e.components.reshape(20, -1)
    assert e.components.shape == (20, 28, 28) and e.mean.shape == (28, 28)
    np.testing.assert_allclose(c @ c.T, np.eye(20), atol=1e-10)
    assert (np.diff(e.explained_variance) <= 0).all()
    assert 0 < e.explained_variance_ratio.sum() <= 1
    # the sign convention: each component's largest-magnitude pixel is positive
    assert (c[np.arange(20), np.abs(c).argmax(axis=1)] > 0).all()
    assert e._repr_png_().startswith(b"\x89PNG") and "Eigendigits(k=20" in repr(e)


def test_matches_an_svd_of_the_centred_data():
    rng = np.random.default_rng(1)
    x, _ = toy_digits(rng, n=120)
    u8 = np.rint(x * 255).astype(np.uint8)
    e = eigendigits(u8, 5)
    v = u8.reshape(120, -1) / 255.0
    centred = v - v.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(e.mean.ravel(), v.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(e.explained_variance, s[:5] ** 2 / 119, rtol=1e-9)
    np.testing.assert_allclose(e.explained_variance_ratio, s[:5] ** 2 / (s ** 2).sum(), rtol=1e-9)
    for i in range(5):  # same direction up to sign
        assert abs(e.components[i].ravel() @ vt[i]) == pytest.approx(1.0, abs=1e-9)


def test_reconstruction_error_decreases_with_k():
    rng = np.random.default_rng(2)
    x, _ = toy_digits(rng)
    errors = []
    for k in (1, 2, 5, 10, 40):
        e = eigendigits(x, k)
        errors.append(((e.reconstruct(x) - x) ** 2).mean())
        codes = e.transform(x[:4])
        assert codes.shape == (4, k) and e.transform(x[0]).shape == (k,)
        np.testing.assert_allclose(e.inverse_transform(codes), e.reconstruct(x[:4]))
    assert all(a > b for a, b in zip(errors, errors[1:]))
    full = eigendigits(x, 784)
    np.testing.assert_allclose(full.reconstruct(x[:5]), x[:5], atol=1e-9)


def test_classifier_separates_templates_and_is_reproducible():
    rng = np.random.default_rng(3)
    x, y = toy_digits(rng, n=300, k=3)
    clf = PCAClassifier(n_components=2).fit(x[:200], y[:200])
    assert clf.score(x[200:], y[200:]) == 1.0
    again = PCAClassifier(n_components=2).fit(x[:200].copy(), y[:200])
    np.testing.assert_array_equal(clf.predict(x[200:]), again.predict(x[200:]))
    np.testing.assert_array_equal(clf.centroids_, again.centroids_)
    assert clf.predict(x[200]) == y[200]
    assert clf.transform(x[:3]).shape == (3, 2)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.get_params() == {"n_components": 2}
    # fitted on components computed beforehand from the same images: the same
    given = PCAClassifier(2)._fit_with(eigendigits(x[:200], 2), x[:200], y[:200])
    np.testing.assert_array_equal(given.centroids_, clf.centroids_)
    with pytest.raises(ValueError, match="n_components components of these images"):
        PCAClassifier(3)._fit_with(eigendigits(x[:200], 2), x[:200], y[:200])
    # labels need not be 0..K-1
    other = PCAClassifier(2).fit(x[:200], 10 * y[:200] + 7)
    np.testing.assert_array_equal(other.predict(x[200:]), 10 * clf.predict(x[200:]) + 7)


def test_matches_sklearn_pca_and_nearest_centroid():
    sk = pytest.importorskip("sklearn")
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestCentroid
    rng = np.random.default_rng(4)
    x, y = toy_digits(rng, n=240, k=4)
    x = np.clip(x + rng.normal(0, 0.3, x.shape), 0, 1)  # make the classes overlap
    flat = x.reshape(len(x), -1)
    pca = PCA(3).fit(flat[:160])
    nc = NearestCentroid().fit(pca.transform(flat[:160]), y[:160])
    ours = PCAClassifier(3).fit(x[:160], y[:160])
    np.testing.assert_allclose(ours.pca_.explained_variance_ratio, pca.explained_variance_ratio_,
                               rtol=1e-8)
    np.testing.assert_array_equal(ours.predict(x[160:]), nc.predict(pca.transform(flat[160:])))
    assert sk.__version__


def test_checks():
    rng = np.random.default_rng(5)
    x, y = toy_digits(rng, n=30)
    with pytest.raises(ValueError, match="k must be at most 784"):
        eigendigits(x, 785)
    with pytest.raises(ValueError, match="k must be >= 1"):
        eigendigits(x, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        eigendigits(x, 2.0)
    with pytest.raises(ValueError, match="need at least 2 images"):
        eigendigits(x[:1], 1)
    with pytest.raises(ValueError, match="images: float pixels must lie in"):
        eigendigits(x * 2, 2)
    with pytest.raises(ValueError, match="images must have shape"):
        eigendigits(x.reshape(30, -1), 2)
    with pytest.raises(ValueError, match="not fitted yet"):
        PCAClassifier().predict(x)
    with pytest.raises(ValueError, match=r"labels must have shape \(30,\)"):
        PCAClassifier(2).fit(x, y[:3])
    with pytest.raises(TypeError, match="labels must be integers"):
        PCAClassifier(2).fit(x, y.astype(float))
    with pytest.raises(TypeError, match="n_components must be an integer"):
        PCAClassifier("3").fit(x, y)
    with pytest.raises(ValueError, match="invalid parameter"):
        PCAClassifier().set_params(k=3)
    e = eigendigits(x, 3)
    with pytest.raises(ValueError, match=r"codes must have shape \(3,\)"):
        e.inverse_transform(np.zeros((2, 4)))


def test_colour_images_and_other_sizes():
    """Colour (N, 3, H, W) and grey images of another size: components of
    their shape, the same as the vectors' (an SVD of the flattened data),
    and a baseline that tells classes of different colours apart; a fitted
    model takes only images of its own shape."""
    rng = np.random.default_rng(2)
    y = np.arange(90) % 3
    x = rng.random((90, 3, 12, 10)) * 0.3
    x[np.arange(90), y] += 0.6
    e = eigendigits(x, 4)
    assert e.components.shape == (4, 3, 12, 10) and e.mean.shape == (3, 12, 10)
    flat = x.reshape(90, -1)
    _, _, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(e.components.reshape(4, -1) @ vt[:4].T), np.eye(4),
                               atol=1e-8)
    clf = PCAClassifier(4).fit(x[::2], y[::2])
    assert clf.score(x[1::2], y[1::2]) == 1.0
    # drawn in colour (grey is zero): the first component tells the classes' colours apart
    grid = np.asarray(e.grid_image(2).convert("RGB"), float)
    assert np.abs(grid[..., 0] - grid[..., 1]).max() > 60, "colour components drawn in grey"
    assert eigendigits(rng.random((10, 40, 30)), 2).components.shape == (2, 40, 30)
    with pytest.raises(ValueError, match=r"images must have shape \(3, 12, 10\)"):
        clf.predict(rng.random((2, 28, 28)))


def test_large_images_go_through_the_gram_matrix(monkeypatch):
    """Images of more than 4,096 values (colour 40x40: 4,800): the same
    components and variances as an SVD of the data, and as the covariance
    route on the same data; at most max_images images, k at most N - 1,
    images that vary in fewer directions than asked refused by name."""
    from netdream import pca
    rng = np.random.default_rng(4)
    x = rng.random((60, 3, 40, 40))
    x[:, 0] = x[:, 0] * 0.2 + rng.random((60, 1, 1)) * 0.8  # a strong first direction: red
    e = eigendigits(x, 5)
    assert e.components.shape == (5, 3, 40, 40)
    flat = x.reshape(60, -1)
    _, sv, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(e.components.reshape(5, -1) @ vt[:5].T), np.eye(5),
                               atol=1e-8)
    np.testing.assert_allclose(e.explained_variance, sv[:5] ** 2 / 59, rtol=1e-10)
    np.testing.assert_allclose(e.explained_variance_ratio, sv[:5] ** 2 / np.sum(sv ** 2),
                               rtol=1e-10)
    small = rng.random((30, 8, 9))
    v, shape = pca._vectors(small)
    a, b = pca._eigendigits(v, shape, 6, gram=True), pca._eigendigits(v, shape, 6, gram=False)
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)  # signs fixed alike
    np.testing.assert_allclose(a.explained_variance, b.explained_variance, rtol=1e-10)
    np.testing.assert_allclose(a.explained_variance_ratio, b.explained_variance_ratio, rtol=1e-10)
    assert pca.max_images(4096) is None and pca.max_images(4800) == 4096
    assert pca.max_images(3 * 256 * 256) == 1365
    with pytest.raises(ValueError, match=r"k must be at most 59 \(one less than the number of "
                                         r"images\) for images of more than 4,096 values"):
        eigendigits(x, 60)
    with pytest.raises(ValueError, match=r"images: they vary in fewer than 3 directions"):
        eigendigits(np.repeat(x[:2], 3, axis=0), 3)
    monkeypatch.setattr(pca, "MAX_GRAM_VALUES", 4800 * 50)
    with pytest.raises(ValueError, match=r"images: principal components of images of 3x40x40 = "
                                         r"4,800 values come from at most 50 images here"):
        eigendigits(x, 2)
    monkeypatch.setattr(pca, "MAX_GRAM_VALUES", 4800)
    with pytest.raises(ValueError, match=r"images of 3x40x40 = 4,800 values are too large"):
        eigendigits(x, 2)


@pytest.mark.slow
def test_baseline_accuracy_on_mnist(mnist_test):
    """Trained on the first 10,000 training images (or, without them, on the
    first half of the test set), the nearest-centroid baseline lands near the
    seed's ~70% at k = 10 and gains little beyond k = 50."""
    from conftest import MNIST
    from netdream.datasets import load_mnist
    test_x, test_y = mnist_test
    try:
        train_x, train_y = load_mnist("train10k", root=MNIST, progress=False)
    except FileNotFoundError:
        train_x, train_y, test_x, test_y = test_x[:5000], test_y[:5000], test_x[5000:], test_y[5000:]
    acc = {k: PCAClassifier(k).fit(train_x, train_y).score(test_x, test_y) for k in (2, 10, 50)}
    assert 0.35 < acc[2] < 0.55
    assert 0.68 < acc[10] < 0.80
    assert 0.76 < acc[50] < 0.86
