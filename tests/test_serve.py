"""netdream serve: the API and WebSocket through Starlette's test client,
and the page in a real (headless) Chromium."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="netdream serve needs starlette (the serve extra)")
pytest.importorskip("uvicorn", reason="netdream serve needs uvicorn (the serve extra)")
pytest.importorskip("wsproto", reason="netdream serve needs wsproto (the serve extra)")
try:
    import httpx2  # noqa: F401  (what Starlette's test client prefers)
except ImportError:
    pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from PIL import Image, ImageDraw  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import netdream  # noqa: E402
from netdream.serve import Limits, create_app  # noqa: E402
from netdream.serve.app import LOOPBACK_HOSTS  # noqa: E402

from conftest import stuck_at_blank_mlp  # noqa: E402

ORIGIN = {"origin": "http://testserver"}


def png_url(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def seven(size=280) -> str:
    """A 7 drawn as the page draws: white strokes on black."""
    im = Image.new("L", (size, size), 0)
    s = size / 280
    ImageDraw.Draw(im).line([(60 * s, 60 * s), (220 * s, 60 * s), (120 * s, 250 * s)], fill=255,
                            width=int(20 * s), joint="curve")
    return png_url(im)


@pytest.fixture(scope="module")
def app(default_net):
    return create_app([("default", default_net)], hosts=LOOPBACK_HOSTS + ("testserver",),
                      limits=Limits(steps=20_000_000, runs=64, candidates=100_000_000,
                                    population=500, generations=1000, jobs=2), threads=1)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c
    deadline = time.monotonic() + 5
    while app.state.netdream.running and time.monotonic() < deadline:
        time.sleep(0.02)


def receive_until(ws, predicate, timeout=10.0):
    """Messages until one satisfies predicate; returns (that one, all)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = json.loads(ws.receive_text())
        seen.append(m)
        if predicate(m):
            return m, seen
    raise AssertionError(f"no matching message in {timeout} s; got {seen[-3:]}")


def is_state(*states):
    return lambda m: m["type"] == "state" and m["state"] in states


def error_of(ws, msg) -> str:
    ws.send_text(msg if isinstance(msg, str) else json.dumps(msg))
    m, _ = receive_until(ws, lambda m: m["type"] == "error")
    return m["message"]


# --------------------------------------------------------------------------- HTTP

def test_page_is_served_with_a_strict_policy(client):
    r = client.get("/")
    assert r.status_code == 200 and "<canvas id=\"draw\"" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http" not in r.text.replace("http-equiv", "")  # nothing from elsewhere: works offline
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_info_names_models_without_paths(client):
    info = client.get("/api/info").json()
    assert [m["name"] for m in info["models"]] == ["default"]
    assert info["models"][0]["classes"] == 10
    assert "/" not in json.dumps(info["models"])
    assert info["limits"]["jobs"] == 2


def test_predict_reads_a_drawn_seven(client):
    r = client.post("/api/predict", json={"model": 0, "drawing": seven()})
    assert r.status_code == 200
    d = r.json()
    assert int(np.argmax(d["probs"])) == 7 and abs(sum(d["probs"]) - 1) < 1e-4
    pixels = np.frombuffer(base64.b64decode(d["image"]), np.uint8)
    assert pixels.shape == (784,) and pixels.max() == 255  # prepared as MNIST: 255 at the top


