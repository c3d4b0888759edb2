"""Importing networks trained in PyTorch, Keras or saved as ONNX: the imported
MLP reproduces the framework's own predictions on real digits, and layers
netdream cannot represent are refused by name.

Every framework is optional and imported inside the tests that use it, so
collecting this file costs nothing and a missing framework skips its tests.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

import netdream
from netdream import Encoding
from netdream.importers import from_keras as mlp_from_keras
from netdream.importers import from_onnx as mlp_from_onnx
from netdream.importers import from_sklearn
from netdream.importers import from_torch as mlp_from_torch
# the importer modules themselves, for their handler tables (no framework is imported)
from netdream.importers import keras as keras_importer
from netdream.importers import onnx as onnx_importer
from netdream.importers import torch as torch_importer
from netdream.importers import torch_fx
from netdream.importers._handlers import Handlers

from conftest import bars, fit_quietly, mnist, needs_mnist

N_IMAGES = 10000  # the whole official test set
ATOL = 1e-5


@pytest.fixture(scope="module")
def digits(mnist_test):
    """The first 2,000 MNIST test images, uint8 (N, 28, 28), and as [0, 1] floats."""
    images = mnist_test[0][:N_IMAGES]
    return images, images.astype(np.float32) / 255


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ===================================================================== torch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _torch_out(model, x):
    import torch
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def _train_a_little(torch, model, images, labels, steps=15):
    """A few SGD steps in training mode, so BatchNorm has real running statistics."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels.astype(np.int64))
    model.train()
    for step in range(steps):
        batch = slice(100 * step, 100 * step + 100)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    model.eval()


def test_torch_sequential_matches_on_mnist(torch, digits, mnist_test):
    from torch import nn
    images, x = digits
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 64), nn.BatchNorm1d(64), nn.LeakyReLU(0.1), nn.Dropout(0.3),
        nn.Sequential(nn.Linear(64, 32), nn.Tanh()), nn.Identity(), nn.Linear(32, 10))
    _train_a_little(torch, model, x, mnist_test[1][:N_IMAGES])
    net = mlp_from_torch(model)
    assert net.sizes == [784, 64, 32, 10]
    assert net.hidden == ["leaky_relu", "tanh"] and net.output == "softmax"
    assert net.leaky_slope == pytest.approx(0.1)
    assert net.metadata["output_added"] is True
    assert net.metadata["torch_version"] == str(torch.__version__)
    ref = _softmax(_torch_out(model, x).astype(np.float64))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(net.predict(images), ref.argmax(axis=1))


@pytest.mark.parametrize("hidden, name", [
    ("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("Identity", "identity"),
    ("PReLU", "leaky_relu")])
@pytest.mark.parametrize("last", ["Softmax", "LogSoftmax", "Sigmoid", "none"])
def test_torch_activations(torch, digits, hidden, name, last):
    from torch import nn
    images, x = digits
    torch.manual_seed(1)
    layers = [nn.Flatten(), nn.Linear(784, 16), getattr(nn, hidden)(), nn.Linear(16, 10)]
    if last in ("Softmax", "LogSoftmax"):
        layers.append(getattr(nn, last)(dim=1))
    elif last != "none":
        layers.append(getattr(nn, last)())
    model = nn.Sequential(*layers).eval()
    net = mlp_from_torch(model, output="identity" if last == "none" else None)
    assert net.hidden == [name]
    out = _torch_out(model, x)
    got = net.predict_proba(images)
    if last == "none":
        assert net.output == "identity" and net.metadata["output_added"] is False
        np.testing.assert_allclose(got, out, rtol=1e-5, atol=1e-5)
    elif last == "LogSoftmax":
        assert net.output == "softmax" and net.metadata["log_softmax"] is True
        np.testing.assert_allclose(got, np.exp(out), rtol=0, atol=ATOL)
    else:
        assert net.output == last.lower()
        np.testing.assert_allclose(got, out, rtol=0, atol=ATOL)


def test_torch_batchnorm_before_a_linear_layer_and_encoding(torch, digits):
    """BatchNorm after an activation folds into the next layer; the input was [-1, 1]."""
    from torch import nn
    images, x = digits
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 20), nn.ReLU(), nn.BatchNorm1d(20),
                          nn.Linear(20, 10))
    with torch.no_grad():
        bn = model[3]
        bn.running_mean.uniform_(0, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_()
        bn.bias.normal_()
    model.eval()
    net = mlp_from_torch(model, encoding=Encoding(-1.0, 1.0))
    assert net.sizes == [784, 20, 10]
    ref = _softmax(_torch_out(model, 2 * x - 1).astype(np.float64))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)


class _Net:
    """A hand-written nn.Module (built lazily so that torch is imported only by tests)."""

    @staticmethod
    def make(torch):
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 24)
                self.bn = nn.BatchNorm1d(24, eps=1e-3)
                self.fc2 = nn.Linear(24, 10)

            def forward(self, x):
                h = self.bn(self.fc1(x.flatten(1)))
                return torch.log_softmax(self.fc2(torch.relu(h)), dim=1)

        torch.manual_seed(3)
        net = Net()
        with torch.no_grad():
            net.bn.running_mean.normal_()
            net.bn.running_var.uniform_(0.5, 2)
        return net.eval()


LAYERS = ["flatten", "linear", "batchnorm:1e-3", "relu", "linear", "log_softmax"]


def test_torch_module_or_state_dict_with_layers(torch, digits):
    images, x = digits
    model = _Net.make(torch)
    ref = np.exp(_torch_out(model, x))
    for source in (model, model.state_dict(),
                   {k: v.numpy() for k, v in model.state_dict().items()}):  # no torch needed
        net = mlp_from_torch(source, LAYERS)
        assert net.sizes == [784, 24, 10] and net.output == "softmax"
        np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match=r"layer bn \(BatchNorm1d\) is in training mode"):
        mlp_from_torch(model.train(), LAYERS)


def _mnist_example_net(torch):
    """The network of PyTorch's MNIST example (pytorch/examples, mnist/main.py)."""
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    return Net()


def test_torch_module_traced_by_fx_matches_on_mnist(torch, digits):
    """PyTorch's MNIST example network, a plain nn.Module, with the example's
    input normalisation: traced, it computes what PyTorch computes."""
    images, x = digits
    torch.manual_seed(5)
    model = _mnist_example_net(torch).eval()
    net = mlp_from_torch(model, encoding=Encoding(mean=0.1307, std=0.3081))
    assert isinstance(net, netdream.Network) and net.output == "softmax"
    assert [type(l).__name__ for l in net.layers] == [
        "Conv2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dense"]
    assert net.metadata["source"] == "torch Net.forward, traced by torch.fx"
    assert net.metadata["log_softmax"] is True and net.metadata["output_added"] is False
    ref = np.exp(_torch_out(model, (x.reshape(-1, 1, 28, 28) - 0.1307) / 0.3081))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(net.predict(images), ref.argmax(axis=1))
    with pytest.raises(ValueError, match=r"layer dropout1 \(Dropout\) is in training mode"):
        mlp_from_torch(model.train())


def test_torch_fx_reads_the_functions_and_methods(torch, digits):
    """Tensor methods, torch and functional calls, a nested block, a module
    called twice, an activation after max pooling, view(x.size(0), -1)."""
    from torch import nn
    from torch.nn import functional as F
    images, x = digits
    images, x = images[:2000], x[:2000]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6))
            self.conv = nn.Conv2d(6, 8, 3, stride=2)
            self.act = nn.LeakyReLU(0.1)
            self.fc1 = nn.Linear(8 * 3 * 3, 20)
            self.fc2 = nn.Linear(20, 16)
            self.fc3 = nn.Linear(16, 12)
            self.fc4 = nn.Linear(12, 12)
            self.fc5 = nn.Linear(12, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.block(x), 2), inplace=True)
            x = F.avg_pool2d(self.act(self.conv(x)), kernel_size=2)
            x = F.dropout(x.view(x.size(0), -1), 0.3, training=self.training)
            x = torch.sigmoid(self.fc1(x.reshape(x.shape[0], -1)))
            x = self.act(self.fc2(x))
            x = F.leaky_relu(self.fc4(self.fc3(x).tanh()), 0.1)
            return torch.softmax(self.fc5(x), 1)

    torch.manual_seed(6)
    model = Net()
    with torch.no_grad():
        model.train()(torch.rand(64, 1, 28, 28))  # batch statistics of its own
    model.eval()
    net = mlp_from_torch(model)
    assert [type(l).__name__ for l in net.layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "AvgPool2D", "Flatten", *["Dense"] * 5]
    assert [getattr(l, "activation", None) for l in net.layers] == [
        "relu", None, "leaky_relu", None, None, "sigmoid", "leaky_relu", "tanh", "leaky_relu",
        "softmax"]
    ref = _torch_out(model, x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)


def test_torch_fx_refuses_what_is_not_a_straight_line(torch):
    from torch import nn
    from torch.nn import functional as F

    def module(forward, **layers):
        cls = type("Net", (nn.Module,), {"forward": forward})
        m = cls()
        nn.Module.__init__(m)
        m.conv = nn.Conv2d(1, 1, 3, padding=1)
        m.fc = nn.Linear(784, 10)
        for name, layer in layers.items():
            setattr(m, name, layer)
        return m.eval()

    def refused(model, match):
        with pytest.raises(ValueError, match=match):
            mlp_from_torch(model)

    refused(module(lambda self, x: self.fc(torch.flatten(self.conv(x) + x, 1))),
            r"the output of node 'x' is used by conv, add; netdream reads a straight-line "
            r"forward: no branches or residual connections")
    refused(module(lambda self, x: self.fc(torch.flatten(torch.cat([self.conv(x), x], 1), 1))),
            r"the output of node 'x' is used by conv, cat")
    refused(module(lambda self, x: self.fc(torch.flatten(F.gelu(self.conv(x)), 1))),
            r"node 'gelu' \(function gelu\) is not supported: netdream reads convolutions, "
            r"pooling.*" + _listed(torch_fx.FUNCTIONS))
    refused(module(lambda self, x: self.fc(F.dropout(torch.flatten(self.conv(x), 1)))),
            r"node 'dropout' \(function dropout\) drops units at random")
    refused(module(lambda self, x: self.fc(self.conv(x).view(-1, 28, 28))),
            r"node 'view' \(method .view\(\)\) reshapes to \[-1, 28, 28\]")
    refused(module(lambda self, x: self.fc(self.conv(x).flatten())),
            r"layer flatten \(Flatten\) must flatten all but the batch dimension")
    refused(module(lambda self, x: self.fc(torch.flatten(self.conv(x) if x.sum() > 0 else x,
                                                         1))),
            r"torch.fx cannot trace Net.forward")
    refused(module(lambda self, x: self.fc(torch.flatten(self.gru(self.conv(x)), 1)),
                   gru=nn.GELU()),
            r"layer gru \(GELU\) is not supported in a convolutional network")
    # a tensor kept on the module: only in an input normalisation before the first layer
    late = module(lambda self, x: self.fc(torch.flatten(self.conv(x) - self.mean, 1)))
    late.register_buffer("mean", torch.full((1, 1, 1, 1), 0.13))
    refused(late, r"node 'sub' \(function sub\) reads a tensor kept on the module; .*before "
                  r"the first layer, an input normalisation such as \(x - self.mean\) / self.std")
    flipped = module(lambda self, x: self.fc(torch.flatten(self.conv(self.mean - x), 1)))
    flipped.register_buffer("mean", torch.full((1, 1, 1, 1), 0.13))
    refused(flipped, r"node 'sub' \(method .sub\(\)\) computes constant - input; netdream takes "
                     r"an input normalisation x - c, x \+ c, x \* c or x / c into the encoding")
    along_w = module(lambda self, x: self.fc(torch.flatten(self.conv(x - self.mean), 1)))
    along_w.register_buffer("mean", torch.zeros(28))  # broadcasts along the width
    refused(along_w, r"node 'sub' \(function sub\) takes mean of shape \(28,\); netdream reads "
                     r"an input normalisation with one value, or one per channel")
    dense_first = module(lambda self, x: self.fc(torch.flatten(x / 0.3, 1)))
    refused(dense_first, r"the input normalisation \(nodes 'truediv'\) comes before Flatten; "
                         r"netdream takes it into the encoding before a first Conv2d")
    hooked = module(lambda self, x: self.fc(torch.flatten(self.conv(x), 1)))
    hooked.register_forward_hook(lambda m, i, o: o * 2)
    refused(hooked, r"the module has forward hooks")


