"""Running a command's searches on a Dask cluster: ``--scheduler ADDRESS``
(a running scheduler) or ``--local-cluster N`` (N worker processes on this
machine, one thread each)."""

from __future__ import annotations

import contextlib
import sys

from ._common import CommandError, positive_int

__all__ = ["add_cluster", "wants_cluster", "connect"]


def add_cluster(p) -> None:
    g = p.add_argument_group("running on a Dask cluster (pip install \"netdream[distributed]\")")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786")
    where.add_argument("--local-cluster", type=positive_int, metavar="N",
                       help="start N Dask worker processes on this machine (one thread each)")
    g.add_argument("--chunk", type=positive_int, metavar="RUNS",
                   help="runs per task (default: chosen from the cluster's size and the work)")


def wants_cluster(args) -> bool:
    return bool(getattr(args, "scheduler", None) or getattr(args, "local_cluster", None))


@contextlib.contextmanager
def connect(args):
    """A Dask client for the command (closed, with a local cluster, at the
    end); prints the dashboard link to standard error."""
    from .. import distributed as nd  # noqa: F401  (a clear ImportError when Dask is absent)
    import logging

    import distributed
    from distributed import Client, LocalCluster
    with contextlib.ExitStack() as stack:
        if args.scheduler:
            try:
                client = stack.enter_context(Client(args.scheduler, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:
                raise CommandError(f"--scheduler {args.scheduler}: could not connect "
                                   f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                                   ) from None
        else:
            try:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=args.local_cluster, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.ERROR))
            except (OSError, RuntimeError) as exc:
                raise CommandError(f"--local-cluster {args.local_cluster}: could not start the "
                                   f"workers ({exc})") from None
            client = stack.enter_context(Client(cluster))
        workers = len(client.scheduler_info().get("workers", {}))
        threads = sum(client.nthreads().values())
        link = client.dashboard_link if _has_dashboard(client) else "(none: pip install bokeh)"
        print(f"Dask: {workers} workers, {threads} threads; dashboard {link}", file=sys.stderr)
        try:
            yield client
        except distributed.KilledWorker as exc:
            raise CommandError(f"a task's workers died repeatedly ({exc}); the cluster may be "
                               "out of memory") from None
        except distributed.TimeoutError as exc:
            raise CommandError(f"the cluster timed out ({exc})") from None


def _has_dashboard(client) -> bool:
    try:
        return "dashboard" in client.scheduler_info().get("services", {})
    except Exception:  # an old scheduler: assume there is one
        return True