def test_predict_uses_the_classify_code_path(client, tmp_path):
    from netdream.photo import load_image
    url = seven()
    (tmp_path / "seven.png").write_bytes(base64.b64decode(url.split(",", 1)[1]))
    d = client.post("/api/predict", json={"drawing": url}).json()
    served = np.frombuffer(base64.b64decode(d["image"]), np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(served, load_image(tmp_path / "seven.png"))


def test_predict_refuses_bad_requests(client):
    assert client.post("/api/predict", content=b"{}").status_code == 415
    r = client.post("/api/predict", json={"drawing": "data:text/html;base64,AAAA"})
    assert r.status_code == 400 and "PNG data URL" in r.json()["error"]
    r = client.post("/api/predict", json={"drawing": seven(), "model": 3})
    assert r.status_code == 400 and "model must lie in 0..0" in r.json()["error"]
    r = client.post("/api/predict", json={"drawing": seven()},
                    headers={"origin": "http://evil.example"})
    assert r.status_code == 403


def test_unexpected_host_is_refused(client):
    """DNS rebinding: a page on another name that resolves here gets nothing."""
    assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 400


def test_hosts_when_listening_everywhere(default_net):
    """--host 0.0.0.0: any address of this machine, never another name."""
    app = create_app([("default", default_net)], hosts=LOOPBACK_HOSTS + ("*",))
    with TestClient(app, base_url="http://192.168.1.5:8000") as c:
        assert c.get("/api/info").status_code == 200
        assert c.get("/api/info", headers={"host": "[::1]:8000"}).status_code == 200
        assert c.get("/api/info", headers={"host": "evil.example:8000"}).status_code == 400
        with c.websocket_connect("/ws", headers={"host": "192.168.1.5:8000",
                                                 "origin": "http://192.168.1.5:8000"}) as ws:
            ws.send_text(json.dumps({"type": "predict", "drawing": seven()}))
            assert json.loads(ws.receive_text())["type"] == "prediction"


def test_models_are_picked_by_index(default_net):
    import netdream
    other = netdream.MLP([w * 0 for w in default_net.weights], [b * 0 for b in default_net.biases])
    app = create_app([("default", default_net), ("flat", other)], hosts=("testserver",))
    with TestClient(app) as c:
        assert [m["name"] for m in c.get("/api/info").json()["models"]] == ["default", "flat"]
        probs = c.post("/api/predict", json={"model": 1, "drawing": seven()}).json()["probs"]
        np.testing.assert_allclose(probs, 0.1, atol=1e-6)  # all-zero weights: uniform
        with c.websocket_connect("/ws", headers=ORIGIN) as ws:
            assert "model must lie in 0..1, got 2" in error_of(
                ws, {"type": "dream", "target": 3, "model": 2})


def test_looking_inside(client):
    causal = client.get("/api/models/0/causal").json()
    assert len(causal["maps"]) == 10 and causal["maps"][0].startswith("data:image/png;base64,")
    fields = client.get("/api/models/0/fields").json()
    assert len(fields["units"]) == len(fields["maps"]) > 0
    r = client.get("/api/models/0/misclassified")
    assert r.status_code == 400 and "--data" in r.json()["error"]
    assert client.get("/api/models/5/causal").status_code == 400


def test_misclassified_gallery_with_a_test_set(default_net):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 50)
    app = create_app([("default", default_net)], data=(images, labels),
                     hosts=("testserver",))
    with TestClient(app) as c:
        d = c.get("/api/models/0/misclassified").json()
    assert d["total"] == 50 and d["wrong"] == len(d["images"]) > 0
    assert all(t != p for t, p in zip(d["true"], d["predicted"]))


# --------------------------------------------------------------------------- WebSocket

def test_websocket_from_another_origin_is_refused(client):
    for headers in ({"origin": "http://evil.example"}, {}):
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/ws", headers=headers) as ws:
                ws.receive_text()


def test_predict_over_websocket(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "predict", "drawing": seven(), "id": 4}))
        m, _ = receive_until(ws, lambda m: m["type"] == "prediction")
        assert m["id"] == 4 and int(np.argmax(m["probs"])) == 7
        assert "maps" not in m  # an MLP has no feature maps
        blank = png_url(Image.new("L", (280, 280), 0))
        ws.send_text(json.dumps({"type": "predict", "drawing": blank}))
        m, _ = receive_until(ws, lambda m: m["type"] == "prediction")
        assert m["blank"] is True


def test_dream_streams_frames_to_done(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 3_000_000, "seed": 1}))
        done, seen = receive_until(ws, is_state("done", "failed"))
        assert done["state"] == "done"
        frames = [m for m in seen if m["type"] == "frame"]
        assert frames and frames[-1]["final"] and frames[-1]["candidates"] == 3_000_000
        assert frames[-1]["confidence"][0] > 0.9
        counts = [f["candidates"] for f in frames]
        assert counts == sorted(counts)
        ws.send_text(json.dumps({"type": "gif"}))
        gif, _ = receive_until(ws, lambda m: m["type"] == "gif")
        assert base64.b64decode(gif["data"])[:4] == b"GIF8"


def test_dream_from_a_drawing_side_by_side_and_averaged(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 20_000, "runs": 3,
                                 "start": "drawing", "drawing": seven(), "smoothness": 0.1}))
        _, seen = receive_until(ws, is_state("done", "failed"))
        last = [m for m in seen if m["type"] == "frame"][-1]
        assert len(last["images"]) == 3 == len(last["confidence"])
        ws.send_text(json.dumps({"type": "dream", "target": 1, "steps": 20_000, "runs": 20,
                                 "average": True, "start": "noise"}))
        _, seen = receive_until(ws, is_state("done", "failed"))
        last = [m for m in seen if m["type"] == "frame"][-1]
        assert len(last["images"]) == 8 and last["progress"] == 1.0  # the average + 7 runs
        assert last["candidates"] == 20 * 20_000