def _seq(torch, *names, **kw):
    from torch import nn
    made = {"L": lambda: nn.Linear(784, 8), "l": lambda: nn.Linear(8, 8),
            "o": lambda: nn.Linear(8, 3), "R": nn.ReLU, "S": lambda: nn.Softmax(dim=1),
            "B": lambda: nn.BatchNorm1d(8), "D": nn.Dropout, "F": nn.Flatten}
    return nn.Sequential(*(made[n]() if n in made else n for n in names)).eval()


def test_torch_refuses_what_it_cannot_represent(torch):
    from torch import nn

    def refused(model, match, **kw):
        with pytest.raises(ValueError, match=match):
            mlp_from_torch(model, **kw)

    refused(nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2), nn.Flatten(), nn.Linear(2304, 10)).eval(),
            r"layer 0 \(Conv2d\) uses dilation, groups or non-zero padding")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU(), nn.Flatten(), nn.Linear(2704, 10)).eval(),
            r"layer 1 \(GELU\) is not supported in a convolutional network")
    refused(nn.Sequential(nn.Flatten(), nn.LSTM(784, 8)).eval(), r"layer 1 \(LSTM\) is not supp")
    refused(nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.GELU(), nn.Linear(8, 3)),
            r"layer 2 \(GELU\) is not supported")
    train = _seq(torch, "L", "R", "D", "o").train()
    refused(train, r"layer 2 \(Dropout\) is in training mode.*call module.eval\(\)")
    train = _seq(torch, "L", "B", "R", "o").train()
    train[2].eval()
    train[0].eval()
    refused(train, r"layer 1 \(BatchNorm1d\) is in training mode")
    no_stats = _seq(torch, "L", nn.BatchNorm1d(8, track_running_stats=False), "R", "o")
    refused(no_stats, r"layer 1 \(BatchNorm1d\) has track_running_stats=False")
    refused(_seq(torch, "L", "R", "B", "R", "o"), r"layer 2 \(BatchNorm1d\) cannot be folded")
    refused(_seq(torch, "L", "R", "o", "R"), r"layer 3 \(ReLU\) \(relu\) is the network's last")
    refused(_seq(torch, "L", "S", "o"), r"layer 1 \(Softmax\) is a softmax between hidden")
    refused(_seq(torch, "L", "R", "o", "S", "R"), r"layer 4 \(ReLU\) follows the output activation")
    refused(_seq(torch, "L", "R", "R", "o"), r"layer 2 \(ReLU\) follows layer 1 \(ReLU\)")
    refused(_seq(torch, "R", "L", "o"), r"layer 0 \(ReLU\) comes before the first linear")
    refused(_seq(torch, nn.Linear(100, 8), "o"), r"layer 0 \(Linear\) takes 100 inputs.*784")
    refused(_seq(torch, "L", nn.Linear(5, 3)), r"layer 1 \(Linear\) takes 5 inputs but the layer")
    refused(_seq(torch, "L", nn.Softmax(dim=0)), r"layer 1 \(Softmax\) is taken over dimension 0")
    refused(_seq(torch, nn.Flatten(0), "L", "o"), r"layer 0 \(Flatten\) flattens dimensions 0")
    refused(_seq(torch, "L", nn.LeakyReLU(0.1), "l", nn.LeakyReLU(0.2), "o"),
            r"layer 3 \(LeakyReLU\) has negative slope 0.2 but layer 1 .* has 0.1")
    refused(_seq(torch, "L", nn.PReLU(8), "o"), r"layer 1 \(PReLU\) has 8 slopes")
    refused(_seq(torch, "L", "R", "o", "S"), r"output='sigmoid' contradicts .*layer 3 \(Softmax\)",
            output="sigmoid")
    refused(_seq(torch, "L", "R", "o"), r"output activation 'relu' is not supported",
            output="relu")
    refused(_seq(torch, "L", "R", "o"), "layers is only for a state dict", layers=["linear"])

    class Doubled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    refused(nn.Sequential(Doubled(784, 3)).eval(), r"layer 0 \(Doubled\) is not supported")
    hooked = _seq(torch, "L", "R", "o")
    hooked[1].register_forward_hook(lambda m, i, o: o * 2)
    refused(hooked, r"layer 1 \(ReLU\) has forward hooks")
    refused(_Net.make(torch), r"Net is not an nn.Sequential.*pass layers=")
    with pytest.raises(TypeError, match="must be a torch.nn.Module or a state dict"):
        mlp_from_torch([np.zeros((3, 784))])
    with pytest.raises(TypeError, match="encoding must be a netdream.Encoding"):
        mlp_from_torch(_seq(torch, "L", "o"), encoding=(0, 1))


@pytest.mark.parametrize("layers, exc, match", [
    (None, ValueError, r"layers is required with a state dict"),
    ("linear", TypeError, r"layers must be a list of strings"),
    (["linear", 3], TypeError, r"layers\[1\] must be a string"),
    (["linear", "relu"], ValueError, r"parameters that layers does not use, starting with 'fc2.\*'"),
    (["linear", "relu", "linear", "linear"], ValueError, r"layers\[3\] is 'linear' but the state "
                                                         r"dict has no parameters left"),
    (["batchnorm", "relu", "linear"], ValueError, r"layers\[0\] is 'batchnorm' but the next "
                                                  r"parameters .*'fc1.\*' \(weight, bias\), lack "
                                                  r"running_mean, running_var"),
    (["linear", "conv", "linear"], ValueError, r"layers\[1\] = 'conv' is not a known layer"),
    (["linear", "relu:2", "linear"], ValueError, r"only 'leaky_relu' and 'batchnorm' take"),
    (["linear", "leaky_relu:x", "linear"], ValueError, r"the argument after ':' must be a number"),
    (["linear", "leaky_relu:nan", "linear"], ValueError, r"the argument must be finite"),
])
def test_state_dict_layer_description_errors(layers, exc, match):
    rng = np.random.default_rng(0)
    sd = {"fc1.weight": rng.normal(size=(8, 784)), "fc1.bias": np.zeros(8),
          "fc2.weight": rng.normal(size=(3, 8)), "fc2.bias": np.zeros(3)}
    with pytest.raises(exc, match=match):
        mlp_from_torch(sd, layers)


def test_state_dict_that_is_not_a_linear_layer():
    sd = {"conv.weight": np.zeros((4, 1, 3, 3)), "conv.bias": np.zeros(4)}
    with pytest.raises(ValueError, match=r"layers\[0\] \(linear, parameters 'conv.\*'\) is not a "
                                         r"linear layer: it has a 4-D weight"):
        mlp_from_torch(sd, ["linear"])


# ===================================================================== keras
@pytest.fixture(scope="module")
def keras():
    # Keras 3 needs a backend; torch is the one the test extras install.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _keras_out(model, x):
    out = model(x, training=False)
    if hasattr(out, "detach"):  # torch backend; np.asarray would warn under NumPy 2
        return out.detach().cpu().numpy()
    return np.asarray(out)


def test_keras_sequential_matches_on_mnist(keras, digits):
    images, x = digits
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28)), L.Flatten(), L.Dense(64, activation="relu"), L.Dropout(0.3),
        L.Dense(32), L.BatchNormalization(), L.LeakyReLU(0.2), L.Dense(16), L.Activation("tanh"),
        L.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    bn = model.layers[4]
    bn.moving_mean.assign(rng.normal(size=32).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2, size=32).astype(np.float32))
    bn.gamma.assign(rng.normal(size=32).astype(np.float32))
    net = mlp_from_keras(model)
    assert net.sizes == [784, 64, 32, 16, 10]
    assert net.hidden == ["relu", "leaky_relu", "tanh"] and net.output == "softmax"
    assert net.leaky_slope == pytest.approx(0.2)
    assert net.metadata["output_added"] is False
    ref = _keras_out(model, x)
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(net.predict(images), ref.argmax(axis=1))


def test_keras_logits_rescaling_and_activation_layers(keras, digits):
    images, _ = digits  # the model rescales 0..255 itself
    keras.utils.set_random_seed(1)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((784,)), L.Rescaling(1 / 255), L.Dense(32, activation="sigmoid"),
        L.Dense(16), L.ReLU(), L.Dense(10)])  # logits, as trained with from_logits=True
    net = mlp_from_keras(model, encoding=Encoding(0.0, 255.0))
    assert net.hidden == ["sigmoid", "relu"] and net.output == "softmax"
    assert net.metadata["output_added"] is True
    logits = _keras_out(model, images.reshape(-1, 784).astype(np.float32))
    np.testing.assert_allclose(net.predict_proba(images), _softmax(logits.astype(np.float64)),
                               rtol=0, atol=ATOL)
    raw = mlp_from_keras(model, encoding=Encoding(0.0, 255.0), output="identity")
    np.testing.assert_allclose(raw.predict_proba(images), logits, rtol=1e-5, atol=1e-5)


