"""When do numpy's BLAS threads pay for themselves? The measurement behind tinygrad_lite/threads.py.

For each product size, a loop of "one float32 matrix product, then the small numpy work an autograd
step does between products" runs with one BLAS thread and with the BLAS default (one per core),
interleaved round by round; the table gives the median time per iteration and the ratio. The
in-between work matters: after a product, OpenBLAS's worker threads keep spinning for a while, and
on a busy machine they take the CPU from the Python thread that has the next step to do.

    python benchmarks/bench_threads.py            # idle (whatever else the machine is doing)
    python benchmarks/bench_threads.py --busy 1   # with one CPU-bound process beside it

Run on 2 cores, the ratio (default threads / one thread) was > 1 (one thread faster) for every
product below about 2**27 multiply-adds when busy, and at most 2x better above it when idle; see
docs/performance.md for the table and tinygrad_lite/threads.py for the policy it sets.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import ThreadpoolController

SHAPES = [(64, 784, 16), (128, 64, 256), (128, 256, 128), (256, 256, 256), (1000, 784, 16),
          (128, 784, 256), (384, 384, 384), (10000, 784, 16), (512, 512, 512), (768, 768, 768),
          (1024, 1024, 1024)]


def per_iteration(a: np.ndarray, b: np.ndarray, small: list[np.ndarray], seconds: float) -> float:
    """Seconds per (product + in-between work), over about `seconds` of looping."""
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        for s in small:  # the cheap element-wise work between two products of a training step
            np.tanh(s, out=s)
            s *= 0.5
        reps += 1
    return (time.perf_counter() - start) / reps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=0,
                    help="CPU-bound processes to start beside the measurement (default 0)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--seconds", type=float, default=0.2,
                    help="looping time per size, thread count and round (default 0.2)")
    args = ap.parse_args(argv)
    blas = ThreadpoolController().select(user_api="blas").lib_controllers[0]
    default = blas.get_num_threads()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(args.busy)]
    rng = np.random.default_rng(0)
    small = [rng.random((64, 16), dtype=np.float32) for _ in range(20)]
    try:
        print(f"{blas.internal_api} {blas.version}, default {default} threads, "
              f"{args.busy} busy process(es) beside")
        print("| m x k x n | multiply-adds | 1 thread (us) | default (us) | default / 1 |")
        print("|---|---:|---:|---:|---:|")
        for m, k, n in SHAPES:
            a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
            times = {1: [], default: []}
            for _ in range(args.rounds):
                for threads in times:
                    blas.set_num_threads(threads)
                    times[threads].append(per_iteration(a, b, small, args.seconds))
            one, many = statistics.median(times[1]) * 1e6, statistics.median(times[default]) * 1e6
            print(f"| {m} x {k} x {n} | {m * k * n:,} | {one:.0f} | {many:.0f} | {many / one:.2f} |",
                  flush=True)
    finally:
        blas.set_num_threads(default)
        for p in burners:
            p.kill()


if __name__ == "__main__":
    main()