def test_a_dream_stuck_at_the_blank_image_says_what_to_try():
    """Class "on" fires only past 50 pixels' worth of ink, so no one-pixel
    change of a blank image raises it: after a while the page hears so
    (once), with the starts to try; from grey it gets there, and no note.
    "off" is what the network reads a blank image as already: that dream
    stays blank, and the page hears why."""
    net = stuck_at_blank_mlp()
    app = create_app([("on-off", net)], hosts=("testserver",), threads=1)
    with TestClient(app) as c, c.websocket_connect("/ws", headers=ORIGIN) as ws:
        for start, noted in (("blank", 1), ("grey", 0)):
            ws.send_text(json.dumps({"type": "dream", "target": 0, "steps": 60_000,
                                     "start": start}))
            _, seen = receive_until(ws, is_state("done", "failed"))
            notes = [m["message"] for m in seen if m["type"] == "note"]
            assert len(notes) == noted
            assert notes == ["stuck near the blank image: no one-pixel change gets further. "
                             "Try Start: grey or noise."][:noted]
            last = [m for m in seen if m["type"] == "frame"][-1]
            assert (last["confidence"][0] < 0.05) == (start == "blank")
        # "off": the network reads a blank image as off (95%), and its dream
        # stays blank; the page says why, and what to try
        p0 = net.predict_proba(np.zeros((28, 28)))[1]
        ws.send_text(json.dumps({"type": "dream", "target": 1, "steps": 30_000}))
        _, seen = receive_until(ws, is_state("done", "failed"))
        assert [m["message"] for m in seen if m["type"] == "note"] == [
            f"the model reads a blank image as off already ({np.floor(p0 * 1e4) / 100:.2f}%), so "
            "the dream has little to gain from ink and stays (nearly) blank. Try Start: grey or "
            "noise."]
        last = [m for m in seen if m["type"] == "frame"][-1]
        assert last["confidence"][0] == pytest.approx(p0, abs=1e-4)


def test_dream_in_slow_motion(client):
    """pace: candidates a second per run, for watching a dream take shape."""
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        t0 = time.monotonic()
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 3000, "pace": 10_000}))
        done, seen = receive_until(ws, is_state("done", "failed"))
        took = time.monotonic() - t0
        frames = [m for m in seen if m["type"] == "frame"]
        assert done["state"] == "done" and 0.25 < took < 3.0
        assert len(frames) >= 5 and frames[-1]["candidates"] == 3000
        assert all(f["candidates"] % 333 == 0 for f in frames[:-1])  # 1/30 s of 10,000/s
        assert frames[-1]["rate"] < 15_000


def test_dream_of_a_hidden_unit(client, default_net):
    units = default_net.weights[0].shape[0]
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": {"hidden": [0, 5]}, "steps": 20_000}))
        m, _ = receive_until(ws, is_state("done", "failed"))
        assert m["state"] == "done"
        assert f"hidden unit must be <= {units - 1}" in error_of(
            ws, {"type": "dream", "target": {"hidden": [0, units]}})


def test_pause_resume_stop(client, app):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 20_000_000}))
        receive_until(ws, lambda m: m["type"] == "frame")
        ws.send_text(json.dumps({"type": "pause"}))
        paused, _ = receive_until(ws, is_state("paused"))
        time.sleep(0.3)  # nothing runs while paused
        ws.send_text(json.dumps({"type": "resume"}))
        _, seen = receive_until(ws, is_state("running"))
        assert not [m for m in seen if m["type"] == "frame" and
                    m["candidates"] > paused["candidates"]]
        frame, _ = receive_until(ws, lambda m: m["type"] == "frame"
                                 and m["candidates"] > paused["candidates"])
        ws.send_text(json.dumps({"type": "stop"}))
        receive_until(ws, is_state("stopped"))
        assert "no search is running" in error_of(ws, {"type": "pause"})
    assert app.state.netdream.running == 0


def test_closing_the_page_stops_its_search(client, app):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 20_000_000, "runs": 5}))
        receive_until(ws, lambda m: m["type"] == "frame")
        assert app.state.netdream.running == 1
    deadline = time.monotonic() + 2.0
    while app.state.netdream.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app.state.netdream.running == 0  # 5 x 20M candidates would take many seconds


def test_paused_page_closing_stops_its_search(client, app):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 20_000_000}))
        receive_until(ws, lambda m: m["type"] == "frame")
        ws.send_text(json.dumps({"type": "pause"}))
        receive_until(ws, is_state("paused"))
    deadline = time.monotonic() + 2.0
    while app.state.netdream.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app.state.netdream.running == 0


