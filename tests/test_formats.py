"""netdream.formats: the .npz format and the seed's net.js."""

from __future__ import annotations

import numpy as np
import pytest

import netdream
from netdream import MLP, Encoding

from conftest import NETJS, needs_netjs, random_mlp


def _netjs_text(w12, b2, w23, b3):
    def arr2(a):
        return "[\n" + ",\n".join("    [" + ", ".join(repr(float(v)) for v in row) + "]"
                                  for row in a) + "\n]"
    return (f"// test\nvar w12 = {arr2(w12)};\nvar bias2 = [{', '.join(map(str, b2))}];\n"
            f"var w23 = {arr2(w23)};\nvar bias3 = [{', '.join(map(str, b3))}];\nfunction nn() {{}}\n")


# ----------------------------------------------------------------- the seed
@needs_netjs
def test_seed_net_scores_published_9808(seed_net, mnist_test):
    result = netdream.evaluate(seed_net, *mnist_test)
    assert (result.correct, result.total) == (9808, 10000)
    assert str(result) == "accuracy: 9808/10000 (98.08%)"
    assert result.confusion.sum() == 10000
    assert np.trace(result.confusion) == 9808



@needs_netjs
def test_seed_net_structure(seed_net):
    assert seed_net.sizes == [784, 200, 10]
    assert seed_net.activations == ["sigmoid", "softmax"]
    enc = seed_net.encoding
    assert (enc.low, enc.high, enc.ink, enc.order) == (-1.0, 1.0, "high", "column")



@needs_netjs
def test_seed_net_background_convention_matters(seed_net, mnist_test):
    """The file's comment says background is +1; that scores 32/10,000."""
    wrong = MLP(seed_net.weights, seed_net.biases, "sigmoid", "softmax",
                encoding=Encoding(-1.0, 1.0, ink="low", order="column"))
    assert netdream.evaluate(wrong, *mnist_test).correct < 100



# ---------------------------------------------------------------- file I/O
def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    net = random_mlp(rng, [784, 20, 7, 4], ["tanh", "leaky_relu"], "sigmoid",
                     Encoding(-1.0, 2.0, "low", "column"))
    net.metadata["name"] = "round trip"
    path = tmp_path / "m.npz"
    net.save(path)
    back = MLP.load(path)
    assert back.sizes == net.sizes and back.activations == net.activations
    assert back.encoding == net.encoding and back.metadata["name"] == "round trip"
    x = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    np.testing.assert_allclose(back.predict_proba(x), net.predict_proba(x), atol=1e-6)
    with np.load(path, allow_pickle=False) as data:  # no pickles inside
        assert str(data["format"]) == "netdream-mlp"



