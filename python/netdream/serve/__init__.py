"""``netdream serve``: a live page in the browser — draw a digit (or a
picture, for a model of other images) and see the network's answer, watch it dream of a class, breed fooling images, look
inside.

A Starlette application (:func:`create_app`) served by uvicorn
(:func:`serve`); both come with the ``serve`` extra
(``pip install "netdream[serve]"``). The page is plain HTML, CSS and
JavaScript shipped in ``static/`` (no build step, nothing from the
internet). Searches run in the package's own engines
(:func:`netdream.hill_climb` and :func:`netdream.evolve` with a live
``callback``); drawings are prepared by :func:`netdream.photo.read_image`
(28x28 grey models: as MNIST digits) or :func:`netdream.photo.read_picture`
(other sizes, colour), the code path of ``netdream classify``.

What one page may ask for is capped (:class:`Limits`), every message is
validated, WebSockets from other origins are refused, and the server only
answers to loopback host names unless told to listen elsewhere.
"""

from __future__ import annotations

from .jobs import Limits
from .app import create_app, serve

__all__ = ["create_app", "serve", "Limits"]
