"""The ``netdream`` command line: one module per group of commands
(:mod:`.look`: eval, causal, classify; :mod:`.search`: dream, evolve, ascend,
morph; :mod:`.sweep`; :mod:`.report`; :mod:`.train`; :mod:`.serve`: the live page;
:mod:`.cluster`: the Dask options). Errors are printed as one line in the
command's own terms, never as a traceback."""

from __future__ import annotations

import argparse
import sys

from ._common import CommandError

__all__ = ["main", "build_parser", "CommandError"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import look, report, search, serve, sweep, train
    parser = argparse.ArgumentParser(
        prog="netdream",
        description="See what a trained neural network has learned about images.")
    parser.add_argument("--version", action="version", version=f"netdream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    look.add_commands(sub)
    search.add_commands(sub)
    sweep.add_commands(sub)
    report.add_commands(sub)
    train.add_commands(sub)
    serve.add_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("netdream: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"netdream {args.command}: error: out of memory; lower --runs, --steps, "
              "--population or --dreams", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError, CommandError) as exc:
        print(f"netdream {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc) -> str:
    """The error as one line: its first line, plus, for a message whose
    details follow on later lines, the first of them."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[1]}"
    return lines[0]


if __name__ == "__main__":
    sys.exit(main())
