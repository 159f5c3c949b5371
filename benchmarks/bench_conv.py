"""W6: the official PyTorch MNIST network, one training step at batch 64, ours vs PyTorch CPU.

The network of pytorch/examples mnist/main.py: Conv2d(1, 32, 3) -> ReLU -> Conv2d(32, 64, 3) -> ReLU
-> max-pool 2 -> Dropout(0.25) -> flatten -> Linear(9216, 128) -> ReLU -> Dropout(0.5) ->
Linear(128, 10) -> log-softmax -> NLL, Adadelta(lr=1.0). Both frameworks train on the same real MNIST
images with the same thread count (`tg.set_num_threads(n)` / `torch.set_num_threads(n)`), run
interleaved round by round: ours, ours with `tg.jit` (where the library has it) and PyTorch. The
table gives the median wall-clock time per step over the rounds, the ratios to PyTorch measured in
this same run (shared machines are noisy: compare ratios), and the process CPU time per step (all
threads), which other people's jobs disturb less.

    python benchmarks/bench_conv.py                      # 1 and 2 threads, 5 rounds of 10 steps
    python benchmarks/bench_conv.py --threads 1 --rounds 3 --steps 5
    python benchmarks/bench_conv.py --threads 0          # our thread policy vs PyTorch's default
    python benchmarks/bench_conv.py --profile            # cProfile of our steps (1 thread)
    python benchmarks/bench_conv.py --ops                # CPU time per primitive (1 thread)
    python benchmarks/bench_conv.py --ops --threads 2    # wall-clock time per primitive (2 threads)
    python benchmarks/bench_conv.py --split-update       # does Adadelta's update scale to 2 threads?
    python benchmarks/bench_conv.py --floor              # why one thread misses: conv2's products
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import nn, optim  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402

BATCH = 64


def load_batches(steps, batch=BATCH):
    from tinygrad_lite.data import mnist

    x, y = mnist.load("train")
    x = ((x[:steps * batch] - 0.1307) / 0.3081).astype(np.float32).reshape(-1, 1, 28, 28)
    y = y[:steps * batch].astype(np.int64)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, steps * batch, batch)]


class Net(nn.Module):
    """pytorch/examples mnist/main.py's Net, unchanged but for the import."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = tg.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def torch_net(torch):
    tnn, tF = torch.nn, torch.nn.functional

    class TorchNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 32, 3, 1)
            self.conv2 = tnn.Conv2d(32, 64, 3, 1)
            self.dropout1 = tnn.Dropout(0.25)
            self.dropout2 = tnn.Dropout(0.5)
            self.fc1 = tnn.Linear(9216, 128)
            self.fc2 = tnn.Linear(128, 10)

        def forward(self, x):
            x = tF.relu(self.conv1(x))
            x = tF.relu(self.conv2(x))
            x = tF.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = tF.relu(self.fc1(x))
            x = self.dropout2(x)
            return tF.log_softmax(self.fc2(x), dim=1)

    return TorchNet()


def ours_steps(batches, jit=False):
    """(wall-clock, process CPU) seconds per step of our training loop over `batches`, after
    one warm-up step (two with `jit`: tg.jit traces on its first two calls)."""
    model = Net()
    opt = optim.Adadelta(model.parameters(), lr=1.0)
    data = [(tg.Tensor(x), tg.Tensor(y)) for x, y in batches]

    def step(x, y):
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if jit:
        step = tg.jit(step)
        step(*data[0])
    return _timed(step, data)


def torch_steps(batches, torch):
    model = torch_net(torch)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return _timed(step, data)