def test_keras_refuses_what_it_cannot_represent(keras):
    L = keras.layers

    def refused(layers, match):
        model = keras.Sequential([keras.Input((28, 28)), *layers])
        with pytest.raises(ValueError, match=match):
            mlp_from_keras(model)

    # a convolutional model is a Network (a first Reshape adding the channel
    # axis is read); a Reshape elsewhere is refused, naming it
    cnn = mlp_from_keras(keras.Sequential([keras.Input((28, 28)), L.Reshape((28, 28, 1)),
                                           L.Conv2D(4, 3, name="conv"), L.Flatten(),
                                           L.Dense(10)]))
    assert isinstance(cnn, netdream.Network) and not isinstance(cnn, netdream.MLP)
    refused([L.Reshape((14, 56, 1)), L.Conv2D(4, 3, name="conv"), L.Flatten(), L.Dense(10)],
            r"layer 0 '.*' \(Reshape\) reshapes to \(14, 56, 1\)")
    refused([L.Flatten(), L.Dense(8, activation="gelu", name="d"), L.Dense(3)],
            r"layer 1 'd' \(Dense\) has activation 'gelu', which netdream does not support")
    refused([L.Flatten(), L.Dense(8, activation=lambda z: 2 * z, name="d"), L.Dense(3)],
            r"layer 1 'd' \(Dense\) has activation '<lambda>', which is not one of Keras' built-in")
    refused([L.Flatten(data_format="channels_first"), L.Dense(3)],
            r"layer 0 '.*' \(Flatten\) has data_format='channels_first'")
    refused([L.Flatten(), L.Dense(8), L.ReLU(max_value=6.0), L.Dense(3)],
            r"\(ReLU\) has max_value=6.0")
    refused([L.Dense(8), L.Flatten(), L.Dense(3)], r"\(Dense\) takes 28 inputs; netdream models "
                                                   r"take 784")
    # a functional model is read when it is a straight line, else refused by layer
    inp = keras.Input((784,))
    line = keras.Model(inp, L.Dense(10, activation="softmax")(L.Dense(8, activation="relu")(inp)))
    net = mlp_from_keras(line)
    assert net.metadata["source"] == "keras.Model (functional)"
    x = np.random.default_rng(0).random((6, 784)).astype(np.float32)
    np.testing.assert_allclose(net.predict_proba(x.reshape(6, 28, 28)), _keras_out(line, x),
                               rtol=0, atol=ATOL)
    a = L.Dense(8)(inp)
    residual = keras.Model(inp, L.Dense(3)(L.Add(name="add")([a, L.Dense(8)(a)])))
    with pytest.raises(ValueError, match=r"layer 2 'add' \(Add\) does not take the output of "
                                         r"the layer before it .*straight-line models"):
        mlp_from_keras(residual)
    shared = L.Dense(784, name="twice")
    with pytest.raises(ValueError, match=r"'twice' .*called more than once"):
        mlp_from_keras(keras.Model(inp, L.Dense(3)(shared(shared(inp)))))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, x):
            return self.d(x)

    sub = Subclassed()
    sub(x)
    with pytest.raises(TypeError, match=r"a subclassed model is not read"):
        mlp_from_keras(sub)


# ====================================================================== onnx
@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx")


