"""Dask scaling figures for the README's "Scaling" note (not a test; run by hand):

    python benchmarks/dask_scaling.py [--big-steps 2000]

On a LocalCluster(n_workers=2, threads_per_worker=1) against the local
engine with threads=2: efficiency (distributed time / local time) for 1,000
and 100,000 dreams, the per-task overhead, and the time by chunk size.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np

import netdream
import netdream.distributed as nd


def interleaved(fns, repeat):
    """Time each function ``repeat`` times, alternating between them (the
    machine is shared: its load drifts); {name: (min, median)}."""
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: (min(v), statistics.median(v)) for name, v in times.items()}


def main():
    from distributed import Client, LocalCluster
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--big-runs", type=int, default=100_000)
    p.add_argument("--big-steps", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    net = netdream.MLP.pretrained()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        nd.hill_climb(net, 3, runs=8, steps=100, client=client, progress=False)  # warm up

        # per-task overhead: tasks with no work, one run each
        n = 400
        t = interleaved({"empty": lambda: nd.hill_climb(net, 3, runs=n, steps=0, chunk=1,
                                                         summary=True, client=client,
                                                         progress=False)}, args.repeat)
        print(f"per-task overhead: {1e3 * t['empty'][0] / n:.2f} ms per task (min; median "
              f"{1e3 * t['empty'][1] / n:.2f} ms; {n} empty tasks, 2 workers)")
        t = interleaved({"one": lambda: nd.hill_climb(net, 3, runs=1, steps=0, client=client,
                                                       progress=False)}, args.repeat)
        print(f"one empty search (scatter, one task, gather): {1e3 * t['one'][0]:.1f} ms")

        for runs, steps, rep in ((1000, args.steps, args.repeat),
                                 (args.big_runs, args.big_steps, 2)):
            local = netdream.hill_climb(net, 3, runs=runs, steps=steps, threads=2,
                                        progress=False)
            s = nd.hill_climb(net, 3, runs=runs, steps=steps, summary=True, client=client,
                              progress=False)
            err = np.abs(s.average() - local.average()).max()
            del local
            fns = {"local": lambda: netdream.hill_climb(net, 3, runs=runs, steps=steps,
                                                         threads=2, progress=False).average(),
                   "summary": lambda: nd.hill_climb(net, 3, runs=runs, steps=steps,
                                                    summary=True, client=client,
                                                    progress=False)}
            if runs <= 1000:
                fns["images"] = lambda: nd.hill_climb(net, 3, runs=runs, steps=steps,
                                                      client=client, progress=False)
                for chunk in (5, 25, 250, 500):
                    fns[f"chunk {chunk}"] = (lambda c=chunk: nd.hill_climb(
                        net, 3, runs=runs, steps=steps, chunk=c, summary=True, client=client,
                        progress=False))
            t = interleaved(fns, rep)
            tl = t["local"]
            print(f"{runs:,} dreams x {steps:,} steps (default chunk "
                  f"{nd.chunk_size(runs, steps, 2)}; |average difference| {err:.1e}); "
                  f"local 2 threads: min {tl[0]:.2f} s, median {tl[1]:.2f} s")
            for name, (lo, med) in t.items():
                if name != "local":
                    print(f"   {name:>10}: min {lo:.2f} s, median {med:.2f} s: efficiency "
                          f"{lo / tl[0]:.2f} (min/min), {med / tl[1]:.2f} (median/median)")


if __name__ == "__main__":
    main()