def test_a_search_paused_too_long_is_stopped(default_net):
    app = create_app([("default", default_net)], hosts=("testserver",),
                     limits=Limits(paused_seconds=0.2))
    with TestClient(app) as c, c.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 10_000_000}))
        receive_until(ws, lambda m: m["type"] == "frame")
        ws.send_text(json.dumps({"type": "pause"}))
        m, _ = receive_until(ws, lambda m: m["type"] == "error")
        assert "paused for over 0.2 s" in m["message"]
        receive_until(ws, is_state("stopped"))
        assert app.state.netdream.running == 0


def test_fooling_images_of_every_class(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "evolve", "target": "all", "population": 50,
                                 "steps": 40}))
        done, seen = receive_until(ws, is_state("done", "failed"))
        assert done["state"] == "done"
        last = [m for m in seen if m["type"] == "frame"][-1]
        assert len(last["images"]) == 10 and last["generation"] == 40


def test_malformed_messages_get_clear_errors(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        assert error_of(ws, "not json") == "message is not valid JSON"
        assert "JSON object" in error_of(ws, "[1, 2]")
        assert "type must be one of" in error_of(ws, {"type": "format_disk"})
        assert "target must be <= 9" in error_of(ws, {"type": "dream", "target": 10})
        assert "target must be an integer" in error_of(ws, {"type": "dream", "target": "3"})
        assert "steps must be an integer" in error_of(ws, {"type": "dream", "target": 3,
                                                           "steps": 1.5})
        assert "objective must be one of" in error_of(ws, {"type": "dream", "target": 3,
                                                           "objective": "rm"})
        assert "step_size" in error_of(ws, '{"type": "dream", "target": 3, "step_size": NaN}')
        assert "model must be the index" in error_of(ws, {"type": "dream", "target": 3,
                                                          "model": "/etc/passwd"})
        assert "PNG data URL" in error_of(ws, {"type": "dream", "target": 3,
                                               "start": "drawing"})
        ws.send_bytes(b"\x00\x01")
        m, _ = receive_until(ws, lambda m: m["type"] == "error")
        assert "JSON text" in m["message"]
        # still serving
        ws.send_text(json.dumps({"type": "predict", "drawing": seven()}))
        receive_until(ws, lambda m: m["type"] == "prediction")


def test_oversize_drawings_are_refused(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        big = png_url(Image.new("L", (2000, 2000), 0))  # a small file, too many pixels
        assert "more than the" in error_of(ws, {"type": "predict", "drawing": big})
        huge = "data:image/png;base64," + "A" * 1_400_000
        assert "larger than" in error_of(ws, {"type": "predict", "drawing": huge})
        assert "message is larger" in error_of(ws, "x" * 1_600_000)
        assert "not valid base64" in error_of(ws, {"type": "predict",
                                                   "drawing": "data:image/png;base64,@@"})
        assert "not a readable image" in error_of(
            ws, {"type": "predict", "drawing": "data:image/png;base64,AAAA"})


def test_requests_over_the_caps(client):
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        assert "runs must be <= 64" in error_of(ws, {"type": "dream", "target": 3, "runs": 65})
        assert "steps must be <= 20,000,000" in error_of(
            ws, {"type": "dream", "target": 3, "steps": 20_000_001})
        assert "runs x steps must be <= 100,000,000" in error_of(
            ws, {"type": "dream", "target": 3, "runs": 64, "steps": 2_000_000})
        assert "population must be <= 500" in error_of(
            ws, {"type": "evolve", "target": 3, "population": 501})
        assert "steps must be <= 1,000" in error_of(
            ws, {"type": "evolve", "target": "all", "steps": 1001})


def test_concurrent_searches_are_capped(client, app):
    pages = [client.websocket_connect("/ws", headers=ORIGIN) for _ in range(3)]
    try:
        wss = [p.__enter__() for p in pages]
        for ws in wss[:2]:
            ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": 20_000_000}))
            receive_until(ws, lambda m: m["type"] == "frame")
        assert "server is busy" in error_of(wss[2], {"type": "dream", "target": 3})
        # a page's new search replaces its own: no slot needed
        wss[0].send_text(json.dumps({"type": "dream", "target": 4, "steps": 20_000_000}))
        receive_until(wss[0], lambda m: m["type"] == "started")
    finally:
        for p in pages:
            p.__exit__(None, None, None)


# --------------------------------------------------------------------------- CLI

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_warns_on_every_interface_and_names_no_paths(monkeypatch, capsys, tmp_path,
                                                          default_net):
    import netdream.serve
    from netdream.cli import main
    calls = []
    monkeypatch.setattr(netdream.serve, "serve", lambda models, **kw: calls.append((models, kw)))
    model = tmp_path / "mine.npz"
    default_net.save(model)
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port()),
                 "--model", str(model)]) == 0
    assert "warning: --host 0.0.0.0" in capsys.readouterr().err
    models, kw = calls[0]
    assert [name for name, _ in models] == ["default", "mine"] and kw["host"] == "0.0.0.0"


