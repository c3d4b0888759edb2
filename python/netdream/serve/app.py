"""The web application: the page, a small JSON API and the WebSocket that
carries live searches.

HTTP: ``GET /`` (the page), ``/static/...``, ``GET /api/info`` (models by
index and name, limits), ``POST /api/predict``, ``GET
/api/models/{i}/causal``, ``/fields``, ``/misclassified``.

WebSocket ``/ws``: JSON messages with a ``type`` — ``predict``, ``dream``,
``evolve``, ``pause``, ``resume``, ``stop``, ``gif`` — answered by
``prediction``, ``frame``, ``state``, ``gif``, ``note`` (advice on a dream
stuck at its start) and ``error`` (whose ``message`` the page shows). A page runs one search at a time; a new one
stops the old one, and closing the page stops it.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import io
import ipaddress
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np

from .jobs import (DreamRequest, EvolveRequest, Job, Limits, RequestError, encode_pixels,
                   painted_shape)

__all__ = ["create_app", "serve", "LOOPBACK_HOSTS"]

STATIC = Path(__file__).resolve().parent / "static"
#: Host names the server answers to when it listens on loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_MAX_FIELDS = 128
_MAX_MISCLASSIFIED = 60
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class ServerState:
    """What the server shares between pages: the models, the test set, the
    limits and the count of running searches."""

    def __init__(self, models, data, limits: Limits, hosts, threads):
        self.models = models            # [(name, net)]
        self.data = data                # (images, labels) or None
        self.limits = limits
        self.hosts = hosts
        self.threads = threads
        self._running = 0
        self._lock = threading.Lock()
        self._cache: dict = {}
        self._next_id = 0

    # -- jobs ----------------------------------------------------------------
    def acquire(self) -> bool:
        with self._lock:
            if self._running >= self.limits.jobs:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._running -= 1

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def next_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    # -- models -----------------------------------------------------------------
    def model(self, index):
        if isinstance(index, bool) or not isinstance(index, int):
            raise RequestError(f"model must be the index of a model (0..{len(self.models) - 1}), "
                               f"got {index!r}")
        if not 0 <= index < len(self.models):
            raise RequestError(f"model must lie in 0..{len(self.models) - 1}, got {index}")
        return self.models[index][1]

    def cached(self, key, compute):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
        return value

    def info(self) -> dict:
        models = []
        for i, (name, net) in enumerate(self.models):
            sizes = getattr(net, "sizes", None)
            models.append({
                "index": i, "name": name, "classes": net.n_classes,
                "class_names": [str(c) for c in getattr(net, "class_names", None)
                                or range(net.n_classes)],
                "shape": list(net.image_shape),
                "painted": painted_shape(net),  # [channels, height, width] of the frames' pixels
                "summary": (" - ".join(map(str, sizes)) + f" ({net.activations[0]})"
                            if sizes else f"{len(net.layers)} layers, convolutional"),
                "hidden": list(sizes[1:-1]) if sizes else [],
                "convolutional": sizes is None,
            })
        return {"models": models, "limits": self.limits.as_dict(),
                "data": self.data is not None}

    # -- drawings -------------------------------------------------------------------
    def prepare(self, drawing, shape=(28, 28)) -> np.ndarray:
        """A drawing from the page (a PNG data URL) prepared as ``netdream
        classify`` prepares a photo for a model taking ``shape`` images: a
        28x28 grey one's as an MNIST digit (cropped to the ink, centred),
        any other's resized as it is, grey or colour (uint8)."""
        from ..photo import read_image, read_picture
        if not isinstance(drawing, str):
            raise RequestError(f"drawing must be a PNG data URL, got {type(drawing).__name__}")
        prefix = "data:image/png;base64,"
        if not drawing.startswith(prefix):
            raise RequestError("drawing must be a PNG data URL (data:image/png;base64,...)")
        if len(drawing) > self.limits.drawing_bytes * 4 // 3 + len(prefix) + 4:
            raise RequestError(f"drawing is larger than {self.limits.drawing_bytes:,} bytes")
        try:
            data = base64.b64decode(drawing[len(prefix):], validate=True)
        except ValueError:
            raise RequestError("drawing: not valid base64") from None
        shape = tuple(shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3))):
            raise RequestError(f"this model takes {'x'.join(map(str, shape))} images: drawings "
                               "are grey or colour (1 or 3 channels)")
        try:
            if shape == (28, 28):
                return read_image(data, name="drawing", max_pixels=self.limits.drawing_pixels)
            image = read_picture(data, shape, name="drawing", max_pixels=self.limits.drawing_pixels)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        if not image.any():  # the page's background is black
            raise RequestError("drawing: no ink found (the drawing is empty)")
        return image

    def predict(self, msg: dict) -> dict:
        began = time.perf_counter()
        net = self.model(msg.get("model", 0))
        try:
            image = self.prepare(msg.get("drawing"), net.image_shape)
        except RequestError as exc:
            if "no ink found" in str(exc):
                return {"type": "prediction", "blank": True}
            raise
        p = net.predict_proba(image, threads=1)
        reply = {"type": "prediction", "blank": False,
                 "probs": [float(v) for v in np.ravel(p)],
                 "image": encode_pixels(image[None] / 255.0)[0], "shape": painted_shape(net)}
        maps = self._feature_maps(net, image)
        if maps is not None:
            reply["maps"] = maps
        reply["ms"] = round(1000 * (time.perf_counter() - began), 2)
        return reply

    @staticmethod
    def _feature_maps(net, image):
        """A CNN's first convolution on the drawing: where each filter fires
        (grey, one scale for all: the strongest response is white); None for
        an MLP."""
        from ..inside import feature_maps
        from ..layers import Conv2D
        if not isinstance(getattr(net, "layers", [None])[0], Conv2D):
            return None
        maps = feature_maps(net, image).maps[:_MAX_FIELDS]
        top = float(maps.max())
        return _png_urls(maps / top if top > 0 else maps, "gray")

    # -- looking inside -----------------------------------------------------------------
    def causal(self, index: int) -> dict:
        from ..causal import causal_index
        net = self.model(index)

        def compute():
            if not hasattr(net, "weights"):
                raise RequestError("the causal index is defined for dense networks (MLPs)")
            maps = np.asarray(causal_index(net))
            return {"maps": _png_urls(maps, "diverging")}
        return self.cached(("causal", index), compute)

    def fields(self, index: int) -> dict:
        from ..inside import receptive_fields
        net = self.model(index)

        def compute():
            from ..layers import Conv2D
            if isinstance(net.layers[0], Conv2D):  # a CNN: its first convolution's filters
                from ..inside import image_filters
                w = image_filters(net)  # red/brighter: ink there excites the channel
                c = np.arange(min(w.shape[0], _MAX_FIELDS))
                if w.shape[1] == 1:
                    maps = _png_urls(w[c, 0], "diverging")
                elif w.shape[1] == 3:  # colour filters: grey is a zero weight, one scale for all
                    from ..images import signed_colour
                    maps = _png_urls(signed_colour(w)[c], "gray")
                else:
                    raise RequestError(f"filters on {w.shape[1]} input channels cannot be drawn "
                                       "(grey or colour only)")
                return {"kind": "channel", "layer": 0, "units": [int(u) for u in c], "maps": maps,
                        "colour": w.shape[1] == 3}
            if not hasattr(net, "weights") or len(net.weights) < 2:
                raise RequestError("receptive fields need a dense network with a hidden layer")
            rf = receptive_fields(net, 0)
            units = rf.most_focused(_MAX_FIELDS)
            return {"kind": "hidden", "layer": 0, "units": [int(u) for u in units],
                    "focus": [round(float(rf.focus[u]), 3) for u in units],
                    "maps": _png_urls(rf.images[units], "diverging")}
        return self.cached(("fields", index), compute)

    def misclassified(self, index: int) -> dict:
        from ..inside import misclassified
        net = self.model(index)
        if self.data is None:
            raise RequestError("no test set: start the server with --data DIR")
        shape = tuple(np.shape(self.data[0])[1:])
        if shape != tuple(net.image_shape):
            raise RequestError(f"the test set holds {'x'.join(map(str, shape))} images; this model "
                               f"takes {'x'.join(map(str, net.image_shape))}")

        def compute():
            m = misclassified(net, *self.data, n=_MAX_MISCLASSIFIED, threads=self.threads)
            return {"wrong": m.n_wrong, "total": m.n_total,
                    "images": _png_urls(m.images, "gray"),
                    "true": [int(t) for t in m.true], "predicted": [int(p) for p in m.predicted],
                    "confidence": [round(float(c), 4) for c in m.confidence]}
        return self.cached(("misclassified", index), compute)