def _onnx_model(onnx, nodes, inits, in_shape, opset=17, out_name="y"):
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "K"])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.int64 if np.asarray(v).dtype.kind == "i"
                                            else np.float32), name=k)
         for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _onnx_run(model, x):
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def test_onnx_gemm_chain_matches_on_mnist(onnx, digits, tmp_path):
    from onnx import helper
    images, x = digits
    rng = np.random.default_rng(0)
    inits = {
        "W1": rng.normal(0, 0.05, (32, 784)), "b1": rng.normal(0, 0.1, (1, 32)),
        "W2": rng.normal(0, 0.2, (32, 16)), "b2": rng.normal(0, 0.1, 16),
        "scale": rng.normal(1, 0.2, 16), "B": rng.normal(0, 0.1, 16),
        "mean": rng.normal(0, 0.1, 16), "var": rng.uniform(0.5, 2, 16),
        "W3": rng.normal(0, 0.3, (16, 10)), "b3": rng.normal(0, 0.1, 10)}
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "W1", "b1"], ["h1"], name="fc1", transB=1, alpha=0.5,
                         beta=2.0),
        helper.make_node("LeakyRelu", ["h1"], ["a1"], alpha=0.1),
        helper.make_node("MatMul", ["a1", "W2"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "b2"], ["h2"]),
        helper.make_node("BatchNormalization", ["h2", "scale", "B", "mean", "var"], ["n2"],
                         epsilon=1e-3),
        helper.make_node("Tanh", ["n2"], ["a2"]),
        helper.make_node("Dropout", ["a2"], ["d2"]),
        helper.make_node("Gemm", ["d2", "W3", "b3"], ["h3"], name="fc3"),
        helper.make_node("Softmax", ["h3"], ["y"], axis=-1)]
    model = _onnx_model(onnx, nodes, inits, ["N", 1, 28, 28])
    path = tmp_path / "net.onnx"
    onnx.save(model, str(path))
    net = mlp_from_onnx(path)
    assert net.sizes == [784, 32, 16, 10]
    assert net.hidden == ["leaky_relu", "tanh"] and net.output == "softmax"
    assert net.leaky_slope == pytest.approx(0.1)
    ref = _onnx_run(model, x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(net.predict(images), ref.argmax(axis=1))


def test_onnx_normalised_input_reshape_and_logits(onnx, digits):
    """Sub/Div normalisation before a Reshape, Constant and Identity nodes holding
    constants, a graph ending in Gemm (logits)."""
    from onnx import helper, numpy_helper
    images, x = digits
    rng = np.random.default_rng(1)
    inits = {"mu": [0.1307], "sd": [0.3081], "W1": rng.normal(0, 0.05, (784, 20)),
             "W2": rng.normal(0, 0.3, (10, 20)), "b2": rng.normal(0, 0.1, 10)}
    nodes = [
        helper.make_node("Sub", ["x", "mu"], ["c"]),
        helper.make_node("Div", ["c", "sd"], ["z"]),
        helper.make_node("Constant", [], ["shape"],
                         value=numpy_helper.from_array(np.array([-1, 784], dtype=np.int64))),
        helper.make_node("Reshape", ["z", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "W1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["a1"]),
        helper.make_node("Identity", ["a1"], ["i1"]),
        helper.make_node("Identity", ["W2"], ["W2_alias"]),  # as torch.onnx.export writes
        helper.make_node("Gemm", ["i1", "W2_alias", "b2"], ["y"], transB=1)]
    model = _onnx_model(onnx, nodes, inits, ["N", 28, 28], opset=13)
    logits = _onnx_run(model, x)
    net = mlp_from_onnx(model)
    assert net.output == "softmax" and net.metadata["output_added"] is True
    np.testing.assert_allclose(net.predict_proba(images), _softmax(logits.astype(np.float64)),
                               rtol=0, atol=ATOL)
    raw = mlp_from_onnx(model, output="identity")
    np.testing.assert_allclose(raw.predict_proba(images), logits, rtol=1e-5, atol=1e-5)


def test_onnx_refuses_what_it_cannot_represent(onnx, tmp_path):
    from onnx import helper
    rng = np.random.default_rng(2)
    W, K = rng.normal(size=(784, 8)), rng.normal(size=(4, 1, 3, 3))

    def refused(nodes, match, inits=None, in_shape=("N", 784)):
        model = _onnx_model(onnx, nodes, {"W": W, **(inits or {})}, list(in_shape))
        with pytest.raises(ValueError, match=match):
            mlp_from_onnx(model)

    refused([helper.make_node("Conv", ["x", "K"], ["c"], name="conv", group=2),
             helper.make_node("Flatten", ["c"], ["y"])],
            r"node 0 'conv' \(Conv\) has group=2; netdream's convolutions have one group",
            {"K": K}, ("N", 2, 28, 28))
    refused([helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
             helper.make_node("Relu", ["h"], ["a"]),
             helper.make_node("Add", ["a", "h"], ["y"], name="skip")],
            r"node 2 'skip' \(Add\) does not take exactly the previous node's output 'a'.*"
            r"simple chain")
    refused([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transA=1)],
            r"node 0 'fc' \(Gemm\) has transA=1", {"W": W.T})
    refused([helper.make_node("MatMul", ["W", "x"], ["y"], name="fc")],
            r"node 0 'fc' \(MatMul\) has the data as its second input", {"W": W.T})
    refused([helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Softmax", ["h"], ["y"], axis=0)],
            r"node 1 \(Softmax\) is taken over axis 0")
    refused([helper.make_node("MatMul", ["x", "W"], ["y"], name="fc")],
            r"node 0 'fc' \(MatMul\) receives data of per-sample shape \(28, 28\); flatten",
            in_shape=("N", 28, 28))
    refused([helper.make_node("Reshape", ["x", "s"], ["f"], name="r"),
             helper.make_node("MatMul", ["f", "W"], ["y"])],
            r"node 0 'r' \(Reshape\) reshapes data of per-sample shape \(28, 28\) to \[-1, 392\]",
            {"s": [-1, 392]}, ("N", 28, 28))
    refused([helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Div", ["d", "h"], ["y"], name="inv")],
            r"node 1 'inv' \(Div\) divides a constant by the data", {"d": [2.0]})
    refused([helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Add", ["h", "c"], ["y"], name="add")],
            r"node 1 'add' \(Add\) uses a constant of shape \(5,\) that does not broadcast",
            {"c": np.ones(5)})
    refused([helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Relu", ["h"], ["y"], name="r")],
            r"node 1 'r' \(Relu\) \(relu\) is the network's last layer")
    refused([helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Relu", ["h"], ["y"]),
             helper.make_node("Sigmoid", ["y"], ["unused"])],
            r"the graph output 'y' is not the end of the chain \('unused'\)")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match=r"is not a readable ONNX model"):
        mlp_from_onnx(bad)
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike"):
        mlp_from_onnx(3)


def _torch_to_onnx(torch, model, sample_shape):
    """``model`` exported by torch's TorchScript exporter (the one that needs no
    onnxscript), batch axis dynamic, batch normalisation kept as its own node."""
    import io
    import warnings
    import onnx
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter says it is legacy
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, *sample_shape),), buf, dynamo=False,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                          do_constant_folding=False)
    return onnx.load_from_string(buf.getvalue())


def test_onnx_cnn_exported_by_torch_matches_on_mnist(onnx, torch, digits, mnist_test):
    """A CNN exported from PyTorch (same and valid padding, stride 2, batch
    normalisation, max and average pooling, flatten, softmax) computes what
    PyTorch computes on the whole MNIST test set."""
    from torch import nn
    images, x = digits
    torch.manual_seed(3)
    body = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 32), nn.ReLU(), nn.Linear(32, 10))
    _train_a_little(torch, body, x.reshape(-1, 1, 28, 28), mnist_test[1], steps=20)
    model = nn.Sequential(body, nn.Softmax(dim=1)).eval()
    exported = _torch_to_onnx(torch, model, (1, 28, 28))
    ops = [n.op_type for n in exported.graph.node]
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "Flatten", "Gemm",
            "Softmax"} <= set(ops)
    net = mlp_from_onnx(exported)
    assert isinstance(net, netdream.Network) and net.image_shape == (28, 28)
    assert [type(l).__name__ for l in net.layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "AvgPool2D", "Flatten", "Dense", "Dense"]
    assert net.output == "softmax" and net.metadata["output_added"] is False
    ref = _torch_out(model, x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(net.predict(images), ref.argmax(axis=1))
    logits = _torch_out(body.eval(), x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.logits(images), logits, rtol=1e-5, atol=1e-4)


def test_onnx_cnn_normalising_its_input_takes_it_as_the_encoding(onnx, torch, digits):
    """A model that normalises its input in the graph, ``(x - mean) / std``
    before a padded convolution (as torchvision's Normalize would outside
    it): the normalisation becomes the encoding, and the zero padding pads
    the normalised image, as in PyTorch. Grey on MNIST, and colour; with
    the caller's encoding, the graph's normalisation follows it."""
    from torch import nn

    class Normalised(nn.Module):
        def __init__(self, body, mean, std):
            super().__init__()
            self.body = body
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))

        def forward(self, x):
            return self.body((x - self.mean) / self.std)

    images, x = digits
    torch.manual_seed(5)
    grey = Normalised(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Flatten(), nn.Linear(4 * 14 * 14, 10)), [0.1307], [0.3081]).eval()
    exported = _torch_to_onnx(torch, grey, (1, 28, 28))
    assert [n.op_type for n in exported.graph.node][:2] == ["Sub", "Div"]
    net = mlp_from_onnx(exported)
    assert net.encoding.mean == pytest.approx((0.1307,)) and net.encoding.std == pytest.approx((0.3081,))
    assert net.metadata["input_normalisation"].endswith("(Sub)")
    ref = _torch_out(nn.Sequential(grey, nn.Softmax(dim=1)), x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)

    colour = Normalised(nn.Sequential(nn.Conv2d(3, 5, 5, padding=2), nn.Tanh(), nn.Flatten(),
                                      nn.Linear(5 * 12 * 12, 4)),
                        [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    net = mlp_from_onnx(_torch_to_onnx(torch, colour, (3, 12, 12)))
    assert net.encoding.std == pytest.approx((0.229, 0.224, 0.225))
    rgb = np.random.default_rng(0).random((50, 3, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(net.predict_proba(rgb),
                               _torch_out(nn.Sequential(colour, nn.Softmax(dim=1)), rgb),
                               rtol=0, atol=ATOL)
    # the caller's encoding (pixels in [-1, 1]) first, then the graph's normalisation
    net = mlp_from_onnx(_torch_to_onnx(torch, colour, (3, 12, 12)),
                        encoding=netdream.Encoding(-1.0, 1.0))
    np.testing.assert_allclose(net.predict_proba(rgb),
                               _torch_out(nn.Sequential(colour, nn.Softmax(dim=1)), 2 * rgb - 1),
                               rtol=0, atol=ATOL)
    # a negative scale cannot be an encoding's std
    flipped = Normalised(colour.body, [0.5, 0.5, 0.5], [-0.2, 0.3, 0.3]).eval()
    with pytest.raises(ValueError, match=r"scales an input channel by -5; netdream takes the "
                                         r"input's normalisation into the encoding only"):
        mlp_from_onnx(_torch_to_onnx(torch, flipped, (3, 12, 12)))


def test_torch_fx_cnn_normalising_its_input_takes_it_as_the_encoding(torch, digits):
    """A plain module whose forward normalises its input with buffers,
    ``(x - self.mean) / self.std``, before a padded convolution: the
    normalisation becomes the encoding (as from ONNX), grey on MNIST and
    colour, after the caller's encoding; numbers too (``x * 2 - 1``)."""
    from torch import nn

    class Normalised(nn.Module):
        def __init__(self, body, mean, std):
            super().__init__()
            self.body = body
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(-1, 1, 1))

        def forward(self, x):
            return self.body((x - self.mean) / self.std)

    class Centred(nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(x.mul(2.0) - 1)

    images, x = digits
    torch.manual_seed(5)
    grey = Normalised(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Flatten(), nn.Linear(4 * 14 * 14, 10)), [0.1307], [0.3081]).eval()
    net = mlp_from_torch(grey)
    assert net.encoding.mean == pytest.approx((0.1307,)) and net.encoding.std == pytest.approx((0.3081,))
    assert net.metadata["input_normalisation"] == "nodes 'sub', 'truediv'"
    ref = _torch_out(nn.Sequential(grey, nn.Softmax(dim=1)), x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    centred = Centred(grey.body).eval()
    net = mlp_from_torch(centred)
    assert net.encoding.mean == pytest.approx((0.5,)) and net.encoding.std == pytest.approx((0.5,))
    ref = _torch_out(nn.Sequential(centred, nn.Softmax(dim=1)), x.reshape(-1, 1, 28, 28))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)

    colour = Normalised(nn.Sequential(nn.Conv2d(3, 5, 5, padding=2), nn.Tanh(), nn.Flatten(),
                                      nn.Linear(5 * 12 * 12, 4)),
                        [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    rgb = np.random.default_rng(0).random((50, 3, 12, 12)).astype(np.float32)
    net = mlp_from_torch(colour, image_shape=(3, 12, 12))
    assert net.encoding.std == pytest.approx((0.229, 0.224, 0.225))
    np.testing.assert_allclose(net.predict_proba(rgb),
                               _torch_out(nn.Sequential(colour, nn.Softmax(dim=1)), rgb),
                               rtol=0, atol=ATOL)
    net = mlp_from_torch(colour, image_shape=(3, 12, 12), encoding=netdream.Encoding(-1.0, 1.0))
    np.testing.assert_allclose(net.predict_proba(rgb),
                               _torch_out(nn.Sequential(colour, nn.Softmax(dim=1)), 2 * rgb - 1),
                               rtol=0, atol=ATOL)
    flipped = Normalised(colour.body, [0.5, 0.5, 0.5], [-0.2, 0.3, 0.3]).eval()
    with pytest.raises(ValueError, match=r"nodes 'sub', 'truediv' scales an input channel by -5"):
        mlp_from_torch(flipped, image_shape=(3, 12, 12))


def _channels_last_cnn(onnx, rng, transpose):
    """What tf2onnx writes for a Keras CNN: channels-last input transposed to
    channels first, a convolution and max pooling, transposed back to channels
    last, flattened, a dense layer. With ``transpose=False`` the Transposes
    are Identity nodes: the same weights read channels first."""
    from onnx import helper
    k = rng.normal(0, 0.4, (4, 1, 3, 3))
    w = rng.normal(0, 0.1, (14 * 14 * 4, 10))  # rows in (y, x, channel) order
    perm = (lambda p: {"perm": p}) if transpose else (lambda p: {})
    op = "Transpose" if transpose else "Identity"
    nodes = [helper.make_node(op, ["x"], ["t"], **perm([0, 3, 1, 2])),
             helper.make_node("Conv", ["t", "K", "kb"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node(op, ["p"], ["h"], **perm([0, 2, 3, 1])),
             helper.make_node("Reshape", ["h", "flat"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "W"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["y"])]
    return _onnx_model(onnx, nodes, {"K": k, "kb": rng.normal(0, 0.1, 4), "W": w,
                                     "b": rng.normal(0, 0.1, 10),
                                     "flat": np.array([-1, 14 * 14 * 4])},
                       ["N", 28, 28, 1] if transpose else ["N", 1, 28, 28])


def test_onnx_channels_last_flatten_is_reordered(onnx, digits):
    """A Transpose to channels last before the flatten: the dense columns are
    put in netdream's channels-first order; reading them as they are (the
    classic silent bug) would compute something else."""
    images, x = digits
    images, x = images[:2000], x[:2000]  # the reference evaluator pools in Python
    model = _channels_last_cnn(onnx, np.random.default_rng(7), transpose=True)
    logits = _onnx_run(model, x[..., None])
    net = mlp_from_onnx(model, output="identity")
    assert isinstance(net, netdream.Network) and net.image_shape == (28, 28)
    np.testing.assert_allclose(net.predict_proba(images), logits, rtol=1e-5, atol=1e-5)
    # the same weights without the Transposes: what a forgotten reordering computes
    unordered = mlp_from_onnx(_channels_last_cnn(onnx, np.random.default_rng(7), False),
                              output="identity")
    assert np.abs(unordered.predict_proba(images) - logits).max() > 0.1


def test_onnx_cnn_on_a_reshaped_grey_input(onnx, digits):
    """(N, 28, 28) reshaped to (N, 1, 28, 28) before the first Conv."""
    from onnx import helper
    images, x = digits
    images, x = images[:2000], x[:2000]
    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Reshape", ["x", "nchw"], ["t"]),
             helper.make_node("Conv", ["t", "K"], ["c"], strides=[2, 2], auto_pad="VALID"),
             helper.make_node("LeakyRelu", ["c"], ["r"], alpha=0.2),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "b"], ["g"], transB=1),
             helper.make_node("LogSoftmax", ["g"], ["y"])]
    model = _onnx_model(onnx, nodes, {"nchw": np.array([-1, 1, 28, 28]),
                                      "K": rng.normal(0, 0.4, (3, 1, 4, 4)),
                                      "W": rng.normal(0, 0.1, (10, 3 * 13 * 13)),
                                      "b": rng.normal(0, 0.1, 10)}, ["N", 28, 28])
    net = mlp_from_onnx(model)
    assert net.metadata["log_softmax"] is True and net.leaky_slope == pytest.approx(0.2)
    np.testing.assert_allclose(net.predict_proba(images), np.exp(_onnx_run(model, x)), rtol=0,
                               atol=ATOL)


def test_onnx_refuses_what_a_cnn_cannot_hold(onnx):
    from onnx import helper
    rng = np.random.default_rng(9)
    inits = {"K": rng.normal(size=(4, 1, 3, 3)), "K2": rng.normal(size=(4, 1, 2, 2)),
             "W": rng.normal(size=(4 * 26 * 26, 10)), "c4": np.ones(4), "p4": np.ones(4),
             "v26": rng.normal(size=26)}

    def refused(middle, match, in_shape=("N", 1, 28, 28)):
        nodes = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"), *middle,
                 helper.make_node("Flatten", ["z"], ["f"]),
                 helper.make_node("MatMul", ["f", "W"], ["y"])]
        with pytest.raises(ValueError, match=match):
            mlp_from_onnx(_onnx_model(onnx, nodes, inits, list(in_shape)))

    refused([helper.make_node("Concat", ["c", "c"], ["z"], name="cat", axis=1)],
            r"node 1 'cat' \(Concat\) does not take exactly the previous node's output")
    refused([helper.make_node("Concat", ["c", "K"], ["z"], name="cat", axis=1)],
            r"node 1 'cat' \(Concat\) is not supported: netdream imports chains of "
            r"convolutions")
    refused([helper.make_node("Conv", ["c", "K"], ["z"], name="c2", dilations=[2, 2])],
            r"node 1 'c2' \(Conv\) has dilations \[2, 2\]")
    refused([helper.make_node("Conv", ["c", "K"], ["z"], name="c2", strides=[1, 2])],
            r"node 1 'c2' \(Conv\) has strides \[1, 2\]; netdream needs 2-D, equal")
    refused([helper.make_node("MaxPool", ["c"], ["z"], name="mp", kernel_shape=[2, 2],
                              pads=[1, 1, 1, 1])],
            r"node 1 'mp' \(MaxPool\) pads its input")
    refused([helper.make_node("AveragePool", ["c"], ["z"], name="ap", kernel_shape=[3, 3],
                              strides=[3, 3], ceil_mode=1)],
            r"node 1 'ap' \(AveragePool\) has ceil_mode=1, which pools a partial window at "
            r"the border of its 26x26 input")
    refused([helper.make_node("Transpose", ["c"], ["z"], name="tr", perm=[0, 1, 3, 2])],
            r"node 1 'tr' \(Transpose\) permutes the axes \[0, 1, 3, 2\]")
    refused([helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "c4", "c4", "c4", "p4"], ["n"],
                              name="bn"),
             helper.make_node("MaxPool", ["n"], ["z"], kernel_shape=[2, 2], strides=[2, 2])],
            r"node 2 'bn' \(BatchNormalization\) cannot be folded into a linear layer")
    refused([helper.make_node("Add", ["c", "v26"], ["z"], name="add")],
            r"node 1 'add' \(Add\) has a shift that varies within a channel")
    refused([helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("MaxPool", ["t"], ["z"], name="mp", kernel_shape=[2, 2])],
            r"node 2 'mp' \(MaxPool\) receives data channels last; netdream convolves and "
            r"pools feature maps")
    with pytest.raises(ValueError, match=r"node 0 'conv' \(Conv\) receives data of "
                                         r"per-sample shape \(784,\)"):
        mlp_from_onnx(_onnx_model(onnx, [helper.make_node("Conv", ["x", "K"], ["y"],
                                                          name="conv")],
                                  inits, ["N", 784]))


# ======================================================== missing frameworks
@pytest.mark.parametrize("module, call, match", [
    ("torch", lambda: mlp_from_torch(object()), r"from_torch needs PyTorch: pip install torch"),
    ("keras", lambda: mlp_from_keras(object()), r"from_keras needs Keras 3.*pip install keras"),
    ("onnx", lambda: mlp_from_onnx("m.onnx"), r"from_onnx needs the onnx package: pip install "
                                              r"onnx"),
])
def test_missing_framework_says_what_to_install(monkeypatch, module, call, match):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=match):
        call()


# =================================================================== sklearn
try:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
except ImportError:  # the sk fixture skips these tests
    MLPClassifier = MLPRegressor = None


@pytest.fixture(scope="module")
def sk():
    return pytest.importorskip("sklearn")


@needs_mnist
def test_from_sklearn_matches_predict_proba_on_real_digits(sk):
    x, y = mnist("train10k")
    xt, _ = mnist("test")
    clf = fit_quietly(MLPClassifier((64, 32), max_iter=5, random_state=0),
                       x[:3000].reshape(-1, 784) / 255.0, y[:3000])
    net = from_sklearn(clf)
    features = xt.reshape(-1, 784) / 255.0
    np.testing.assert_allclose(net.predict_proba(xt), clf.predict_proba(features), atol=1e-5)
    np.testing.assert_array_equal(net.predict(xt), clf.predict(features))
    assert net.metadata["classes"] == list(range(10))


@pytest.mark.parametrize("activation, name", [("relu", "relu"), ("logistic", "sigmoid"),
                                              ("tanh", "tanh"), ("identity", "identity")])
def test_from_sklearn_activations(sk, activation, name):
    x, y = bars(200)
    clf = fit_quietly(MLPClassifier((10,), activation=activation, max_iter=3, random_state=0),
                       x.reshape(-1, 784) / 255.0, y)
    net = from_sklearn(clf)
    assert net.hidden == [name] and net.output == "softmax"
    xt, _ = bars(50, seed=2)
    np.testing.assert_allclose(net.predict_proba(xt), clf.predict_proba(xt.reshape(-1, 784) / 255.0),
                               atol=1e-5)


def test_from_sklearn_binary_becomes_two_output_softmax(sk):
    x, y = bars(200)
    yb = (y == 1).astype(int)
    clf = fit_quietly(MLPClassifier((10,), max_iter=3, random_state=0), x.reshape(-1, 784) / 255.0, yb)
    assert clf.out_activation_ == "logistic"
    net = from_sklearn(clf)
    assert net.n_classes == 2
    f = x.reshape(-1, 784) / 255.0
    np.testing.assert_allclose(net.predict_proba(x), clf.predict_proba(f), atol=1e-5)
    np.testing.assert_array_equal(net.predict(x), clf.predict(f))


def test_from_sklearn_encoding_is_used(sk):
    x, y = bars(100)
    f = x.reshape(-1, 784) / 255.0 * 2 - 1
    clf = fit_quietly(MLPClassifier((6,), max_iter=2, random_state=0), f, y)
    net = from_sklearn(clf, encoding=Encoding(-1.0, 1.0))
    np.testing.assert_allclose(net.predict_proba(x), clf.predict_proba(f), atol=1e-5)


def test_from_sklearn_errors(sk):
    x, y = bars(60)
    f = x.reshape(-1, 784) / 255.0
    with pytest.raises(TypeError, match="must be a fitted sklearn.neural_network.MLPClassifier"):
        from_sklearn(object())
    reg = fit_quietly(MLPRegressor(hidden_layer_sizes=(4,), max_iter=1), f, y.astype(float))
    with pytest.raises(TypeError, match="MLPRegressor"):
        from_sklearn(reg)
    with pytest.raises(ValueError, match="not fitted"):
        from_sklearn(MLPClassifier())
    small = fit_quietly(MLPClassifier((4,), max_iter=1), f[:, :100], y)
    with pytest.raises(ValueError, match="takes 100 features"):
        from_sklearn(small)
    multilabel = fit_quietly(MLPClassifier((4,), max_iter=1), f, np.eye(3, dtype=int)[y])
    with pytest.raises(ValueError, match="multi-label"):
        from_sklearn(multilabel)
    clf = fit_quietly(MLPClassifier((4,), max_iter=1), f, y)
    with pytest.raises(TypeError, match="encoding must be a netdream.Encoding"):
        from_sklearn(clf, encoding=(0, 1))


def test_from_sklearn_names_the_classes_by_their_labels(sk, tmp_path):
    x, y = bars(120)
    f = x.reshape(-1, 784) / 255.0
    labels = np.array(["horizontal", "vertical", "square"])
    net = from_sklearn(fit_quietly(MLPClassifier((6,), max_iter=2, random_state=0), f, labels[y]))
    assert net.class_names == ("horizontal", "square", "vertical")  # clf.classes_: sorted
    assert isinstance(net, netdream.MLP)
    net.save(tmp_path / "bars.npz")
    assert netdream.load(tmp_path / "bars.npz").class_names == net.class_names
    # labels that cannot be names (an empty string): the class indices
    odd = fit_quietly(MLPClassifier((6,), max_iter=2, random_state=0), f,
                      np.array(["", "a", "b"])[y])
    assert from_sklearn(odd).class_names == ("0", "1", "2")
    assert netdream.MLP.from_sklearn(odd, class_names="bar, post, box").class_names == \
        ("bar", "post", "box")


def test_importers_take_class_names(torch):
    nn = torch.nn
    torch.manual_seed(0)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 7 * 7, 10)).eval()
    net = mlp_from_torch(seq, image_shape=(3, 16, 16), class_names=names)
    assert net.class_names == tuple(names)
    same = netdream.Network.from_torch(seq, image_shape=(3, 16, 16), class_names=names)
    top = netdream.from_torch(seq, image_shape=(3, 16, 16), class_names=names)  # the package's own
    x = np.random.default_rng(0).random((5, 3, 16, 16))
    np.testing.assert_array_equal(same.predict_proba(x), net.predict_proba(x))
    np.testing.assert_array_equal(top.predict_proba(x), net.predict_proba(x))
    assert top.class_names == tuple(names)
    mlp = mlp_from_torch(nn.Sequential(nn.Flatten(), nn.Linear(784, 3)).eval(),
                         class_names="bar, post, box")
    assert isinstance(mlp, netdream.MLP) and mlp.class_names == ("bar", "post", "box")
    with pytest.raises(ValueError, match=r"class_names must have one name per class \(10\), got 2"):
        mlp_from_torch(seq, image_shape=(3, 16, 16), class_names=["cat", "dog"])