def test_cli_without_the_serve_extra_is_one_line(monkeypatch, capsys):
    from netdream.cli import main
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    assert main(["serve", "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err == ("netdream serve: error: netdream serve needs the serve extra (uvicorn is "
                   "missing): pip install \"netdream[serve]\"\n")


def test_cli_busy_port_is_one_line(capsys):
    from netdream.cli import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["serve", "--port", str(s.getsockname()[1])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netdream serve: error: --host 127.0.0.1 --port") and \
        err.count("\n") == 1


# --------------------------------------------------------------------------- the browser

@pytest.fixture
def server():
    """`netdream serve` on a free loopback port, in its own process."""
    with _serve() as url:
        yield url


@contextlib.contextmanager
def _serve(*args):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "netdream", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"netdream serve exited: {proc.stdout.read()}")
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def wait_for(driver, script, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def draw_seven(driver):
    from selenium.webdriver.common.action_chains import ActionChains
    pad = driver.find_element("id", "draw")
    size = pad.size["width"]
    s = size / 280

    def at(x, y):  # offsets from the canvas centre
        return int((x - 140) * s), int((y - 140) * s)

    chain = ActionChains(driver, duration=10)
    chain.move_to_element_with_offset(pad, *at(60, 60)).click_and_hold()
    pts = [(60 + 16 * i, 60) for i in range(1, 11)] + \
          [(220 - 10 * i, 60 + 19 * i) for i in range(1, 11)]
    prev = at(60, 60)
    for p in pts:
        cur = at(*p)
        chain.move_by_offset(cur[0] - prev[0], cur[1] - prev[1])
        prev = cur
    chain.release().perform()


def test_the_page_in_a_real_browser(server, browser, tmp_path):
    driver = browser(1280, 800)
    driver.get(server)
    wait_for(driver, "return document.getElementById('status').dataset.state === 'open'")
    draw_seven(driver)
    # (predictions of the stroke so far arrive while it is drawn: a 7 half drawn may read
    # as a 4, so the test waits for the drawing's final prediction, not the first)
    try:
        wait_for(driver, "return document.getElementById('pred-digit').textContent === '7'")
    except AssertionError:
        raise AssertionError(driver.execute_script(
            "return document.getElementById('pred-digit').textContent + ' / ' + "
            "document.getElementById('bars').innerText")) from None
    # a dream of 3: frames change and the confidence rises above 0.9
    driver.find_element("css selector", "#classes button[data-k='3']").click()
    driver.find_element("id", "run").click()
    wait_for(driver, "return +document.getElementById('stage').dataset.frames >= 1")
    first = driver.execute_script("return document.getElementById('dream-0').toDataURL()")
    wait_for(driver, "return document.getElementById('dream-0').toDataURL() !== arguments[0]"
             .replace("arguments[0]", json.dumps(first)), timeout=5)
    wait_for(driver, "return +document.getElementById('dream-conf').dataset.value > 0.9",
             timeout=5)
    wait_for(driver, "return document.getElementById('dream-state').textContent === 'done'",
             timeout=30)
    driver.save_screenshot(str(tmp_path / "laptop.png"))
    # smoothness on, a longer dream, paused while it runs
    driver.find_element("id", "smooth").click()
    assert driver.execute_script("return document.getElementById('smooth').checked")
    driver.execute_script("document.getElementById('steps').value = 10000000")
    driver.find_element("id", "run").click()
    wait_for(driver, "return !document.getElementById('pause').disabled && "
                     "document.getElementById('dream-state').textContent === 'running'")
    driver.find_element("id", "pause").click()
    wait_for(driver, "return document.getElementById('dream-state').textContent === 'paused'")
    assert driver.find_element("id", "pause").text == "Resume"
    assert not driver.find_element("id", "error").is_displayed()
    driver.save_screenshot(str(tmp_path / "laptop-paused.png"))
    driver.find_element("id", "reset").click()

    phone = browser(390, 844, mobile=True)
    phone.get(server)
    wait_for(phone, "return document.getElementById('status').dataset.state === 'open'")
    # (a short dream: this part is about the layout, and the sanitizer job's
    # core runs several times slower)
    phone.execute_script("document.getElementById('steps').value = 200000")
    phone.find_element("id", "run").click()
    wait_for(phone, "return document.getElementById('dream-state').textContent === 'done'",
             timeout=30)
    width = phone.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    phone.save_screenshot(str(tmp_path / "phone.png"))
    print(f"screenshots in {tmp_path}")
    for d in (driver, phone):  # no script errors, no content-security-policy refusals
        severe = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe


def test_a_cnn_shows_its_filters_and_dreams_of_a_channel():
    cnn = netdream.pretrained("cnn")
    app = create_app([("cnn", cnn)], hosts=LOOPBACK_HOSTS + ("testserver",),
                     limits=Limits(steps=200_000, runs=8, candidates=10_000_000, population=100,
                                   generations=100, jobs=2), threads=1)
    with TestClient(app) as c:
        assert c.get("/api/info").json()["models"][0]["convolutional"] is True
        d = c.get("/api/models/0/fields").json()
        n = cnn.layers[0].weight.shape[0]
        assert d["kind"] == "channel" and d["units"] == list(range(min(n, 20)))
        assert all(u.startswith("data:image/png;base64,") for u in d["maps"])
        with c.websocket_connect("/ws", headers=ORIGIN) as ws:
            ws.send_text(json.dumps({"type": "dream", "target": {"channel": [0, 2]},
                                     "steps": 5000}))
            m, seen = receive_until(ws, is_state("done", "failed"))
            assert m["state"] == "done", seen[-3:]
            assert f"channel must be <= {n - 1}" in error_of(
                ws, {"type": "dream", "target": {"channel": [0, n]}})
            assert "not a convolution or pooling layer" in error_of(
                ws, {"type": "dream", "target": {"channel": [len(cnn.layers) - 1, 0]}})
            # a prediction carries where each first-layer filter fires on the drawing:
            # the maps of feature_maps on the prepared drawing, on one grey scale
            ws.send_text(json.dumps({"type": "predict", "drawing": seven()}))
            m, _ = receive_until(ws, lambda m: m["type"] == "prediction")
            shown = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(
                u.split(",", 1)[1]))).convert("L"), float) for u in m["maps"]])
            image = np.frombuffer(base64.b64decode(m["image"]), np.uint8).reshape(28, 28)
            maps = netdream.feature_maps(cnn, image).maps
            assert shown.shape == maps.shape == (n, 28, 28)
            assert shown.max() == 255 and np.corrcoef(shown.ravel(), maps.ravel())[0, 1] > 0.99
            assert np.argmax(shown.sum(axis=(1, 2))) == np.argmax(maps.sum(axis=(1, 2)))


