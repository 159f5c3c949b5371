"""Strassen's matrix multiplication (tinygrad_lite.linalg) against plain `@`.

For each size n (square n x n float32 matrices) it times, forward only (under no_grad) and forward +
backward (C.backward(G) with a random upstream gradient G):
  numpy        raw numpy: A @ B (and G @ B.T, A.T @ G for the gradients): the BLAS floor
  Tensor @     tinygrad_lite's MatMul op
  strassen/L   strassen_matmul(A, B, leaf_size=L): 7 half-size products per level down to L
and prints a markdown table of the median times and their ratios to numpy and to Tensor @, the number
of leaf products, and the relative error of the forward result against a float64 product.

    python benchmarks/bench_strassen.py                       # sizes 128 .. 2048, leaves 64/128/256
    python benchmarks/bench_strassen.py --sizes 256 512 --leaf-sizes 64 --rounds 5
    python benchmarks/bench_strassen.py --threads 1             # single-threaded BLAS

The machines these run on are shared and noisy: compare the ratios measured in one run. On a busy
machine multi-threaded BLAS can be slowed down badly by the other load (threads wait for each
other), which penalizes the big `@` calls but not Strassen's small single-threaded leaves; use
--threads 1 to compare the algorithms rather than the thread scheduling.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# NOTE: numpy and the library are imported in main(), after --threads has set the BLAS thread count
# (OpenBLAS reads it once, when numpy loads).
np = tg = strassen_matmul = None


def timed(fn, rounds, min_time=0.5, max_runs=100):
    """Median wall time of fn() in seconds, over at least `rounds` runs and, for fast functions, as
    many more as fit in `min_time` (after one warm-up run)."""
    fn()
    times = []
    while len(times) < rounds or (sum(times) < min_time and len(times) < max_runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_size(n, leaf_sizes, rounds, backward):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    g = rng.standard_normal((n, n), dtype=np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)

    def rel_err(c):
        return float(np.abs(c - exact).max() / np.abs(exact).max())

    def numpy_fwd():
        return a @ b

    def numpy_fwd_bwd():
        return a @ b, g @ b.T, a.T @ g

    def tensor_fwd(mul):
        def run():
            with tg.no_grad():
                return mul(tg.Tensor(a), tg.Tensor(b))
        return run

    def tensor_fwd_bwd(mul):
        def run():
            ta, tb = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
            mul(ta, tb).backward(tg.Tensor(g))
            return ta.grad, tb.grad
        return run

    methods = [("numpy", None, lambda x, y: None), ("Tensor @", None, lambda x, y: x @ y)]
    for leaf in leaf_sizes:
        if leaf < n:
            methods.append(("strassen", leaf, lambda x, y, leaf=leaf: strassen_matmul(x, y, leaf)))
    rows = []
    for name, leaf, mul in methods:
        if name == "numpy":
            fwd, err, leaves = timed(numpy_fwd, rounds), rel_err(numpy_fwd()), 1
            both = timed(numpy_fwd_bwd, rounds) if backward else None
        else:
            stats = {}
            with tg.no_grad():
                c = strassen_matmul(a, b, leaf, stats=stats) if leaf else tg.Tensor(a) @ tg.Tensor(b)
            err, leaves = rel_err(c.numpy()), stats.get("leaf_matmuls", 1)
            del c
            fwd = timed(tensor_fwd(mul), rounds)
            both = timed(tensor_fwd_bwd(mul), rounds) if backward else None
        rows.append(dict(n=n, name=name, leaf=leaf, leaves=leaves, fwd=fwd, both=both, err=err))
        print(f"  n={n:5d} {name:9s} leaf={leaf or '-':>4} fwd {fwd * 1e3:9.2f} ms"
              + (f"  fwd+bwd {both * 1e3:9.2f} ms" if both is not None else ""), file=sys.stderr)
    return rows


def table(rows):
    lines = [
        "| n | method | leaf | leaf products | forward (ms) | vs numpy | vs Tensor @ | "
        "fwd+bwd (ms) | vs numpy | vs Tensor @ | rel. error |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in dict.fromkeys(r["n"] for r in rows):
        group = [r for r in rows if r["n"] == n]
        base = {r["name"]: r for r in group if r["name"] != "strassen"}
        for r in group:
            def ratio(key, ref, r=r, base=base):
                if r[key] is None or base[ref][key] is None:
                    return "-"
                return f"{r[key] / base[ref][key]:.2f}x"

            both = "-" if r["both"] is None else ms(r["both"])
            lines.append(
                f"| {n} | {r['name']} | {r['leaf'] or '-'} | {r['leaves']} | {ms(r['fwd'])} | "
                f"{ratio('fwd', 'numpy')} | {ratio('fwd', 'Tensor @')} | {both} | "
                f"{ratio('both', 'numpy')} | {ratio('both', 'Tensor @')} | {r['err']:.1e} |"
            )
    return "\n".join(lines)


def ms(seconds):
    return f"{seconds * 1e3:.3g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--leaf-sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per cell (median)")
    parser.add_argument("--no-backward", action="store_true", help="forward only")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the BLAS default, usually one per core); "
                             "1 gives steadier numbers on a busy machine")
    args = parser.parse_args(argv)
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    global np, tg, strassen_matmul
    import numpy as np

    import tinygrad_lite as tg
    from tinygrad_lite.linalg import strassen_matmul

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"# numpy {np.__version__}, {os.cpu_count()} CPUs, BLAS threads: {threads}, float32, "
          f"median of >= {args.rounds} runs", file=sys.stderr)
    rows = []
    for n in args.sizes:
        rows += bench_size(n, args.leaf_sizes, args.rounds, not args.no_backward)
    print(table(rows))


if __name__ == "__main__":
    main()