def test_with_class_names_is_a_renamed_copy(tmp_path):
    net = netdream.pretrained("cnn")
    named = net.with_class_names([f"digit {k}" for k in range(10)])
    assert named.class_names[3] == "digit 3" and net.class_names[3] == "3"
    assert type(named) is type(net) and named.layers is net.layers
    x = np.random.default_rng(1).random((4, 28, 28))
    np.testing.assert_array_equal(named.predict_proba(x), net.predict_proba(x))
    named.save(tmp_path / "named.npz")
    assert netdream.load(tmp_path / "named.npz").class_names == named.class_names
    assert named.with_class_names(None).class_names == net.class_names
    mlp = netdream.pretrained("mlp")
    assert type(mlp.with_class_names("a,b,c,d,e,f,g,h,i,j")) is type(mlp)
    with pytest.raises(ValueError, match="non-empty printable"):
        net.with_class_names(["ok"] * 9 + ["bad\n"])
    with pytest.raises(TypeError, match="class_names must be a list of 10 names"):
        net.with_class_names(10)


# ============================================================ handler tables
# Each importer reads layers through a table of handlers (netdream.importers.
# _handlers); the tables make it cheap to check that the docstrings, the
# refusals and the tests all cover exactly what the importers read.


def _section(doc, start, end):
    """The part of ``doc`` between the markers ``start`` and ``end``."""
    assert start in doc and end in doc, f"the docstring lost its marker {start!r} or {end!r}"
    return doc[doc.index(start) + len(start):doc.index(end, doc.index(start))]


def _class_names(text):
    """The ``CamelCase`` names written in double backquotes in ``text``."""
    return set(re.findall(r"``([A-Z][A-Za-z0-9]*)``", text))


@pytest.mark.parametrize("what, documented, handled", [
    ("ONNX ops",
     lambda: _class_names(_section(onnx_importer.from_onnx.__doc__, "path :", "encoding :")),
     lambda: {*onnx_importer.OPS, *onnx_importer.CONSTANT_OPS}),
    ("torch.nn modules",
     lambda: _class_names(_section(torch_importer.from_torch.__doc__, "may hold:", "Anything else")),
     lambda: set(torch_importer.MODULES)),
    ("torch functions traced by torch.fx",
     lambda: set(re.findall(r"``([a-z_0-9]+)``", _section(
         torch_importer.from_torch.__doc__, "functions and tensor methods:", "each is read"))),
     lambda: set(torch_fx.FUNCTIONS)),
    ("state-dict layers",
     lambda: set(re.findall(r'``"([a-z_]+)(?::[A-Z]+)?"``',
                            _section(torch_importer.from_torch.__doc__, "each one of:",
                                     "Parameters are taken"))),
     lambda: set(torch_importer.LAYERS)),
    ("Keras layers",
     lambda: _class_names(_section(keras_importer.from_keras.__doc__, "model :", "encoding :")),
     lambda: set(keras_importer.LAYERS)),
    ("Keras activations",
     lambda: set(re.findall(r"``([a-z_]+)``",
                            _section(keras_importer.from_keras.__doc__, "model :", "encoding :"))),
     lambda: set(keras_importer.ACTIVATIONS)),
])
def test_docstring_lists_exactly_the_handled_layers(what, documented, handled):
    """Every layer a docstring promises has a handler, and every handler is documented."""
    documented, handled = documented(), handled()
    assert documented - handled == set(), f"{what} documented but without a handler"
    assert handled - documented == set(), f"{what} with a handler but not documented"