def _colour_cnn():
    from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
    rng = np.random.default_rng(3)
    return netdream.Network(
        [Conv2D(rng.normal(0, 0.4, (6, 3, 3, 3)), rng.normal(0, 0.1, 6), padding="same"),
         MaxPool2D(2), Flatten(), Dense(rng.normal(0, 0.1, (4, 6 * 10 * 12)), np.zeros(4))],
        image_shape=(3, 20, 24), class_names=["red", "green", "blue", "grey"],
        encoding=netdream.Encoding(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3)))


def test_misclassified_gallery_of_a_colour_model():
    """A colour model with a colour test set of its own size: its mistakes
    in colour, and for a set it gets all right an empty gallery (that used
    to be a server error)."""
    net = _colour_cnn()
    x = np.random.default_rng(2).integers(0, 256, (12, 3, 20, 24)).astype(np.uint8)
    said = net.predict_proba(x).argmax(1)
    for labels, wrong in [((said + 1) % 4, 12), (said, 0)]:
        app = create_app([("colour", net)], data=(x, labels), hosts=("testserver",), threads=1)
        with TestClient(app) as c:
            r = c.get("/api/models/0/misclassified")
        assert r.status_code == 200
        d = r.json()
        assert d["total"] == 12 and d["wrong"] == wrong == len(d["images"])
        if wrong:
            im = Image.open(io.BytesIO(base64.b64decode(d["images"][0].split(",", 1)[1])))
            assert im.mode == "RGB" and im.size == (24, 20)
            assert any(np.array_equal(np.asarray(im).transpose(2, 0, 1), xi) for xi in x)