def _png_urls(maps, cmap: str) -> list[str]:
    """Each map as a PNG data URL, coloured as the package's own pictures."""
    from PIL import Image
    from ..images import _colourise
    arr = np.asarray(maps)
    rgb = _colourise(arr, cmap, 1.0 if cmap == "gray" else None, True)
    out = []
    for im in rgb:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="PNG")
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


# ---------------------------------------------------------------------------
# Hosts and origins
# ---------------------------------------------------------------------------

def _hostname(host_header: str) -> str:
    """The name in a Host header, without the port ("[::1]:80" -> "::1")."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _host_ok(host_header, hosts) -> bool:
    if not host_header:
        return False
    name = _hostname(host_header)
    if name in hosts:
        return True
    if "*" in hosts:  # listening on every interface: any address, or this machine's name
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in (socket.gethostname().lower(), socket.getfqdn().lower())
    return False


def _origin_ok(headers, hosts) -> bool:
    """A WebSocket (or POST) must come from a page this server served."""
    host, origin = headers.get("host"), headers.get("origin")
    return bool(host and origin and _host_ok(host, hosts)
                and origin.lower() in (f"http://{host.lower()}", f"https://{host.lower()}"))


# ---------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------

def create_app(models=None, *, data=None, limits: Limits | None = None, hosts=LOOPBACK_HOSTS,
               threads: int | None = None):
    """The Starlette application.

    Parameters
    ----------
    models : list of (name, Network), default [("default", the shipped model)]
        The models the page may pick, by index. Names are shown on the page
        (give names, not paths).
    data : (images, labels), optional
        A labelled test set for the misclassified gallery.
    limits : Limits
        What one request may ask for and how many searches run at once.
    hosts : host names the server answers to (Host header); ``"*"`` for any
        address of this machine (when listening on every interface).
    threads : worker threads per search (default: every core, at most one
        per run).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    if models is None:
        from ..model import pretrained
        models = [("default", pretrained("mlp"))]
    state = ServerState(list(models), data, limits or Limits(), tuple(hosts), threads)

    async def page(request):
        return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    async def info(request):
        return JSONResponse(state.info())

    async def status(request):
        return JSONResponse({"running": state.running})

    def api(method):
        async def endpoint(request):
            try:
                index = int(request.path_params["index"])
                return JSONResponse(await asyncio.to_thread(method, index))
            except RequestError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return endpoint

    async def predict(request):
        if not _origin_ok(request.headers, state.hosts) and "origin" in request.headers:
            return JSONResponse({"error": "requests from other sites are refused"},
                                status_code=403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON (Content-Type: application/json)"},
                                status_code=415)
        body = await request.body()
        try:
            msg = _parse(body, state.limits)
            return JSONResponse(await asyncio.to_thread(state.predict, msg))
        except RequestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def socket_endpoint(websocket):
        if not _origin_ok(websocket.headers, state.hosts):
            await websocket.close(code=1008)  # before accepting: an HTTP 403
            return
        await websocket.accept()
        await Session(state, websocket).run()

    class HostCheck:
        """Answer only to the expected Host names (DNS rebinding)."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] in ("http", "websocket"):
                host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
                if not _host_ok(host, state.hosts):
                    if scope["type"] == "http":
                        await PlainTextResponse("unexpected Host header", status_code=400)(
                            scope, receive, send)
                    else:
                        await send({"type": "websocket.close", "code": 1008})
                    return
            await self.app(scope, receive, send)

    routes = [
        Route("/", page),
        Route("/api/info", info),
        Route("/api/status", status),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/models/{index:int}/causal", api(state.causal)),
        Route("/api/models/{index:int}/fields", api(state.fields)),
        Route("/api/models/{index:int}/misclassified", api(state.misclassified)),
        WebSocketRoute("/ws", socket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(HostCheck)])
    app.state.netdream = state
    return app


def _parse(text, limits: Limits) -> dict:
    if len(text) > limits.message_bytes:
        raise RequestError(f"message is larger than {limits.message_bytes:,} bytes")
    try:
        msg = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise RequestError("message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise RequestError(f"message must be a JSON object, got {type(msg).__name__}")
    return msg


class Session:
    """One page's WebSocket: its messages, its search, its outgoing frames."""

    def __init__(self, state: ServerState, websocket):
        self.state = state
        self.ws = websocket
        self.job: Job | None = None
        self.last_job: Job | None = None
        self.drawing = None
        self.loop = asyncio.get_running_loop()
        self.outbox: collections.deque = collections.deque()
        self.ready = asyncio.Event()
        self.closed = False

    def send(self, msg: dict) -> None:
        """Queue a message (from any thread); a frame not yet sent is replaced
        by a newer one of the same search."""
        try:
            self.loop.call_soon_threadsafe(self._queue, msg)
        except RuntimeError:  # the loop has closed: the page is gone
            pass

    def _queue(self, msg):
        last = self.outbox[-1] if self.outbox else None
        if (last is not None and msg.get("type") == "frame" and last.get("type") == "frame"
                and last.get("job") == msg.get("job") and not last.get("final")):
            self.outbox[-1] = msg
        else:
            self.outbox.append(msg)
        self.ready.set()

    async def _sender(self):
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.outbox:
                await self.ws.send_text(json.dumps(self.outbox.popleft()))

    async def run(self):
        from starlette.websockets import WebSocketDisconnect
        sender = asyncio.create_task(self._sender())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = message.get("bytes") or b""
                    if len(text) <= self.state.limits.message_bytes:
                        self.send({"type": "error", "message": "messages must be JSON text"})
                        continue
                await self.handle(text)
        except WebSocketDisconnect:
            pass
        finally:
            self.closed = True
            if self.job is not None:
                self.job.stop()
            sender.cancel()

    async def handle(self, text):
        kind = None
        try:
            msg = _parse(text, self.state.limits)
            kind = msg.get("type")
            if kind == "predict":
                reply = await asyncio.to_thread(self.state.predict, msg)
                if "id" in msg and isinstance(msg["id"], int):
                    reply["id"] = msg["id"]
                self.send(reply)
            elif kind in ("dream", "evolve"):
                await self.start(kind, msg)
            elif kind in ("pause", "resume", "stop"):
                if self.job is None or not self.job.alive:
                    raise RequestError(f"{kind}: no search is running")
                getattr(self.job, kind)()
            elif kind == "gif":
                job = self.job or self.last_job
                if job is None:
                    raise RequestError("nothing to save yet: run a search first")
                data = await asyncio.to_thread(job.gif)
                self.send({"type": "gif", "job": job.id,
                           "data": base64.b64encode(data).decode("ascii")})
            else:
                raise RequestError("type must be one of predict, dream, evolve, pause, resume, "
                                   f"stop, gif; got {kind!r}")
        except RequestError as exc:
            self.send({"type": "error", "for": kind if isinstance(kind, str) else None,
                       "message": str(exc)})

    async def start(self, kind, msg):
        state = self.state
        net = state.model(msg.get("model", 0))
        if kind == "dream":
            request = DreamRequest.parse(msg, net, state.limits,
                                         lambda: state.prepare(msg.get("drawing"), net.image_shape))
        else:
            request = EvolveRequest.parse(msg, net, state.limits)
        old = self.job
        if old is not None:  # one search per page: the new one replaces it
            old.stop()
            await asyncio.to_thread(old.thread.join, 5.0)
        if not state.acquire():
            raise RequestError(f"the server is busy: at most {state.limits.jobs} searches run at "
                               "once (stop one, or wait for one to finish)")
        job = Job(state.next_id(), net, request, self.send, state.release, state.threads,
                  state.limits.paused_seconds)
        self.job = self.last_job = job
        self.send({"type": "started", "job": job.id, "kind": kind})
        job.start()


def serve(models=None, *, data=None, host: str = "127.0.0.1", port: int = 8000,
          open_browser: bool = False, limits: Limits | None = None, threads=None,
          log_level: str = "warning") -> None:
    """Run the server until Ctrl-C (see :func:`create_app`)."""
    import uvicorn
    wildcard = host in ("0.0.0.0", "::", "")
    hosts = LOOPBACK_HOSTS + (("*",) if wildcard else (host.lower(),))
    app = create_app(models, data=data, limits=limits, hosts=hosts, threads=threads)
    shown = "127.0.0.1" if wildcard else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{port}/"
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, ws="wsproto",
                            ws_max_size=(limits or Limits()).message_bytes + 1024)
    server = uvicorn.Server(config)
    if open_browser:
        import webbrowser

        def opener():
            while not server.started:
                time.sleep(0.05)
            webbrowser.open(url)
        threading.Thread(target=opener, daemon=True).start()
    print(f"netdream serve: {url}  (Ctrl-C stops)", flush=True)
    server.run()