def test_handler_table():
    table = Handlers("test ops")

    @table.register("A", "B")
    def _ab(node, ctx):
        return ["step"]

    assert table.names() == ["A", "B"] and list(table) == ["A", "B"] and len(table) == 2
    assert "A" in table and "C" not in table
    assert table.get("B") is _ab and table.get("C") is None
    with pytest.raises(RuntimeError, match="'B' has two handlers"):
        table.register("B")(lambda node, ctx: [])
    with pytest.raises(TypeError, match="at least one name"):
        table.register()
    err = table.not_supported("node 3 (C)", also=["Z"])
    assert isinstance(err, ValueError)
    assert str(err).startswith("node 3 (C) is not supported: netdream imports dense networks only")
    assert str(err).endswith("; the supported test ops are A, B, Z")


def test_state_dict_refusal_lists_the_known_layers():
    sd = {"fc.weight": np.zeros((3, 784))}
    names = torch_importer.LAYERS.names()
    listed = f"use {', '.join(names[:-1])} or {names[-1]}"
    with pytest.raises(ValueError, match=rf"layers\[1\] = 'conv' is not a known layer; {listed}$"):
        mlp_from_torch(sd, ["linear", "conv"])
    with pytest.raises(ValueError, match=r"only 'leaky_relu' and 'batchnorm' take an argument"):
        mlp_from_torch(sd, ["linear", "conv:3"])
    with pytest.raises(ValueError, match=r"the argument must be finite and >= 0"):
        mlp_from_torch(sd, ["linear", "batchnorm:-1"])


def _listed(table, also=()):
    return re.escape(f"; the supported {table.what} are {', '.join([*table, *also])}") + "$"


def test_torch_refusal_lists_the_supported_modules(torch):
    from torch import nn
    with pytest.raises(ValueError, match=r"layer 1 \(GELU\) is not supported: .*"
                                         + _listed(torch_importer.MODULES)):
        mlp_from_torch(nn.Sequential(nn.Linear(784, 8), nn.GELU(), nn.Linear(8, 3)))


def test_torch_modules_are_torch_nn_classes(torch):
    for name in torch_importer.MODULES:
        assert isinstance(getattr(torch.nn, name, None), type), name


def test_keras_refusal_lists_the_supported_layers_and_activations(keras):
    L = keras.layers
    model = keras.Sequential([keras.Input((784,)), L.Dense(8), L.UnitNormalization(name="u"),
                              L.Dense(3)])
    with pytest.raises(ValueError, match=r"layer 1 'u' \(UnitNormalization\) is not supported: .*"
                                         + _listed(keras_importer.LAYERS)):
        mlp_from_keras(model)
    model = keras.Sequential([keras.Input((784,)), L.Dense(8, activation="elu", name="d"),
                              L.Dense(3)])
    listed = re.escape(", ".join(keras_importer.ACTIVATIONS)) + "$"
    with pytest.raises(ValueError, match=r"layer 0 'd' \(Dense\) has activation 'elu', .*"
                                         r"supported: " + listed):
        mlp_from_keras(model)


def test_keras_tables_name_keras_classes_and_activations(keras):
    for name in keras_importer.LAYERS:
        assert isinstance(getattr(keras.layers, name, None), type), name
    for name in keras_importer.ACTIVATIONS:
        assert keras.activations.get(name).__name__ == name


def test_onnx_refusal_lists_the_supported_ops(onnx):
    from onnx import helper
    model = _onnx_model(onnx, [helper.make_node("MatMul", ["x", "W"], ["h"]),
                               helper.make_node("Elu", ["h"], ["y"], name="e")],
                        {"W": np.zeros((784, 8))}, ["N", 784])
    also = [op for op in onnx_importer.CONSTANT_OPS if op not in onnx_importer.OPS]
    with pytest.raises(ValueError, match=r"node 1 'e' \(Elu\) is not supported: .*"
                                         + _listed(onnx_importer.OPS, also)):
        mlp_from_onnx(model)


def test_onnx_ops_are_standard_onnx_ops(onnx):
    for op in [*onnx_importer.OPS, *onnx_importer.CONSTANT_OPS]:
        assert onnx.defs.has(op), op


# ------------------------------------------- one equivalence test per handler
# ONNX: each case is a chain of (op_type, inputs, attributes) from the graph
# input "x" ("$" stands for the previous node's output), and the input's
# per-sample shape. Every op the importer reads appears in the case named
# after it, which the graph is checked against onnx's reference evaluator.
_L1, _L2 = ("MatMul", ["$", "W1"], {}), ("MatMul", ["$", "W2"], {})
_RELU = ("Relu", ["$"], {})
_ONNX_CASES = {
    "Gemm": ([("Gemm", ["$", "W1t", "b1"], {"transB": 1, "alpha": 0.7, "beta": 1.5}), _RELU,
              ("Gemm", ["$", "W2", "b2"], {})], [784]),
    "MatMul": ([_L1, _RELU, _L2], [784]),
    "Add": ([_L1, ("Add", ["v", "$"], {}), _RELU, _L2, ("Add", ["$", "s"], {})], [784]),
    "Sub": ([("Sub", ["$", "s"], {}), _L1, ("Sub", ["v", "$"], {}), _RELU, _L2], [784]),
    "Mul": ([("Mul", ["s", "$"], {}), _L1, _RELU, ("Mul", ["$", "v"], {}), _L2], [784]),
    "Div": ([("Div", ["$", "s"], {}), _L1, ("Div", ["$", "p"], {}), _RELU, _L2], [784]),
    "BatchNormalization": ([_L1, _RELU, ("BatchNormalization", ["$", "v", "s16", "v0", "p"],
                                         {"epsilon": 1e-3}), _L2], [784]),
    "Relu": ([_L1, _RELU, _L2], [784]),
    "LeakyRelu": ([_L1, ("LeakyRelu", ["$"], {"alpha": 0.2}), _L2], [784]),
    "Sigmoid": ([_L1, ("Sigmoid", ["$"], {}), _L2, ("Sigmoid", ["$"], {})], [784]),
    "Tanh": ([_L1, ("Tanh", ["$"], {}), _L2], [784]),
    "Identity": ([_L1, ("Identity", ["$"], {}), _L2], [784]),
    "Dropout": ([_L1, _RELU, ("Dropout", ["$"], {}), _L2], [784]),
    "Softmax": ([_L1, _RELU, _L2, ("Softmax", ["$"], {"axis": -1})], [784]),
    "LogSoftmax": ([_L1, _RELU, _L2, ("LogSoftmax", ["$"], {"axis": 1})], [784]),
    "Flatten": ([("Flatten", ["$"], {}), _L1, _RELU, _L2], [1, 28, 28]),
    "Reshape": ([("Reshape", ["$", "flat"], {}), _L1, _RELU, _L2], [28, 28]),
    "Constant": ([("Reshape", ["$", "flat_const"], {}), _L1, _RELU, _L2], [28, 28]),
    # convolutional: each feature map has 784 values, flattened into _L1
    "Conv": ([("Conv", ["$", "K", "kb"], {"strides": [2, 2], "pads": [0, 1, 2, 1]}),
              ("BatchNormalization", ["$", "c4", "m4", "m4", "p4"], {}), _RELU,
              ("Flatten", ["$"], {}), _L1, _RELU, _L2], [1, 28, 28]),
    "MaxPool": ([("Conv", ["$", "K"], {"auto_pad": "SAME_UPPER"}),
                 ("MaxPool", ["$"], {"kernel_shape": [2, 2], "strides": [2, 2]}),
                 ("Sigmoid", ["$"], {}), ("Flatten", ["$"], {}), _L1, _RELU, _L2], [1, 28, 28]),
    "AveragePool": ([("Conv", ["$", "K2", "kb"], {"auto_pad": "SAME_LOWER"}),
                     ("AveragePool", ["$"], {"kernel_shape": [2, 2], "strides": [2, 2],
                                             "ceil_mode": 1}),
                     ("Flatten", ["$"], {}), _L1, _RELU, _L2], [1, 28, 28]),
    "Transpose": ([("Transpose", ["$"], {"perm": [0, 3, 1, 2]}),
                   ("Conv", ["$", "K", "kb"], {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
                   ("Tanh", ["$"], {}), ("Transpose", ["$"], {"perm": [0, 2, 3, 1]}),
                   ("Mul", ["$", "c4"], {}), ("Flatten", ["$"], {}), _L1, _RELU, _L2],
                  [28, 28, 1]),
    # global pooling: the 4 channels' means (maxima) into a 4 x 16 layer
    "GlobalAveragePool": ([("Conv", ["$", "K", "kb"], {"auto_pad": "SAME_UPPER"}), _RELU,
                           ("GlobalAveragePool", ["$"], {}), ("Flatten", ["$"], {}),
                           ("MatMul", ["$", "W4"], {}), _RELU, _L2], [1, 28, 28]),
    "GlobalMaxPool": ([("Conv", ["$", "K", "kb"], {"pads": [1, 1, 1, 1]}),
                       ("GlobalMaxPool", ["$"], {}), ("Flatten", ["$"], {}),
                       ("MatMul", ["$", "W4"], {}), _RELU, _L2], [1, 28, 28]),
}
_CONV_OPS = {"Conv", "MaxPool", "AveragePool", "Transpose", "GlobalAveragePool", "GlobalMaxPool"}


def test_every_onnx_op_has_an_equivalence_case():
    assert set(_ONNX_CASES) == {*onnx_importer.OPS, *onnx_importer.CONSTANT_OPS}


@pytest.mark.parametrize("op", sorted(_ONNX_CASES))
def test_onnx_op_matches_the_reference_evaluator(onnx, digits, op):
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator
    images, x = digits
    chain, sample_shape = _ONNX_CASES[op]
    rng = np.random.default_rng(sorted(_ONNX_CASES).index(op))
    w1 = rng.normal(0, 0.05, (784, 16))
    floats = {"W1": w1, "W1t": w1.T, "b1": rng.normal(0, 0.1, (1, 16)),
              "W2": rng.normal(0, 0.3, (16, 10)), "b2": rng.normal(0, 0.1, 10),
              "v": rng.normal(0, 0.5, 16), "v0": rng.normal(0, 0.1, 16),
              "s16": rng.normal(1, 0.2, 16), "p": rng.uniform(0.5, 2, 16), "s": [1.7],
              "K": rng.normal(0, 0.5, (4, 1, 3, 3)), "K2": rng.normal(0, 0.5, (4, 1, 2, 2)),
              "kb": rng.normal(0, 0.1, 4), "c4": rng.normal(1, 0.3, 4),
              "m4": rng.normal(0, 0.1, 4), "p4": rng.uniform(0.5, 2, 4),
              "W4": rng.normal(0, 0.5, (4, 16))}
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), name=k)
             for k, v in floats.items()]
    inits.append(numpy_helper.from_array(np.array([-1, 784], dtype=np.int64), name="flat"))
    nodes = [helper.make_node("Constant", [], ["flat_const"],
                              value=numpy_helper.from_array(np.array([0, -1], dtype=np.int64)))]
    prev = "x"
    for i, (op_type, inputs, attrs) in enumerate(chain):
        out = "y" if i == len(chain) - 1 else f"t{i}"
        nodes.append(helper.make_node(op_type, [prev if n == "$" else n for n in inputs], [out],
                                      **attrs))
        prev = out
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *sample_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    if op in _CONV_OPS:  # the reference evaluator pools in Python: slow
        images, x = images[:1000], x[:1000]
    ref = ReferenceEvaluator(model).run(None, {"x": x.reshape(-1, *sample_shape)})[0]
    last = chain[-1][0]
    net = mlp_from_onnx(model, output="identity" if last in ("MatMul", "Add", "Gemm") else None)
    assert isinstance(net, netdream.MLP) == (op not in _CONV_OPS)
    got = net.predict_proba(images)
    if last == "LogSoftmax":
        np.testing.assert_allclose(got, np.exp(ref), rtol=0, atol=ATOL)
    elif last in ("Softmax", "Sigmoid"):
        assert net.output == last.lower()
        np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