def test_a_colour_model_of_another_size_is_shown_in_colour_at_its_size():
    """A 3x20x24 colour CNN: the page learns the painted shape, a dream's and
    a genetic search's frames carry RGB triples of that size (the page used
    to paint the first 28x28 bytes, grey), its filters come in colour, and
    the MNIST test set is refused for its misclassified gallery."""
    net = _colour_cnn()
    x, y = np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.int64)
    app = create_app([("colour", net)], data=(x, y), hosts=LOOPBACK_HOSTS + ("testserver",),
                     limits=Limits(steps=50_000, runs=8, candidates=10_000_000, population=50,
                                   generations=20, jobs=2), threads=1)
    with TestClient(app) as c:
        info = c.get("/api/info").json()["models"][0]
        assert info["painted"] == [3, 20, 24] and info["class_names"][2] == "blue"
        d = c.get("/api/models/0/fields").json()
        assert d["colour"] is True and len(d["maps"]) == 6
        im = Image.open(io.BytesIO(base64.b64decode(d["maps"][0].split(",", 1)[1])))
        assert im.mode == "RGB" and im.size == (3, 3)
        rgb = np.asarray(im, float)
        assert np.abs(rgb[..., 0] - rgb[..., 1]).max() > 0  # colours, not greys
        r = c.get("/api/models/0/misclassified")
        assert r.status_code == 400 and "28x28 images; this model takes 3x20x24" in r.json()["error"]
        # a drawing: read in colour and resized as it is to the model's size, as
        # netdream classify reads a photo for it; the filters fire on it
        from netdream.photo import read_picture
        im = Image.new("RGB", (280, 233))
        ImageDraw.Draw(im).ellipse([60, 40, 200, 190], fill=(255, 40, 0))
        d = c.post("/api/predict", json={"drawing": png_url(im)}).json()
        assert d["blank"] is False and d["shape"] == [3, 20, 24]
        seen = np.frombuffer(base64.b64decode(d["image"]), np.uint8).reshape(20, 24, 3)
        seen = seen.transpose(2, 0, 1)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        np.testing.assert_array_equal(seen, read_picture(buf.getvalue(), (3, 20, 24)))
        assert seen[0, 10, 12] > 240 and 20 < seen[1, 10, 12] < 60 and seen[2, 10, 12] < 15
        assert seen[:, 0, 0].max() == 0  # the black background stays black
        np.testing.assert_allclose(d["probs"], net.predict_proba(seen), atol=1e-6)
        assert len(d["maps"]) == 6
        d = c.post("/api/predict", json={"drawing": png_url(Image.new("RGB", (280, 233)))})
        assert d.json() == {"type": "prediction", "blank": True}
        with c.websocket_connect("/ws", headers=ORIGIN) as ws:
            ws.send_text(json.dumps({"type": "dream", "target": 2, "steps": 3000, "start": "noise"}))
            m, seen = receive_until(ws, is_state("done", "failed"))
            frames = [f for f in seen if f["type"] == "frame"]
            assert m["state"] == "done" and frames
            f = frames[-1]
            assert f["shape"] == [3, 20, 24]
            pixels = np.frombuffer(base64.b64decode(f["images"][0]), np.uint8)
            assert pixels.size == 3 * 20 * 24
            image = pixels.reshape(20, 24, 3).transpose(2, 0, 1) / 255.0
            # the pixels are the dream's own: the model is as sure of them as the frame says
            p = net.predict_proba(image)[2]
            assert abs(p - f["confidence"][0]) < 0.02
            assert np.abs(image[0] - image[1]).max() > 0.1  # the channels differ: colour
            ws.send_text(json.dumps({"type": "evolve", "target": 1, "population": 50,
                                     "steps": 5}))
            m, seen = receive_until(ws, is_state("done", "failed"))
            f = [f for f in seen if f["type"] == "frame"][-1]
            assert f["shape"] == [3, 20, 24]
            # a dream from the drawing starts from the drawing, in colour
            ws.send_text(json.dumps({"type": "dream", "target": 1, "steps": 50,
                                     "start": "drawing", "drawing": png_url(im)}))
            m, seen = receive_until(ws, is_state("done", "failed"))
            assert m["state"] == "done", seen[-3:]
            f = [f for f in seen if f["type"] == "frame"][-1]
            start = read_picture(buf.getvalue(), (3, 20, 24)) / 255.0
            image = np.frombuffer(base64.b64decode(f["images"][0]), np.uint8)
            image = image.reshape(20, 24, 3).transpose(2, 0, 1) / 255.0
            changed = np.abs(image - start).max(axis=0) > 0.02
            assert 0 < changed.sum() <= 50, changed.sum()  # 50 steps: at most 50 pixels moved
            assert np.frombuffer(base64.b64decode(f["images"][0]), np.uint8).size == 3 * 20 * 24


