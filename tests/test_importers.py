"""Importing networks trained in PyTorch, Keras or saved as ONNX: the imported
MLP reproduces the framework's own predictions on real digits, and layers
netdream cannot represent are refused by name.

Every framework is optional and imported inside the tests that use it, so
collecting this file costs nothing and a missing framework skips its tests.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from netdream import Encoding
from netdream.importers import from_keras as mlp_from_keras
from netdream.importers import from_onnx as mlp_from_onnx
from netdream.importers import from_sklearn
from netdream.importers import from_torch as mlp_from_torch

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


def test_torch_sequential_matches_onmnist(torch, digits, mnist_test):
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

    refused(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(2704, 10)).eval(),
            r"layer 0 \(Conv2d\) is not supported: netdream imports dense networks only")
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


def test_keras_sequential_matches_onmnist(keras, digits):
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

    refused([L.Reshape((28, 28, 1)), L.Conv2D(4, 3, name="conv"), L.Flatten(), L.Dense(10)],
            r"layer 0 '.*' \(Reshape\) reshapes to \(28, 28, 1\)")
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3, name="conv"),
                              L.Flatten(), L.Dense(10)])
    with pytest.raises(ValueError, match=r"layer 0 'conv' \(Conv2D\) is not supported"):
        mlp_from_keras(model)
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
    inp = keras.Input((784,))
    functional = keras.Model(inp, L.Dense(10)(inp))
    with pytest.raises(TypeError, match=r"model must be a keras.Sequential"):
        mlp_from_keras(functional)


# ====================================================================== onnx
@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx")


def _onnx_model(onnx, nodes, inits, in_shape, opset=17, out_name="y"):
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "K"])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), name=k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _onnx_run(model, x):
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def test_onnx_gemm_chain_matches_onmnist(onnx, digits, tmp_path):
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

    refused([helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["y"])],
            r"node 0 'conv' \(Conv\) is not supported: netdream imports dense networks only",
            {"K": K}, ("N", 1, 28, 28))
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