# torch: one Sequential per nn.Module handler, checked against torch itself.
def _torch_case(nn, name):
    module = getattr(nn, name)
    activations = {"ReLU": (), "Sigmoid": (), "Tanh": (), "Identity": (), "LeakyReLU": (0.3,),
                   "PReLU": ()}
    if name in activations:
        return [nn.Linear(784, 16), module(*activations[name]), nn.Linear(16, 10)]
    after_relu = {"Dropout": (), "Dropout1d": (), "Dropout2d": (), "Dropout3d": (),
                  "AlphaDropout": (), "FeatureAlphaDropout": (), "BatchNorm1d": (16,)}
    if name in after_relu:
        return [nn.Linear(784, 16), nn.ReLU(), module(*after_relu[name]), nn.Linear(16, 10)]
    if name in ("Softmax", "LogSoftmax"):
        return [nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 10), module(dim=1)]
    assert name in ("Linear", "Flatten"), f"no test case for the torch handler {name}"
    return [nn.Flatten(), nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 10)]


@pytest.mark.parametrize("name", torch_importer.MODULES.names())
def test_torch_module_matches_torch(torch, digits, name):
    from torch import nn
    images, x = digits
    torch.manual_seed(4)
    layers = _torch_case(nn, name)
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
                m.weight.normal_()
    model.eval()
    net = mlp_from_torch(model, output="identity" if isinstance(layers[-1], nn.Linear) else None)
    # dropout layers compute nothing at inference (and Dropout2d/3d warn on 2-D data)
    plain = nn.Sequential(*(m for m in layers
                            if not isinstance(m, nn.modules.dropout._DropoutNd))).eval()
    out = _torch_out(plain, x.reshape(-1, 1, 28, 28) if name == "Flatten" else x.reshape(-1, 784))
    got = net.predict_proba(images)
    if name == "LogSoftmax":
        np.testing.assert_allclose(got, np.exp(out), rtol=0, atol=ATOL)
    else:
        np.testing.assert_allclose(got, out, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize("name", [n for n in torch_importer.MODULES.names() if "Dropout" in n])
def test_torch_dropouts_refused_in_training_mode(torch, name):
    from torch import nn
    model = nn.Sequential(nn.Linear(784, 8), nn.ReLU(), getattr(nn, name)(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match=rf"layer 2 \({name}\) is in training mode"):
        mlp_from_torch(model.train())
    assert mlp_from_torch(model.eval()).sizes == [784, 8, 3]


# Keras: one Sequential per layer and activation handler, checked against Keras.
def keras_input(shape):
    import keras
    return keras.Input(shape)


def _keras_case(L, name):
    if name == "InputLayer":
        return [L.InputLayer((784,)), L.Dense(16, activation="relu"), L.Dense(10)]
    activations = {"Activation": lambda: L.Activation("tanh"),
                   "ReLU": lambda: L.ReLU(negative_slope=0.1),
                   "LeakyReLU": lambda: L.LeakyReLU(0.3)}
    if name in activations:
        return [keras_input((784,)), L.Dense(16), activations[name](), L.Dense(10)]
    made = {"Dense": lambda: L.Dense(16),
            "BatchNormalization": lambda: L.BatchNormalization(epsilon=1e-2),
            "Dropout": lambda: L.Dropout(0.5), "AlphaDropout": lambda: L.AlphaDropout(0.5),
            "GaussianDropout": lambda: L.GaussianDropout(0.5),
            "GaussianNoise": lambda: L.GaussianNoise(1.0),
            "ActivityRegularization": lambda: L.ActivityRegularization(l1=0.1)}
    if name in made:
        return [keras_input((784,)), L.Dense(16, activation="relu"), made[name](), L.Dense(10)]
    if name == "Softmax":
        return [keras_input((784,)), L.Dense(16, activation="relu"), L.Dense(10), L.Softmax()]
    if name == "Rescaling":
        return [keras_input((784,)), L.Rescaling(2.0, offset=-1.0), L.Dense(16),
                L.Activation("sigmoid"), L.Dense(10)]
    if name in ("Flatten", "Reshape"):
        return [keras_input((28, 28)), L.Flatten() if name == "Flatten" else L.Reshape((784,)),
                L.Dense(16, activation="tanh"), L.Dense(10)]
    raise AssertionError(f"no test case for the Keras handler {name}")


def _keras_check(keras, digits, model):
    images, x = digits
    shape = model.inputs[0].shape[1:] if model.inputs else (784,)
    out = _keras_out(model, x.reshape(-1, *shape))
    last = model.layers[-1]
    explicit = getattr(last, "activation", None)
    ends_linear = isinstance(last, keras.layers.Dense) and explicit.__name__ == "linear"
    net = mlp_from_keras(model, output="identity" if ends_linear else None)
    got = net.predict_proba(images)
    if explicit is not None and explicit.__name__ == "log_softmax":
        np.testing.assert_allclose(got, np.exp(out), rtol=0, atol=ATOL)
    else:
        np.testing.assert_allclose(got, out, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize("name", keras_importer.LAYERS.names())
def test_keras_layer_matches_keras(keras, digits, name):
    keras.utils.set_random_seed(5)
    model = keras.Sequential(_keras_case(keras.layers, name))
    if name == "InputLayer":  # Sequential.layers leaves its InputLayer out: read one anyway
        ctx = keras_importer.KerasContext(keras=keras)
        assert keras_importer.LAYERS.get(name)(keras.layers.InputLayer((784,)), ctx) == []
    if name == "BatchNormalization":
        rng = np.random.default_rng(5)
        bn = model.layers[1]
        bn.moving_mean.assign(rng.normal(size=16).astype(np.float32))
        bn.moving_variance.assign(rng.uniform(0.5, 2, size=16).astype(np.float32))
        bn.gamma.assign(rng.normal(size=16).astype(np.float32))
        bn.beta.assign(rng.normal(size=16).astype(np.float32))
    _keras_check(keras, digits, model)


@pytest.mark.parametrize("name", keras_importer.ACTIVATIONS.names())
def test_keras_activation_matches_keras(keras, digits, name):
    keras.utils.set_random_seed(6)
    L = keras.layers
    if name in ("softmax", "log_softmax"):
        layers = [L.Dense(16, activation="relu"), L.Dense(10, activation=name)]
    else:
        layers = [L.Dense(16, activation=name), L.Dense(10)]
    _keras_check(keras, digits, keras.Sequential([keras.Input((784,)), *layers]))


def test_keras_cnn_matches_on_mnist_and_colour(keras, digits):
    """A Keras CNN (channels_last, TensorFlow's "same" with stride 2, batch
    normalisation, pooling, the flatten order) computes what Keras computes."""
    images, _ = digits
    keras.utils.set_random_seed(2)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(8, 5, padding="same", activation="relu"),
        L.MaxPooling2D(2), L.Conv2D(6, 4, strides=2, padding="same"), L.BatchNormalization(),
        L.LeakyReLU(0.1), L.AveragePooling2D(2), L.Flatten(), L.Dropout(0.5),
        L.Dense(16, activation="tanh"), L.Dense(10, activation="softmax")])
    rng = np.random.default_rng(1)
    bn = model.layers[3]
    bn.moving_mean.assign(rng.normal(size=6).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2, size=6).astype(np.float32))
    net = mlp_from_keras(model)
    assert isinstance(net, netdream.Network) and net.image_shape == (28, 28)
    assert net.metadata["output_added"] is False and net.leaky_slope == pytest.approx(0.1)
    x = images[:, :, :, None].astype(np.float32) / 255
    ref = _keras_out(model, x)
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    # the same layers as a functional model
    functional = mlp_from_keras(keras.Model(model.inputs, model.outputs))
    assert functional.metadata["source"] == "keras.Model (functional)"
    np.testing.assert_array_equal(functional.predict_proba(images), net.predict_proba(images))
    # colour, valid padding, logits
    model = keras.Sequential([
        keras.Input((12, 10, 3)), L.Conv2D(4, 3, activation="sigmoid"), L.MaxPooling2D(2),
        L.Flatten(), L.Dense(5)])
    net = mlp_from_keras(model)
    assert net.metadata["output_added"] is True
    colour = rng.random((7, 3, 12, 10))
    logits = _keras_out(model, colour.transpose(0, 2, 3, 1).astype(np.float32))
    np.testing.assert_allclose(net.predict_proba(colour), _softmax(logits.astype(np.float64)),
                               rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match="dilation"):
        mlp_from_keras(keras.Sequential([keras.Input((28, 28, 1)),
                                         L.Conv2D(2, 3, dilation_rate=2), L.Flatten(),
                                         L.Dense(10)]))


