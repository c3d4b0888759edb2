"""The serve command: the live page in the browser."""

from __future__ import annotations

import os
import socket
import sys

from ._common import CommandError, load_model, load_test_set, port_number, positive_int


def _model_names(paths) -> list[str]:
    """Names the page shows: the files' names without folders or extension,
    made unique; never a path."""
    names, seen = [], {"default"}
    for p in paths:
        base = os.path.splitext(os.path.basename(os.fspath(p)))[0] or "model"
        name, n = base, 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        names.append(name)
    return names


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CommandError(f"--host {host} --port {port}: cannot listen there "
                               f"({exc.strerror or exc}); pick another --port") from None


def cmd_serve(args) -> int:
    try:
        from ..serve import serve
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CommandError(f"netdream serve needs the serve extra ({exc.name} is missing): "
                           "pip install \"netdream[serve]\"") from None
    models = [("default", load_model(None))]
    for path, name in zip(args.model, _model_names(args.model)):
        models.append((name, load_model(path)))
    data = load_test_set(args.data) if args.data else None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"netdream serve: warning: --host {args.host} makes the page reachable from other "
              "machines; anyone who can reach this port can run searches on this computer",
              file=sys.stderr)
    _check_port(args.host, args.port)
    serve(models, data=data, host=args.host, port=args.port, open_browser=args.open,
          threads=args.threads)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="the live page: draw, dream, look inside, in the browser",
                       description="Serve a live page on this computer: draw a digit and see "
                                   "the model's answer, watch it dream of a class, breed "
                                   "fooling images, look at causal-index maps and receptive "
                                   "fields. Needs the serve extra (pip install "
                                   "\"netdream[serve]\").")
    p.add_argument("--model", metavar="PATH", action="append", default=[],
                   help="a model to offer besides the shipped one (repeatable)")
    p.add_argument("--data", metavar="DIR",
                   help="folder with the MNIST test set, for the misclassified gallery")
    p.add_argument("--port", type=port_number, default=8000, help="port (default: 8000)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on (default: 127.0.0.1, this computer only; "
                        "0.0.0.0 opens it to the network, with a warning)")
    p.add_argument("--open", action="store_true", help="open the page in the browser")
    p.add_argument("--threads", type=positive_int, default=None, metavar="T",
                   help="worker threads per search (default: every core, at most one per run)")
    p.set_defaults(func=cmd_serve)


__all__ = ["add_commands"]