def _timed(step, data):
    step(*data[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for x, y in data:
        step(x, y)
    return (time.perf_counter() - t0) / len(data), (time.process_time() - c0) / len(data)


def per_op(batches, rounds, threads=1):
    """Our step's time per primitive's forward and backward, the best of `rounds` passes over the
    batches: at one thread the thread's CPU time (time.thread_time: other processes' time slices
    are not counted); at more (`tg.set_num_threads`), wall-clock time, as the workers' share of an
    op shows only there."""
    import collections
    import resource

    clock = time.thread_time if threads == 1 else time.perf_counter
    who = resource.RUSAGE_THREAD if threads == 1 else resource.RUSAGE_SELF
    tg.set_num_threads(threads)

    from tinygrad_lite import ops

    spent = collections.Counter()

    def timed(name, fn):
        def run(*args, **kw):
            t0 = clock()
            try:
                return fn(*args, **kw)
            finally:
                spent[name] += clock() - t0
        return run

    for op in ops.PRIMITIVES:
        for name in ("forward", "backward"):
            if name in op.__dict__:  # static or class methods: wrapped as they are
                method = op.__dict__[name]
                setattr(op, name, type(method)(timed(f"{op.__name__}.{name}", method.__func__)))
    model = Net()
    opt = optim.Adadelta(model.parameters(), lr=1.0)
    opt.update = timed("Adadelta.update", opt.update)
    data = [(tg.Tensor(x), tg.Tensor(y)) for x, y in batches]

    def step(x, y):
        opt.zero_grad()
        F.nll_loss(model(x), y).backward()
        opt.step()

    step(*data[0])
    best = None
    for _ in range(rounds):
        spent.clear()
        r0, t0 = resource.getrusage(who), clock()
        for x, y in data:
            step(x, y)
        r1, total = resource.getrusage(who), clock() - t0
        if best is None or total < best[0]:
            best = (total, dict(spent), r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt)
    total, per, system, faults = best
    n = len(data)
    at, kind = ("one thread", "CPU") if threads == 1 else (f"{threads} threads", "wall-clock")
    print(f"W6, our step at {at}: {total * 1e3 / n:.1f} ms {kind} per step (best of {rounds} "
          f"passes of {n} steps), system time {system * 1e3 / n:.1f} ms and {faults / n:.0f} page "
          f"faults per step; load average {__import__('os').getloadavg()[0]:.1f}")
    print("| op | ms per step | share |\n|---|---|---|")
    for name, t in sorted(per.items(), key=lambda kv: -kv[1]):
        if t * 1e3 / n >= 0.05:
            print(f"| {name} | {t * 1e3 / n:.2f} | {t / total:.0%} |")
    print(f"| (engine, Python, allocation) | {(total - sum(per.values())) * 1e3 / n:.2f} | "
          f"{1 - sum(per.values()) / total:.0%} |")


def floor(reps=10):
    """At one thread: numpy's BLAS time for each of conv2's three im2col products (what our
    Conv2d multiplies, whatever it does around them), as one gemm of the whole batch and as
    Conv2d runs it, image by image; against PyTorch's whole conv2 (oneDNN's direct convolution),
    forward and forward + backward, for the same shapes, and our Conv2d's (inputs and gradients
    channels-last, as in W6)."""
    import os

    from threadpoolctl import threadpool_limits

    n, c, hw, o, k = BATCH, 32, 26, 64, 3
    oh = hw - k + 1
    rows, cols, wide = n * oh * oh, c * k * k, oh * hw  # wide: rows of the stride-1 input gradient
    rng = np.random.default_rng(0)

    def best(fn):
        fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times) * 1e3

    print(f"W6's conv2 (x {n}x{c}x{hw}x{hw}, w {o}x{c}x{k}x{k}) at one thread, best of {reps}; "
          f"load average {os.getloadavg()[0]:.1f}")
    # the whole convolutions first (the products' large arrays, made and freed, leave glibc's
    # heap handing out fresh pages: our forward's output then costs 4 ms more)
    x = rng.standard_normal((n, hw, hw, c)).astype(np.float32).transpose(0, 3, 1, 2)
    gy = rng.standard_normal((n, oh, oh, o)).astype(np.float32).transpose(0, 3, 1, 2)
    w = (rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32)
    b = np.zeros(o, np.float32)
    print("| whole convolution | forward (ms) | forward + backward (ms) |\n|---|---|---|")
    tg.set_num_threads(1)
    plain = [tg.Tensor(v) for v in (x, w, b)]  # (forward alone: no graph kept alive)
    # (a leaf that requires grad is made C-contiguous: the input channels-last through a permute)
    x_last, wg, bg = (tg.Tensor(v, requires_grad=True) for v in (x.transpose(0, 2, 3, 1), w, b))
    step = lambda: F.conv2d(x_last.permute(0, 3, 1, 2), wg, bg).backward(tg.Tensor(gy))  # noqa: E731
    print(f"| ours (ops.Conv2d) | {best(lambda: F.conv2d(*plain)):.1f} | {best(step):.1f} |")
    tg.set_num_threads(None)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        tx, tw, tb = (torch.tensor(np.ascontiguousarray(v), requires_grad=True) for v in (x, w, b))
        tgy = torch.tensor(np.ascontiguousarray(gy))
        conv = torch.nn.functional.conv2d
        with torch.no_grad():
            forward = best(lambda: conv(tx, tw, tb))
        print(f"| PyTorch conv2d (oneDNN) | {forward:.1f} | "
              f"{best(lambda: conv(tx, tw, tb).backward(tgy)):.1f} |")
    a, w2, g = (rng.standard_normal(shape).astype(np.float32)
                for shape in ((rows, cols), (o, cols), (rows, o)))
    taps = np.ascontiguousarray(w2.reshape(o, k * k, c).transpose(1, 0, 2))  # (k*k, o, c)
    gw = np.zeros((n * wide, o), np.float32)
    per = rows // n
    # (image by image into kept arrays, as Conv2d's scratch: a fresh result per call is fresh
    # pages from the system each time, which would double the input gradient's time)
    outs = [np.empty(shape, np.float32) for shape in ((per, o), (o, cols), (k * k, wide, c))]

    def by_image(fn):
        return lambda: [fn(i) for i in range(n)]

    print("\n| numpy gemm | one gemm (ms) | image by image, as ops.Conv2d (ms) |\n|---|---|---|")
    with threadpool_limits(1):
        products = [
            (f"forward ({rows}x{cols} @ {cols}x{o})", lambda: a @ w2.T,
             by_image(lambda i: np.matmul(a[i * per:(i + 1) * per], w2.T, out=outs[0]))),
            (f"weight gradient ({o}x{rows} @ {rows}x{cols})", lambda: g.T @ a,
             by_image(lambda i: np.matmul(g[i * per:(i + 1) * per].T, a[i * per:(i + 1) * per],
                                          out=outs[1]))),
            (f"input gradient ({rows}x{o} @ {o}x{cols}; by image: {k * k} taps, {wide} rows)",
             lambda: g @ w2,
             by_image(lambda i: np.matmul(gw[i * wide:(i + 1) * wide], taps, out=outs[2])))]
        totals = [0.0, 0.0]
        for name, whole, chunked in products:
            t = best(whole), best(chunked)
            totals = [u + v for u, v in zip(totals, t)]
            print(f"| {name} | {t[0]:.1f} | {t[1]:.1f} |")
        print(f"| the three together | {totals[0]:.1f} | {totals[1]:.1f} |")


def split_update(reps=20):
    """Adadelta's blocked update of W6's (128, 9216) fc1 weight (the library's `_adadelta`, block
    by block) on one thread, against its blocks in two halves on two threads (the library's
    worker pool, `threads.split_map`), for several block sizes: does element-wise numpy work of
    this kind scale to two threads here? On issue 11's 2-core machine: not with the blocks that
    make one thread fastest (32768 items, in cache: two threads 1.1x-1.2x slower, each of a
    block's 16 small numpy calls handing the GIL over); with blocks of 262144 items and more two
    threads took 2.5-2.6 ms against one thread's best 3.1-3.2, about 0.6 ms of a 66 ms W6 step
    at two threads, which the library leaves on one thread."""
    import timeit

    from tinygrad_lite import threads
    from tinygrad_lite.optim.adadelta import _adadelta

    rng = np.random.default_rng(0)
    size = 128 * 9216
    param, grad = rng.standard_normal(size).astype(np.float32), np.full(size, 0.01, np.float32)
    square_avg, acc_delta = np.zeros(size, np.float32), np.zeros(size, np.float32)

    def run(lo, hi, block):
        square, delta = np.empty(block, np.float32), np.empty(block, np.float32)
        for i in range(lo, hi, block):
            j = min(hi, i + block)
            k = j - i
            _adadelta(param[i:j], grad[i:j], square_avg[i:j], acc_delta[i:j], square[:k],
                      square[:k], delta[:k], 0.9, 1e-6, 1.0)

    print(f"Adadelta's update of a (128, 9216) float32 weight, best of 5 x {reps}; load average "
          f"{__import__('os').getloadavg()[0]:.1f}")
    print("| items per block | one thread, ms | two threads, ms | two / one |\n|---|---|---|---|")
    for block in (32768, 65536, 262144, size // 2):
        halves = [(0, size // 2, block), (size // 2, size, block)]
        one = min(timeit.repeat(lambda b=block: run(0, size, b), number=reps, repeat=5)) / reps
        two = min(timeit.repeat(lambda h=halves: threads.split_map(lambda x: run(*x), h, 2),
                                number=reps, repeat=5)) / reps
        print(f"| {block} | {one * 1e3:.2f} | {two * 1e3:.2f} | {two / one:.2f}x |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2],
                    help="BLAS/torch thread counts to compare; 0: our default policy against "
                         "PyTorch with one thread per core")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="training steps per round")
    ap.add_argument("--profile", action="store_true", help="cProfile our steps and exit")
    ap.add_argument("--ops", action="store_true",
                    help="our step's CPU time per primitive (forward, backward) and the optimizer's "
                         "update, and the step's system time and page faults (1 thread; with "
                         "--threads N first, wall-clock time at N threads); exit")
    ap.add_argument("--floor", action="store_true",
                    help="at one thread: numpy's time for conv2's three im2col products against "
                         "PyTorch's whole conv2, forward and forward + backward; exit")
    ap.add_argument("--split-update", action="store_true",
                    help="Adadelta's blocked update of fc1's weight on one thread against two; exit")
    args = ap.parse_args(argv)
    if args.floor:
        floor()
        return
    if args.split_update:
        split_update()
        return
    batches = load_batches(args.steps)
    if args.ops:
        per_op(batches, args.rounds, max(1, args.threads[0]) if args.threads else 1)
        tg.set_num_threads(None)
        return
    if args.profile:
        import cProfile
        import pstats

        tg.set_num_threads(1)
        prof = cProfile.Profile()
        prof.runcall(ours_steps, batches)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    try:
        import torch
    except ImportError:
        torch = None
    import os

    print(f"W6: pytorch/examples MNIST Net, batch {BATCH}, Adadelta; {args.rounds} rounds of "
          f"{args.steps} steps; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    jit = hasattr(tg, "jit")
    print("| threads | ours (ms/step) | ours, tg.jit | PyTorch (ms/step) | ours / PyTorch | "
          "tg.jit / PyTorch | CPU ms/step ours / tg.jit / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for n in args.threads:
        # 0: the library's own policy (products under 2**27 multiply-adds on one BLAS thread,
        # see tinygrad_lite/threads.py) against PyTorch with one thread per core
        tg.set_num_threads(n or None)
        if torch is not None:
            torch.set_num_threads(n or os.cpu_count())
        ours, jitted, theirs = [], [], []
        runs = [(ours, lambda: ours_steps(batches)),
                (jitted, lambda: ours_steps(batches, jit=True) if jit else (math.nan, math.nan)),
                (theirs, lambda: torch_steps(batches, torch) if torch is not None
                 else (math.nan, math.nan))]
        for r in range(args.rounds):
            # NOTE: the order rotates each round, and each run starts after a short pause, as in
            # bench_core (a library's worker threads may spin for a while after its steps); until
            # issue 11's fourth session the order was fixed: ours, ours jitted, PyTorch
            for times, run in runs[r % 3:] + runs[:r % 3]:
                time.sleep(0.3)
                times.append(run())
        (o, oc), (j, jc), (t, tc) = ((statistics.median(v) * 1e3 for v in zip(*runs))
                                     for runs in (ours, jitted, theirs))
        print(f"| {n or 'policy'} | {o:.1f} | {j:.1f} | {t:.1f} | {o / t:.2f}x | {j / t:.2f}x | "
              f"{oc:.1f} / {jc:.1f} / {tc:.1f} |")
    tg.set_num_threads(None)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