def test_keras_cnn_normalising_its_input_takes_it_as_the_encoding(keras, digits):
    """Rescaling and Normalization layers before the first Conv2D (a model
    that takes pixels in [0, 255], or normalises per channel) become the
    encoding, after the caller's; anywhere else they are refused."""
    images, _ = digits
    keras.utils.set_random_seed(3)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Rescaling(1 / 255, name="to_unit"),
        L.Normalization(mean=0.1307, variance=0.3081 ** 2, name="standardise"),
        L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(10, activation="softmax")])
    net = mlp_from_keras(model, encoding=Encoding(0.0, 255.0))  # the model's pixels: 0..255
    assert net.encoding.mean == pytest.approx((0.1307 * 255,))
    assert net.encoding.std == pytest.approx((0.3081 * 255,))
    assert net.metadata["input_normalisation"] == ("layer 0 'to_unit' (Rescaling), "
                                                   "layer 1 'standardise' (Normalization)")
    ref = _keras_out(model, images[:, :, :, None].astype(np.float32))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    # colour: per-channel statistics
    mean, var = [0.485, 0.456, 0.406], [0.229 ** 2, 0.224 ** 2, 0.225 ** 2]
    model = keras.Sequential([
        keras.Input((12, 10, 3)), L.Normalization(mean=mean, variance=var),
        L.Conv2D(4, 5, padding="same", activation="tanh"), L.Flatten(), L.Dense(5)])
    net = mlp_from_keras(model)
    assert net.encoding.std == pytest.approx((0.229, 0.224, 0.225))
    colour = np.random.default_rng(4).random((20, 3, 12, 10))
    logits = _keras_out(model, colour.transpose(0, 2, 3, 1).astype(np.float32))
    np.testing.assert_allclose(net.predict_proba(colour), _softmax(logits.astype(np.float64)),
                               rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match=r"layer 1 'late' \(Rescaling\) comes after the first "
                                         r"layer; netdream takes a Rescaling or Normalization only"):
        mlp_from_keras(keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(2, 3), L.Rescaling(2.0, name="late"),
                                         L.Flatten(), L.Dense(10)]))
    with pytest.raises(ValueError, match=r"layer 0 'n' \(Normalization\) inverts a normalisation"):
        mlp_from_keras(keras.Sequential([keras.Input((28, 28, 1)),
                                         L.Normalization(mean=0.5, variance=1.0, invert=True, name="n"),
                                         L.Conv2D(2, 3), L.Flatten(), L.Dense(10)]))
    with pytest.raises(ValueError, match=r"scales an input channel by -2"):
        mlp_from_keras(keras.Sequential([keras.Input((28, 28, 1)), L.Rescaling(-2.0),
                                         L.Conv2D(2, 3), L.Flatten(), L.Dense(10)]))


# ============================================================ global pooling

def test_torch_and_onnx_global_pooling(torch, onnx, digits):
    """Global (and evenly dividing adaptive) pooling, as modern small CNNs end:
    nn.AdaptiveAvgPool2d(1) / AdaptiveMaxPool2d, F.adaptive_avg_pool2d and
    x.mean((2, 3)) in a traced forward, and ONNX's GlobalAveragePool as torch
    exports it, read as pooling of the whole (square) map: the same
    predictions on MNIST; a map that is not square, or an output size that
    does not divide it, is refused by name."""
    from torch import nn
    import torch.nn.functional as F
    images, x = digits
    torch.manual_seed(4)
    conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 12, 3, padding=1), nn.ReLU())  # 12 x 14 x 14
    seq = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)).eval()
    net = mlp_from_torch(seq)
    assert any(type(l).__name__ == "AvgPool2D" and l.size == 14 for l in net.layers)
    ref = _softmax(_torch_out(seq, x.reshape(-1, 1, 28, 28)).astype(np.float64))
    np.testing.assert_allclose(net.predict_proba(images), ref, rtol=0, atol=ATOL)
    two = nn.Sequential(conv, nn.AdaptiveMaxPool2d((7, 7)), nn.Flatten(),
                        nn.Linear(12 * 49, 10)).eval()
    ref = _softmax(_torch_out(two, x[:500].reshape(-1, 1, 28, 28)).astype(np.float64))
    np.testing.assert_allclose(mlp_from_torch(two).predict_proba(images[:500]), ref, rtol=0,
                               atol=ATOL)

    class Net(nn.Module):
        def __init__(self, how):
            super().__init__()
            self.conv, self.fc, self.how = conv, nn.Linear(12, 10), how

        def forward(self, x):
            h = self.conv(x)
            if self.how == "mean":
                h = h.mean((2, 3))
            elif self.how == "amax":
                h = torch.amax(h, dim=(-2, -1))
            else:
                h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
            return self.fc(h)

    for how in ("mean", "amax", "adaptive"):
        module = Net(how).eval()
        ref = _softmax(_torch_out(module, x[:500].reshape(-1, 1, 28, 28)).astype(np.float64))
        np.testing.assert_allclose(mlp_from_torch(module).predict_proba(images[:500]), ref,
                                   rtol=0, atol=ATOL)
    exported = _torch_to_onnx(torch, seq, (1, 28, 28))
    assert "GlobalAveragePool" in [n.op_type for n in exported.graph.node]
    ref = _softmax(_onnx_run(exported, x[:500].reshape(-1, 1, 28, 28)).astype(np.float64))
    np.testing.assert_allclose(mlp_from_onnx(exported).predict_proba(images[:500]), ref, rtol=0,
                               atol=ATOL)
    with pytest.raises(ValueError, match=r"layer 1 \(AdaptiveAvgPool2d\) pools a 14x14 map to "
                                         r"5x5; netdream pools square windows"):
        mlp_from_torch(nn.Sequential(conv, nn.AdaptiveAvgPool2d(5), nn.Flatten(),
                                     nn.Linear(12 * 25, 10)))
    with pytest.raises(ValueError, match=r"pools a 7x5 map"):
        mlp_from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                     nn.Linear(2, 3)), image_shape=(9, 7))


def test_keras_global_pooling(keras, digits):
    images, _ = digits
    keras.utils.set_random_seed(5)
    L = keras.layers
    for pool in (L.GlobalAveragePooling2D(), L.GlobalMaxPooling2D()):
        model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(6, 3, activation="relu"),
                                  L.MaxPooling2D(2), L.Conv2D(8, 3, activation="relu"), pool,
                                  L.Dense(10, activation="softmax")])
        net = mlp_from_keras(model)
        ref = _keras_out(model, images[:500, :, :, None].astype(np.float32) / 255)
        np.testing.assert_allclose(net.predict_proba(images[:500]), ref, rtol=0, atol=ATOL)
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3),
                              L.GlobalAveragePooling2D(keepdims=True), L.Flatten(), L.Dense(3)])
    ref = _keras_out(model, images[:50, :, :, None].astype(np.float32) / 255)
    np.testing.assert_allclose(mlp_from_keras(model).predict_proba(images[:50]),
                               _softmax(ref.astype(np.float64)), rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match=r"pools a 26x24 map; netdream pools square windows"):
        mlp_from_keras(keras.Sequential([keras.Input((28, 26, 1)), L.Conv2D(4, 3),
                                         L.GlobalAveragePooling2D(), L.Dense(3)]))


def test_torch_sequential_cnn_reads_through_the_shared_steps(torch):
    """A convolutional nn.Sequential is read module by module into the
    importers' steps (one handler per torch.nn class) and assembled as the
    ONNX importer's networks are: a BatchNorm2d that comes first is the
    input's normalisation (the encoding's mean and std), PReLU with one
    parameter is a leaky relu, and what cannot be represented is refused by
    name."""
    from torch import nn
    from netdream.importers import torch_cnn
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    bn.running_mean.uniform_(0.2, 0.6)
    bn.running_var.uniform_(0.02, 0.1)
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.uniform_(-1, 1)
    m = nn.Sequential(bn, nn.Conv2d(3, 4, 3, padding=1), nn.PReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(4 * 16, 5)).eval()
    net = mlp_from_torch(m, image_shape=(3, 8, 8))
    assert net.metadata["input_normalisation"] == "layer 0 (BatchNorm2d)"
    assert net.layers[0].activation == "leaky_relu" and net.leaky_slope == pytest.approx(0.25)
    x = np.random.default_rng(0).random((6, 3, 8, 8))
    with torch.no_grad():
        ref = torch.softmax(m(torch.tensor(x, dtype=torch.float32)), 1).double().numpy()
    np.testing.assert_allclose(net.predict_proba(x), ref, rtol=0, atol=ATOL)
    assert "Conv2d" in torch_cnn.CONV_MODULES and "LSTM" not in torch_cnn.CONV_MODULES

    def refused(model, match, **kw):
        with pytest.raises(ValueError, match=match):
            mlp_from_torch(model.eval(), **kw)

    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(2704, 10)),
            r"layer 2 \(BatchNorm2d\) must directly follow a Conv2d \(before its activation\)")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.LeakyReLU(-0.1), nn.Flatten(),
                          nn.Linear(676, 10)),
            r"layer 2 \(LeakyReLU\) has a negative slope, so it does not commute with the max "
            r"pooling before it")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(3, 4, 3), nn.Flatten(),
                          nn.Linear(2304, 10)),
            r"layer 2 \(Conv2d\) takes 3 channels but the layer before it gives 4")
    refused(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(2704, 10)),
            r"the first Conv2d takes 3 channels; give image_shape=\(channels, height, width\)")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Linear(26, 10)),
            r"layer 2 \(Linear\) follows a feature map: add nn.Flatten\(\) before it")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(2704, 10), nn.MaxPool2d(2)),
            r"layer 3 \(MaxPool2d\) follows the Flatten: it must come before it")
    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()),
            r"the network has no linear \(dense\) layer")


def test_keras_cnn_reads_through_the_shared_steps(keras):
    """A Keras CNN is read layer by layer into the importers' steps, one
    handler per keras.layers class (the dense importer's activations shared),
    and what cannot be represented is refused by name."""
    from netdream.importers import keras_cnn
    L = keras.layers
    assert "Conv2D" in keras_cnn.CONV_LAYERS and "ReLU" in keras_cnn.CONV_LAYERS
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((10, 10, 2)), L.Conv2D(3, 3, padding="same"),
                              L.ReLU(negative_slope=0.05), L.MaxPooling2D(2), L.Flatten(),
                              L.Dense(4, activation="sigmoid")])
    net = mlp_from_keras(model)
    assert net.layers[-1].activation == "sigmoid" and net.leaky_slope == pytest.approx(0.05)
    x = np.random.default_rng(2).random((5, 2, 10, 10))
    np.testing.assert_allclose(net.predict_proba(x),
                               _keras_out(model, x.transpose(0, 2, 3, 1).astype(np.float32)),
                               rtol=0, atol=ATOL)

    def refused(layers, match):
        with pytest.raises(ValueError, match=match):
            mlp_from_keras(keras.Sequential([keras.Input((28, 28, 1)), *layers]))

    refused([L.Conv2D(4, 3, activation="relu", name="c"), L.BatchNormalization(name="bn"),
             L.Flatten(), L.Dense(10)],
            r"layer 1 'bn' \(BatchNormalization\) must directly follow a Conv2D or Dense layer "
            r"\(before its activation\)")
    refused([L.Conv2D(4, 3), L.Dense(10, name="d")],
            r"layer 1 'd' \(Dense\) follows a feature map: add a Flatten before it")
    refused([L.Rescaling(1 / 255, name="r"), L.MaxPooling2D(2), L.Conv2D(4, 3), L.Flatten(),
             L.Dense(10)], r"layer 0 'r' \(Rescaling\) must come right before a Conv2D")
    refused([L.Conv2D(4, 3), L.UnitNormalization(name="u"), L.Flatten(), L.Dense(10)],
            r"layer 1 'u' \(UnitNormalization\) is not supported in a convolutional network: "
            r"netdream reads .*Conv2D")
    refused([L.Conv2D(4, 3, activation="gelu", name="g"), L.Flatten(), L.Dense(10)],
            r"layer 0 'g' \(Conv2D\) has activation 'gelu', which netdream does not support")