def test_npz_refuses_other_and_broken_files(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a netdream model"):
        MLP.load(p)
    good = tmp_path / "good.npz"
    random_mlp(np.random.default_rng(0), [784, 5, 3], "relu").save(good)
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        MLP.load(trunc)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a valid .npz"):
        MLP.load(junk)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "missing.npz")
    # an object array would need a pickle: refused
    obj = tmp_path / "obj.npz"
    np.savez(obj, format=np.array("netdream-mlp"), version=np.array(1),
             n_layers=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        MLP.load(obj)



def test_netjs_parser_on_generated_file(tmp_path):
    rng = np.random.default_rng(5)
    w12, b2 = rng.normal(size=(6, 784)), rng.normal(size=6)
    w23, b3 = rng.normal(size=(10, 6)), rng.normal(size=10)
    p = tmp_path / "net.js"
    p.write_text(_netjs_text(w12, b2, w23, b3))
    net = MLP.load(p)
    np.testing.assert_array_equal(net.weights[0], w12)
    np.testing.assert_array_equal(net.biases[1], b3)



@pytest.mark.parametrize("mutate, message", [
    (lambda t: t[: len(t) // 2], "not closed|no array"),
    (lambda t: t.replace("var bias3", "var bias4"), "bias3"),
    (lambda t: t.replace("0.5", "alert(1)", 1), "not a number"),
    (lambda t: t.replace("], [", "], [1, ", 1) if "], [" in t else t.replace("],\n    [", "],\n    [1, ", 1),
     "different"),
    (lambda t: t.replace("var bias2 = [", "var bias2 = [1e999, "), "inf|values"),
    (lambda t: t.replace("var w12 = [", "var w12 = [[[0]], "), "nested"),
])
def test_broken_netjs_raises(tmp_path, mutate, message):
    rng = np.random.default_rng(6)
    w12 = rng.normal(size=(3, 784)).round(3)
    w12[0, 0] = 0.5
    text = _netjs_text(w12, [0.1, 0.2, 0.3], rng.normal(size=(10, 3)), np.zeros(10))
    p = tmp_path / "bad.js"
    p.write_text(mutate(text))
    with pytest.raises(ValueError, match=message):
        MLP.load(p)



def test_binary_garbage_netjs(tmp_path):
    p = tmp_path / "net.js"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError):
        MLP.load(p)


# ------------------------------------------------- hostile and broken files
def _model_arrays():
    """The arrays of a small saved model, as np.savez takes them."""
    rng = np.random.default_rng(8)
    w = [rng.normal(size=(4, 784)), rng.normal(size=(3, 4))]
    b = [np.zeros(4), np.zeros(3)]
    return {"format": np.array("netdream-mlp"), "version": np.array(1),
            "n_layers": np.array(2), "activations": np.array(["relu", "softmax"]),
            "leaky_slope": np.array(0.01), "enc_range": np.array([0.0, 1.0]),
            "enc_ink": np.array("high"), "enc_order": np.array("row"),
            "image_shape": np.array([28, 28]), "metadata": np.array("{}"),
            "W0": w[0], "b0": b[0], "W1": w[1], "b1": b[1]}


def _bad_npz(tmp_path, **changes):
    arrays = {**_model_arrays(), **changes}
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _invalid_code_point(strings, code=0x110000):
    a = np.array(strings)
    a.view(np.uint32)[0] = code
    return a


def test_model_arrays_load(tmp_path):
    assert MLP.load(_bad_npz(tmp_path)).sizes == [784, 4, 3]


@pytest.mark.parametrize("changes, message", [
    ({"n_layers": np.array(2**62)}, r"n_layers = 4611686018427387904 must lie in 1\.\.2 \(the file "
                                    r"holds 2 weight arrays"),
    ({"n_layers": np.array(-1)}, r"n_layers = -1 must lie in 1\.\.2"),
    ({"n_layers": np.array([2, 2])}, "n_layers must be one integer"),
    ({"n_layers": np.array("2")}, "n_layers must be one integer"),
    ({"version": np.array(7)}, "has format version 7; this netdream reads up to 1"),
    ({"version": np.array(2**40)}, r"version = 1099511627776 must lie in 1\.\."),
    ({"W1": None}, r"n_layers = 2 must lie in 1\.\.1 \(the file holds 1 weight arrays"),
    ({"b1": None}, r"lacks arrays \['b1'\]"),
    ({"activations": _invalid_code_point(["relu", "softmax"])}, "invalid characters"),
    ({"activations": _invalid_code_point(["relu", "softmax"], 0xD800)}, "invalid characters"),
    ({"activations": np.array([1, 2])}, "activations must be text"),
    ({"activations": np.array(["relu", "x" * 100])}, "longer than 64 characters"),
    ({"activations": np.array(["relu", "fancy"])}, "output activation 'fancy' is not supported"),
    ({"activations": np.array(["relu"])}, "1 activations for 2 layers"),
    ({"format": _invalid_code_point(["netdream-mlp"])}, "invalid characters"),
    ({"format": np.array(7)}, "format must be text"),
    ({"enc_range": np.array([0.0, 1.0, 2.0])}, r"enc_range must have shape \(2,\)"),
    ({"enc_range": np.array([1.0, 0.0])}, "encoding range must have high > low"),
    ({"enc_range": np.array([0.0, np.inf])}, "enc_range contains NaN or infinite"),
    ({"enc_ink": np.array("sideways")}, "encoding ink must be 'high' or 'low'"),
    ({"enc_order": np.array(["row", "column"])}, "enc_order must be one string"),
    ({"leaky_slope": np.array(np.nan)}, "leaky_slope contains NaN"),
    ({"leaky_slope": np.array([0.1, 0.2])}, r"leaky_slope must have shape \(\)"),
    ({"metadata": np.array("{not json")}, "metadata is not valid JSON"),
    ({"metadata": np.array("[1, 2]")}, "metadata must be a JSON object, got list"),
    ({"metadata": np.array("[" * 100000 + "]" * 100000)}, "metadata is not valid JSON"),
    ({"W0": np.ones((4, 784), dtype=np.complex128)}, "W0 must hold real numbers"),
    ({"W0": np.full((4, 784), "x")}, "W0 must hold real numbers"),
    ({"W0": np.ones((4, 100))}, r"weights\[0\] has 100 inputs but must take 784 pixels"),
    ({"W0": np.ones(4)}, r"weights\[0\] must be 2-D"),
    ({"b1": np.ones((3, 3))}, r"biases\[1\] must have shape \(3,\)"),
    ({"W1": np.full((3, 4), np.nan)}, "W1 contains NaN"),
])
def test_npz_field_errors_name_the_file(tmp_path, changes, message):
    path = _bad_npz(tmp_path, **changes)
    with pytest.raises(ValueError, match=r"bad\.npz'.*" + message):
        MLP.load(path)


@pytest.mark.parametrize("shape, message", [
    ([], r"image_shape must be a pair \(height, width\) or \(channels, height, width\), got \(\)"),
    ([-28, -28], r"image_shape sizes must lie in 1\.\.4096 .*got \(-28, -28\)"),
    ([0, 784], r"image_shape sizes must lie in 1\.\.4096"),
    ([28, 28, 1], r"image_shape of an MLP must be a pair"),
    ([2**40, 2**40], r"image_shape sizes must lie in 1\.\.4096"),
    ([2**63 + 5, 1], r"image_shape sizes must lie in 1\.\.4096"),
    ([[28, 28]], r"image_shape must be a list of sizes, got shape \(1, 2\)"),
    ([28.0, 28.0], r"image_shape must hold integers"),
])
def test_npz_image_shape_is_checked(tmp_path, shape, message):
    dtype = np.uint64 if shape and np.max(shape) >= 2**63 else None if shape else int
    path = _bad_npz(tmp_path, image_shape=np.array(shape, dtype=dtype))
    with pytest.raises(ValueError, match=r"bad\.npz'.*" + message):
        MLP.load(path)


def _npy_member(shape, payload=b"", dtype="<f8"):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + payload


def test_npz_declared_array_size_is_bounded_by_the_member(tmp_path):
    """A member whose header declares 8 TB is refused before anything is allocated."""
    import zipfile
    path = _bad_npz(tmp_path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("W2.npy", _npy_member((2**40,), bytes(64)))
        z.writestr("b2.npy", _npy_member((3,), bytes(24)))
    with np.load(path) as data:  # rewrite with three layers, the third one lying
        arrays = {k: data[k] for k in data.files if k not in ("W2", "b2")}
    arrays["n_layers"] = np.array(3)
    arrays["activations"] = np.array(["relu", "relu", "softmax"])
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("W2.npy", _npy_member((2**40,), bytes(64)))
        z.writestr("b2.npy", _npy_member((3,), bytes(24)))
    with pytest.raises(ValueError, match=r"bad\.npz'.*W2 declares shape \(1099511627776,\) of "
                                         r"float64 \(8,796,093,022,208 bytes\) but its member "
                                         r"holds 192 bytes"):
        MLP.load(path)


@pytest.mark.parametrize("damage, message", [
    (lambda raw, at: raw[:at] + raw[at:].replace(b"'fortran_order': ",
                                                 b"'fortran_order'\xc6\xd6", 1),
     r"W0 is not a readable array \(ValueError: Cannot parse header"),
    (lambda raw, at: raw[:at] + b"XXXXXX" + raw[at + 6:], r"W0 is not a readable array"),
])
def test_npz_damaged_member_names_file_and_array(tmp_path, damage, message):
    """Found by fuzzing: a damaged .npy header inside the zip (stored, not
    compressed, so no CRC is checked before the header is parsed)."""
    path = _bad_npz(tmp_path)
    raw = path.read_bytes()
    at = raw.index(b"\x93NUMPY", raw.index(b"W0.npy"))
    path.write_bytes(damage(raw, at))
    with pytest.raises(ValueError, match=r"bad\.npz': " + message):
        MLP.load(path)


def test_npz_other_npy_versions_are_refused(tmp_path):
    import io
    import zipfile
    path = _bad_npz(tmp_path, b1=None)
    member = io.BytesIO()
    np.lib.format.write_array(member, np.zeros(3), version=(3, 0))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("b1.npy", member.getvalue())
    with pytest.raises(ValueError, match=r"bad\.npz': b1 is in \.npy version \(3, 0\), which "
                                         "netdream does not read"):
        MLP.load(path)


def test_npz_total_size_is_bounded(tmp_path, monkeypatch):
    from netdream import formats
    path = _bad_npz(tmp_path)
    monkeypatch.setattr(formats, "MAX_MODEL_BYTES", 1000)
    with pytest.raises(ValueError, match=r"bad\.npz' declares [\d,]+ bytes of arrays, more than "
                                         r"a model may hold \(1,000\)"):
        MLP.load(path)


def test_npz_object_member_is_refused(tmp_path):
    path = _bad_npz(tmp_path, metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"bad\.npz'.*metadata holds Python objects"):
        MLP.load(path)


def test_npz_single_array_file_is_refused(tmp_path):
    path = tmp_path / "single.npz"
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(path)
    with pytest.raises(ValueError, match=r"single\.npz' is not a valid \.npz file"):
        MLP.load(path)


# ------------------------------------------------ files that are no model
ACCEPTED = r"netdream reads a \.npz written by netdream \(MLP\.save\) or the seed demo's net\.js"


def test_text_file_is_not_a_model(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nabout my network\n")
    with pytest.raises(ValueError, match=r"notes\.txt' is not a netdream model \(a text file "
                                         r"without net\.js's arrays .*\); " + ACCEPTED +
                                         ".*MLP.from_torch, MLP.from_keras, MLP.from_onnx"):
        MLP.load(path)


@pytest.mark.parametrize("name, importer", [("model.onnx", r"MLP\.from_onnx\(path\)"),
                                            ("model.pt", r"MLP\.from_torch")])
def test_foreign_model_file_names_its_importer(tmp_path, name, importer):
    path = tmp_path / name
    path.write_bytes(b"\x08\x07\x12\x04\xff\xfe\x00 binary protobuf")
    with pytest.raises(ValueError, match=r"is not a netdream model \(a binary file, not a "
                                         r"\.npz\); " + ACCEPTED + ".*for this file try " +
                                         importer):
        MLP.load(path)


def test_other_zip_is_not_a_model(tmp_path):
    """A Keras 3 file is a zip too."""
    import zipfile
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"model\.keras' is not a netdream model \(a \.npz "
                                         r"without format='netdream-mlp'\); " + ACCEPTED +
                                         r".*for this file try MLP\.from_keras"):
        MLP.load(path)


def test_oversized_netjs_is_refused(tmp_path, monkeypatch):
    from netdream import formats
    monkeypatch.setattr(formats, "MAX_NETJS_BYTES", 100)
    path = tmp_path / "net.js"
    path.write_text("var w12 = [" + "1, " * 100 + "];")
    with pytest.raises(ValueError, match=r"net\.js' is larger than 100 bytes"):
        MLP.load(path)


# ------------------------------------------- the net.js parser is linear
@pytest.mark.parametrize("digits", [40_000, 3_000_000])
def test_netjs_long_bad_token_fails_fast(tmp_path, digits):
    """One long bad token took time quadratic in its length (38 s for 40,000
    digits); the bound here is generous, the parser takes milliseconds."""
    import time
    rng = np.random.default_rng(6)
    text = _netjs_text(rng.normal(size=(3, 784)), [0.1, 0.2, 0.3], rng.normal(size=(10, 3)),
                       np.zeros(10))
    p = tmp_path / "bad.js"
    p.write_text(text.replace("var w12 = [\n    [", "var w12 = [\n    [" + "1" * digits + "x, ", 1))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"w12 row 0 has a value that is not a number: '1111"):
        MLP.load(p)
    assert time.perf_counter() - start < 2.0


def test_netjs_of_real_size_parses_fast(tmp_path):
    """A 784-200-10 file like the seed's (about 3 MB here)."""
    import time
    rng = np.random.default_rng(7)
    w12, b2 = rng.normal(size=(200, 784)), rng.normal(size=200)
    w23, b3 = rng.normal(size=(10, 200)), rng.normal(size=10)
    p = tmp_path / "net.js"
    p.write_text(_netjs_text(w12, b2, w23, b3))
    assert p.stat().st_size > 2_500_000
    start = time.perf_counter()
    net = MLP.load(p)
    assert time.perf_counter() - start < 3.0
    np.testing.assert_array_equal(net.weights[0], w12)


def test_cli_says_a_text_file_is_not_a_model(tmp_path, capsys):
    from netdream.cli import main
    notes = tmp_path / "notes.txt"
    notes.write_text("my network's notes\n")
    image = tmp_path / "digit.png"
    from PIL import Image
    Image.new("L", (28, 28), 0).save(image)
    assert main(["classify", str(image), "--model", str(notes)]) == 1
    err = capsys.readouterr().err
    assert "notes.txt' is not a netdream model" in err and "net.js" in err
    assert "no array" not in err