def test_a_grey_model_of_another_size_reads_drawings_as_they_are():
    """A 32x32 grey model: the drawing is resized as it is (white ink on
    black, ink high), not prepared as a 28x28 MNIST digit."""
    from netdream.layers import Conv2D, Dense, Flatten
    from netdream.photo import read_picture
    rng = np.random.default_rng(5)
    net = netdream.Network([Conv2D(rng.normal(0, 0.3, (4, 1, 3, 3)), np.zeros(4), stride=2),
                            Flatten(), Dense(rng.normal(0, 0.1, (10, 4 * 15 * 15)), np.zeros(10))],
                           image_shape=(32, 32))
    app = create_app([("grey32", net)], hosts=LOOPBACK_HOSTS + ("testserver",), threads=1)
    with TestClient(app) as c:
        url = seven()
        d = c.post("/api/predict", json={"drawing": url}).json()
        assert d["shape"] == [1, 32, 32]
        seen = np.frombuffer(base64.b64decode(d["image"]), np.uint8).reshape(32, 32)
        expected = read_picture(base64.b64decode(url.split(",", 1)[1]), (32, 32))
        np.testing.assert_array_equal(seen, expected)
        # the 7's top bar runs from 60 to 220 of 280 at row 60: the same place in 32
        assert seen[7, 8:25].min() > 200 and seen[:5].max() < 60 and seen[31:].max() < 60
        np.testing.assert_allclose(d["probs"], net.predict_proba(seen), atol=1e-6)


def test_a_colour_model_in_a_real_browser(browser, tmp_path):
    """The page paints a 3x20x24 colour model's dream at its size, in colour,
    and labels the bars with its class names."""
    path = tmp_path / "colour.npz"
    _colour_cnn().save(path)
    with _serve("--model", str(path)) as url:
        _colour_page(browser(1280, 900), url)


def _colour_page(driver, url):
    driver.get(url)
    wait_for(driver, "return document.getElementById('status').dataset.state === 'open'")
    driver.execute_script("const s = document.getElementById('model'); s.selectedIndex = 1; "
                          "s.dispatchEvent(new Event('change'));")
    assert driver.execute_script(
        "return [...document.querySelectorAll('#bars .k')].map(e => e.textContent)") == \
        ["red", "green", "blue", "grey"]
    # drawing in colour on a pad of the model's proportions (24 wide, 20 high)
    assert driver.execute_script("return document.getElementById('draw').height") == 233
    assert driver.execute_script("return document.getElementById('draw-hint').textContent") == \
        "a picture, with mouse, pen or finger"
    assert not driver.execute_script("return document.getElementById('dream-from-drawing').disabled")
    assert not driver.execute_script("return document.getElementById('colours').hidden")
    driver.execute_script("const b = document.getElementById('pad-colour'); b.value = '#2040ff';"
                          "b.dispatchEvent(new Event('change'));"
                          "document.getElementById('pen-colour').value = '#ff2000'")
    draw_seven(driver)
    wait_for(driver, "return document.getElementById('pred-ms').textContent !== ''")
    assert driver.execute_script("return document.getElementById('pred-digit').textContent") in \
        ("red", "green", "blue", "grey")
    size, red, blue = driver.execute_script("""
        const c = document.getElementById('seen');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let red = 0, blue = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 200 && d[i + 1] < 80 && d[i + 2] < 40) red++;
          if (d[i] < 50 && d[i + 1] > 40 && d[i + 1] < 90 && d[i + 2] > 230) blue++;
        }
        return [[c.width, c.height], red, blue];""")
    # what the model sees, at its size: red ink on the blue background chosen
    assert size == [24, 20] and red > 10 and blue > 200, (size, red, blue)
    assert driver.execute_script("return document.getElementById('error').hidden")
    driver.execute_script("document.getElementById('start').value = 'noise';"
                          "document.getElementById('steps').value = '20000';")
    driver.find_element("id", "run").click()
    wait_for(driver, "return Number(document.getElementById('stage').dataset.frames) > 0")
    size, spread = driver.execute_script("""
        const c = document.getElementById('dream-0');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let spread = 0;
        for (let i = 0; i < d.length; i += 4) spread = Math.max(spread, Math.abs(d[i] - d[i + 1]));
        return [[c.width, c.height], spread];""")
    assert size == [24, 20] and spread > 100, (size, spread)
    # back to the 28x28 grey model: a square black pad, no colours to pick
    driver.execute_script("const s = document.getElementById('model'); s.selectedIndex = 0; "
                          "s.dispatchEvent(new Event('change'));")
    height, pixel, hidden, hint = driver.execute_script("""
        const pad = document.getElementById('draw');
        return [pad.height, [...pad.getContext('2d').getImageData(140, 20, 1, 1).data],
                document.getElementById('colours').hidden,
                document.getElementById('draw-hint').textContent];""")
    assert height == 280 and pixel == [0, 0, 0, 255] and hidden, (height, pixel, hidden)
    assert hint == "a digit, with mouse, pen or finger"
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
