"""Plain NumPy / Python references for the compiled engines."""

from __future__ import annotations

import numpy as np

M64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


class Rng:
    """xoshiro256** seeded through splitmix64: the core's random streams
    (cpp/include/netdream/rng.hpp), in pure Python."""

    def __init__(self, seed, stream):
        x = (seed ^ ((stream * 0xD1B54A32D192ED03 + 0x8CB92BA72F3D8DD7) & M64)) & M64
        self.s = []
        for _ in range(4):
            x, z = _splitmix64(x)
            self.s.append(z)

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


def seed_error_fn(w12, bias2, w23, bias3, target, smoothness):
    """The seed demo's error on its own input vector z (in [-1, 1], the
    image flattened column by column): 1 - p[target] + smoothness * S."""
    def error(z):
        h = 1.0 / (1.0 + np.exp(-(w12 @ z + bias2)))
        o = w23 @ h + bias3
        e = np.exp(o - o.max())
        p = e / e.sum()
        err = 1.0 - p[target]
        if smoothness:
            img = z.reshape(28, 28)  # the vector's own 28x28 layout
            c = img[1:-1, 1:-1]
            direct = img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:]
            diag = img[:-2, :-2] + img[:-2, 2:] + img[2:, :-2] + img[2:, 2:]
            avg = (direct + 0.7 * diag) / 6.8
            err += smoothness * np.sum((avg - c) ** 2)
        return err
    return error


def seed_recipe(w12, bias2, w23, bias3, target, steps, smoothness, seed, run=0):
    """The seed's hill climb in NumPy float64, fed the core's random stream.

    Draw k picks public (row-major) pixel k, which is entry perm[k] of the
    seed's column-major vector; otherwise the recipe is the demo's.
    Returns (decisions, final image (28, 28) in [0, 1] ink high).
    """
    rng = Rng(seed, run)
    perm = (np.arange(28)[None, :] * 28 + np.arange(28)[:, None]).ravel()
    error = seed_error_fn(w12, bias2, w23, bias3, target, smoothness)
    z = -np.ones(784)
    for k in range(784):
        if rng.uniform() < 0.1:
            z[perm[k]] += 0.2 * rng.uniform()
    err = error(z)
    decisions = []
    for _ in range(steps):
        k = int(rng.uniform() * 784)
        delta = 0.2 * rng.uniform() - 0.1
        j = perm[k]
        new = min(1.0, max(-1.0, z[j] + delta))
        cand = z.copy()
        cand[j] = new
        e = error(cand)
        if e < err:
            z, err = cand, e
            decisions.append(True)
        else:
            decisions.append(False)
    img = (z[perm].reshape(28, 28) + 1.0) / 2.0
    return np.array(decisions), img


def _act(name, z, slope):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return z


def layers64(net, images):
    """(pre, post) of every layer in plain NumPy float64, from the model's
    own weights and encoding (independent of the compiled core)."""
    h = net.encode(images)
    pre, post = [], []
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = h @ w.T + b
        pre.append(z)
        if l + 1 < len(net.weights):
            h = _act(net.hidden[l], z, net.leaky_slope)
        elif net.output == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
        else:
            h = _act(net.output, z, net.leaky_slope)
        post.append(h)
    return pre, post


def score64(net, images, target, objective):
    """The searches' score (higher is better; netdream.goals), recomputed in
    plain NumPy float64 from images."""
    pre, post = layers64(net, images)
    if isinstance(target, tuple):  # the unit's pre-activation
        _, layer, unit = target
        return pre[layer][:, unit]
    z = pre[-1]
    t = target
    if objective == "logit":
        return z[:, t]
    if objective == "margin":
        others = np.delete(z, t, axis=1)
        return z[:, t] - (others.max(axis=1) if others.shape[1] else 0.0)
    if net.output == "identity":
        return z[:, t]
    if net.output == "sigmoid":
        if objective == "prob":
            return 1.0 / (1.0 + np.exp(-z[:, t]))
        return -np.logaddexp(0.0, -z[:, t])
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    if objective == "prob":
        return e[:, t] / e.sum(axis=1)
    return (z[:, t] - m[:, 0]) - np.log(e.sum(axis=1))
