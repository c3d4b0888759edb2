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


def _pads(layer, h, w):
    if layer.padding == "valid":
        return 0, 0, 0, 0
    if layer.padding == "same":  # TensorFlow's: the smaller half before
        kh, kw = layer.weight.shape[2:]
        s = layer.stride
        th = max((-(-h // s) - 1) * s + kh - h, 0)
        tw = max((-(-w // s) - 1) * s + kw - w, 0)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    return tuple(layer.padding)


def network64(net, images):
    """(pre, post) of every layer of any Network in plain NumPy float64:
    convolutions by explicit sums over the kernel taps, pools by windows
    (independent of the compiled core and of netdream.layers' shape code)."""
    from netdream.layers import AvgPool2D, Conv2D, Dense, MaxPool2D
    x = np.asarray(images)
    x = x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    n = x.shape[0]
    c = 1 if len(net.image_shape) == 2 else net.image_shape[0]
    x = x.reshape(n, c, *net.image_shape[-2:])
    a, b = net.encoding.channel_affine(c)
    h = a[None, :, None, None] * x + b[None, :, None, None]
    pre, post = [], []
    last = len(net.layers) - 1
    for l, layer in enumerate(net.layers):
        if isinstance(layer, Conv2D):
            wt, s = layer.weight, layer.stride
            t, bo, le, r = _pads(layer, h.shape[2], h.shape[3])
            hp = np.pad(h, ((0, 0), (0, 0), (t, bo), (le, r)))
            kh, kw = wt.shape[2:]
            oh = (hp.shape[2] - kh) // s + 1
            ow = (hp.shape[3] - kw) // s + 1
            z = np.zeros((n, wt.shape[0], oh, ow)) + layer.bias[None, :, None, None]
            for i in range(kh):
                for j in range(kw):
                    patch = hp[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
                    z += np.einsum("ncyx,oc->noyx", patch, wt[:, :, i, j])
            pre.append(z)
            h = _act(layer.activation, z, net.leaky_slope)
        elif isinstance(layer, MaxPool2D):
            k, s = layer.size, layer.stride
            oh = (h.shape[2] - k) // s + 1
            ow = (h.shape[3] - k) // s + 1
            win = np.stack([h[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
                            for i in range(k) for j in range(k)])
            h = win.mean(axis=0) if isinstance(layer, AvgPool2D) else win.max(axis=0)
            pre.append(h)
        elif isinstance(layer, Dense):
            z = h.reshape(n, -1) @ layer.weight.T + layer.bias
            pre.append(z)
            if l == last and layer.activation == "softmax":
                e = np.exp(z - z.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
            else:
                h = _act(layer.activation, z, net.leaky_slope)
        else:  # Flatten
            h = h.reshape(n, -1)
            pre.append(h)
        post.append(h)
    return pre, post


def score64(net, images, target, objective):
    """The searches' score (higher is better; netdream.goals), recomputed in
    plain NumPy float64 from images."""
    pre, post = network64(net, images) if net.is_convolutional else layers64(net, images)
    if isinstance(target, tuple):  # the unit's pre-activation; a channel's mean activation
        kind, layer, unit = target
        if kind == "channel":
            return post[layer][:, unit].reshape(len(post[layer]), -1).mean(axis=1)
        return pre[layer][:, unit]
    z = pre[-1]
    t = target
    output = net.layers[-1].activation
    if objective == "logit":
        return z[:, t]
    if objective == "margin":
        others = np.delete(z, t, axis=1)
        return z[:, t] - (others.max(axis=1) if others.shape[1] else 0.0)
    if output == "identity":
        return z[:, t]
    if output == "sigmoid":
        if objective == "prob":
            return 1.0 / (1.0 + np.exp(-z[:, t]))
        return -np.logaddexp(0.0, -z[:, t])
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    if objective == "prob":
        return e[:, t] / e.sum(axis=1)
    return (z[:, t] - m[:, 0]) - np.log(e.sum(axis=1))
