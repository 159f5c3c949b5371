"""Core speed benchmark: tinygrad_lite vs hand-written numpy (the floor) vs PyTorch CPU.

Workloads (from the core issue):
  W4  per-op overhead: forward+backward of ((a*b)+c).sum() on 1x1 float32 tensors (us/iteration)
  W1  784-16-16-10 sigmoid MLP, loss 0.5*sum((a-y)^2)/B, plain SGD lr 3.0, one pass over 60,000 random
      float32 samples, at batch 10 and at batch 128
  W2  784-256-128-10 ReLU MLP, softmax cross-entropy, Adam, batch 128, one pass
  LSTM  the example LSTM's training step (examples/mnist_lstm.py: 28 rows of 28 pixels, hidden 64,
      Adam, batch 128), 40 steps; numpy is benchmarks/bench_conv_lstm.py's hand-written BPTT

Implementations run interleaved, round by round, on the same data; the table reports the median of
the rounds and ratios against numpy and PyTorch measured in this same run (these machines are
shared and noisy: compare ratios, not lone seconds). "ours (raw)" writes the model with Tensor ops
and a hand-written update; "ours (nn)" uses nn.Linear and optim.SGD/Adam; "ours (jit)" is the
same nn step wrapped in `tg.jit`, timed after its warm-up (its two traced calls and the compile
for each input shape run first, on the first and last batch, and are reported under the table;
the memory measurement includes them). For W1, "numpy, (out, in) weights" is the hand-written
step with its weights stored as nn.Linear and PyTorch store them (`x @ w.T`, `d.T @ x`): the same
arithmetic, timed to show what that layout alone costs (OpenBLAS runs these shapes slower
transposed), which every nn step pays and the "numpy" floor does not.

    python benchmarks/bench_core.py            # everything, 3 rounds
    python benchmarks/bench_core.py --rounds 5 --only W1b10
    python benchmarks/bench_core.py --memory   # also peak memory of W2 (tracemalloc), eager and jit
    python benchmarks/bench_core.py --memory --only W2 --rounds 1 --decimals 3
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

try:  # optional reference
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
except ImportError:  # pragma: no cover - torch is optional
    torch = None

try:
    from tinygrad_lite import nn, optim
except ImportError:  # nn/optim not built yet
    nn = optim = None

N_SAMPLES = 60_000


def make_data(n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((N_SAMPLES, 784), dtype=np.float32)
    labels = rng.integers(0, n_out, N_SAMPLES)
    y = np.eye(n_out, dtype=np.float32)[labels]
    return x, y, labels


def init_layers(sizes, seed=1):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


# NOTE: a jitted step is timed as a training run sees it after its first epoch: its two traced
# (eager, recorded) calls and the compile of the replay, once per input shape (the full batch and
# the last, shorter one), run before the clock starts, on the first and last batches; their time
# is kept here and printed under the table. Timed with them, a 40-step run (the LSTM's) pays
# 12% more per step: the traces and the compile of a 3,000-line replay, spread over 40 steps.
JIT_WARM_UP: dict = {}


def _warm_up(name, step, *batches):
    """Run the jitted `step` three times on each batch (two traces, then one replay)."""
    t0 = time.perf_counter()
    for args in batches:
        for _ in range(3):
            step(*args)
    JIT_WARM_UP.setdefault(name, []).append(time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------- W4 ----
def w4_ours(iters):
    a, b, c = (Tensor(np.ones((1, 1), np.float32), requires_grad=True) for _ in range(3))
    t0 = time.perf_counter()
    for _ in range(iters):
        ((a * b) + c).sum().backward()
    return time.perf_counter() - t0


def w4_jit(iters):
    a, b, c = (Tensor(np.ones((1, 1), np.float32), requires_grad=True) for _ in range(3))
    step = tg.jit(lambda: ((a * b) + c).sum().backward())
    _warm_up("W4", step, ())
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return time.perf_counter() - t0


def w4_numpy(iters):
    a, b, c = (np.ones((1, 1), np.float32) for _ in range(3))
    ga, gb, gc = (np.zeros((1, 1), np.float32) for _ in range(3))
    t0 = time.perf_counter()
    for _ in range(iters):
        ab = a * b
        s = ab + c
        s.sum()
        g = np.ones_like(s)
        ga += g * b
        gb += g * a
        gc += g
    return time.perf_counter() - t0


def w4_torch(iters):
    a, b, c = (torch.ones((1, 1), requires_grad=True) for _ in range(3))
    t0 = time.perf_counter()
    for _ in range(iters):
        ((a * b) + c).sum().backward()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------- W1 ----
def w1_numpy(x, y, batch, lr=3.0):
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for saturated units: harmless here
        return _w1_numpy(x, y, batch, lr)


def _w1_numpy(x, y, batch, lr):
    w1, b1, w2, b2, w3, b3 = init_layers([784, 16, 16, 10])
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        n = len(xb)
        a1 = 1 / (1 + np.exp(-(xb @ w1 + b1)))
        a2 = 1 / (1 + np.exp(-(a1 @ w2 + b2)))
        a3 = 1 / (1 + np.exp(-(a2 @ w3 + b3)))
        d3 = (a3 - yb) * (a3 * (1 - a3)) / n
        d2 = (d3 @ w3.T) * (a2 * (1 - a2))
        d1 = (d2 @ w2.T) * (a1 * (1 - a1))
        w3 -= lr * (a2.T @ d3)
        b3 -= lr * d3.sum(0)
        w2 -= lr * (a1.T @ d2)
        b2 -= lr * d2.sum(0)
        w1 -= lr * (xb.T @ d1)
        b1 -= lr * d1.sum(0)
    return time.perf_counter() - t0


def w1_numpy_out_in(x, y, batch, lr=3.0):
    """w1_numpy with each weight stored (out, in), as nn.Linear and PyTorch store it: the same
    arithmetic, products `x @ w.T` and `d.T @ x`. It measures the layout's own cost (OpenBLAS is
    slower for these shapes transposed this way), which a jitted nn step pays and w1_numpy does
    not."""
    with np.errstate(over="ignore"):
        return _w1_numpy_out_in(x, y, batch, lr)


def _w1_numpy_out_in(x, y, batch, lr):
    # NOTE: a copy of _w1_numpy's loop on purpose, not a parameter of it: a floor stays plain
    # numpy, with no indirection per product; only the products' forms differ
    w1, b1, w2, b2, w3, b3 = (np.ascontiguousarray(p.T) if p.ndim == 2 else p
                              for p in init_layers([784, 16, 16, 10]))
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        n = len(xb)
        a1 = 1 / (1 + np.exp(-(xb @ w1.T + b1)))
        a2 = 1 / (1 + np.exp(-(a1 @ w2.T + b2)))
        a3 = 1 / (1 + np.exp(-(a2 @ w3.T + b3)))
        d3 = (a3 - yb) * (a3 * (1 - a3)) / n
        d2 = (d3 @ w3) * (a2 * (1 - a2))
        d1 = (d2 @ w2) * (a1 * (1 - a1))
        w3 -= lr * (d3.T @ a2)
        b3 -= lr * d3.sum(0)
        w2 -= lr * (d2.T @ a1)
        b2 -= lr * d2.sum(0)
        w1 -= lr * (d1.T @ xb)
        b1 -= lr * d1.sum(0)
    return time.perf_counter() - t0


def w1_ours_raw(x, y, batch, lr=3.0):
    params = [Tensor(p, requires_grad=True) for p in init_layers([784, 16, 16, 10])]
    w1, b1, w2, b2, w3, b3 = params
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = Tensor(x[i:i + batch]), Tensor(y[i:i + batch])
        a = (xb @ w1 + b1).sigmoid()
        a = (a @ w2 + b2).sigmoid()
        a = (a @ w3 + b3).sigmoid()
        diff = a - yb
        loss = (diff * diff).sum() * (0.5 / len(xb))
        loss.backward()
        for p in params:
            p.data -= lr * p.grad.data
            p.grad = None
    return time.perf_counter() - t0


def w1_nn_step(lr=3.0):
    """W1's training step with nn.Linear/nn.Sigmoid and optim.SGD (a fresh model)."""
    model = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                          nn.Linear(16, 10), nn.Sigmoid())
    _load_into(model, init_layers([784, 16, 16, 10]))
    opt = optim.SGD(model.parameters(), lr=lr)

    def step(xb, yb):
        diff = model(xb) - yb
        loss = (diff * diff).sum() * (0.5 / len(xb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def w1_ours_nn(x, y, batch, lr=3.0, use_jit=False):
    step = w1_nn_step(lr)
    if use_jit:
        step = tg.jit(step)
        last = (len(x) - 1) // batch * batch
        _warm_up(f"W1b{batch}", step, (Tensor(x[:batch]), Tensor(y[:batch])),
                 (Tensor(x[last:]), Tensor(y[last:])))
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        step(Tensor(x[i:i + batch]), Tensor(y[i:i + batch]))
    return time.perf_counter() - t0


def w1_torch(x, y, batch, lr=3.0):
    layers = []
    for w, b in _pairs(init_layers([784, 16, 16, 10])):
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = xt[i:i + batch], yt[i:i + batch]
        loss = 0.5 * ((model(xb) - yb) ** 2).sum() / len(xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------- W2 ----
class _NumpyAdam:
    """Adam as a careful numpy programmer writes it: in place, one scratch array per step (the
    same arithmetic as optim.Adam, so W2 compares the frameworks, not two Adam codings)."""

    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            sq = np.multiply(g, g)
            sq *= 1 - self.b2
            v += sq
            denom = np.sqrt(v, out=sq)
            denom /= np.sqrt(c2)
            denom += self.eps
            np.divide(m, denom, out=denom)
            denom *= self.lr / c1
            p -= denom


def w2_numpy(x, y, labels, batch=128):
    params = init_layers([784, 256, 128, 10])
    w1, b1, w2, b2, w3, b3 = params
    opt = _NumpyAdam(params)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        n = len(xb)
        z1 = xb @ w1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ w2 + b2
        a2 = np.maximum(z2, 0)
        z3 = a2 @ w3 + b3
        z3 = z3 - z3.max(axis=1, keepdims=True)
        e = np.exp(z3)
        p = e / e.sum(axis=1, keepdims=True)
        d3 = (p - yb) / n
        d2 = (d3 @ w3.T) * (z2 > 0)
        d1 = (d2 @ w2.T) * (z1 > 0)
        grads = [xb.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0)]
        opt.step(grads)
    return time.perf_counter() - t0


def w2_ours_raw(x, y, labels, batch=128):
    arrays = init_layers([784, 256, 128, 10])
    params = [Tensor(p, requires_grad=True) for p in arrays]
    w1, b1, w2, b2, w3, b3 = params
    opt = _NumpyAdam([p.data for p in params])
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb, yb = Tensor(x[i:i + batch]), Tensor(y[i:i + batch])
        h = (xb @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        logits = h @ w3 + b3
        loss = -(logits.log_softmax(axis=1) * yb).sum() * (1.0 / len(xb))
        loss.backward()
        opt.step([p.grad.data for p in params])
        for p in params:
            p.grad = None
    return time.perf_counter() - t0


def w2_nn_step():
    """W2's training step with nn.Linear/nn.ReLU, cross_entropy and optim.Adam (a fresh model)."""
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    _load_into(model, init_layers([784, 256, 128, 10]))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(xb, yb):
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def w2_ours_nn(x, y, labels, batch=128, use_jit=False):
    step = w2_nn_step()
    if use_jit:
        step = tg.jit(step)
        last = (len(x) - 1) // batch * batch
        _warm_up("W2", step, (Tensor(x[:batch]), Tensor(labels[:batch])),
                 (Tensor(x[last:]), Tensor(labels[last:])))
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        step(Tensor(x[i:i + batch]), Tensor(labels[i:i + batch]))
    return time.perf_counter() - t0


def w2_ours_jit(x, y, labels, batch=128):
    return w2_ours_nn(x, y, labels, batch, use_jit=True)


def w2_torch(x, y, labels, batch=128):
    layers = []
    pairs = _pairs(init_layers([784, 256, 128, 10]))
    for k, (w, b) in enumerate(pairs):
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(pairs) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, lt = torch.from_numpy(x), torch.from_numpy(labels)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        loss = torch.nn.functional.cross_entropy(model(xt[i:i + batch]), lt[i:i + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- LSTM ----
LSTM_HIDDEN, LSTM_BATCH, LSTM_STEPS = 64, 128, 40


def _lstm_reference():
    """bench_conv_lstm.py's hand-written numpy LSTM (the floor), with its module's names bound."""
    import bench_conv_lstm as ref

    ref.np, ref.tg, ref.Tensor, ref.nn, ref.optim, ref.torch = np, tg, Tensor, nn, optim, torch
    ref.F = nn.functional
    return ref


def lstm_data():
    from tinygrad_lite.data import mnist

    x, y = mnist.load("test")
    n = LSTM_BATCH * LSTM_STEPS
    return ((x[:n] - 0.1307) / 0.3081).astype(np.float32), y[:n]


def lstm_numpy(x, y):
    return _lstm_reference().lstm_numpy(x, y, LSTM_BATCH, LSTM_STEPS, LSTM_HIDDEN)


def lstm_step(use_jit=False):
    """The training step of examples/mnist_lstm.py (its RowLSTM's forward, cross-entropy, Adam),
    starting from the numpy reference's weights: step(x, y) with x (batch, 28, 28)."""
    lstm, head = nn.LSTM(28, LSTM_HIDDEN, batch_first=True), nn.Linear(LSTM_HIDDEN, 10)
    for p, a in zip([lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0,
                     head.weight, head.bias], _lstm_reference().lstm_arrays(LSTM_HIDDEN)):
        p.data = a.copy()
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)

    def step(xb, yb):
        _, (h, _) = lstm(xb)
        loss = nn.functional.cross_entropy(head(h[-1]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return tg.jit(step) if use_jit else step


def lstm_ours(x, y, use_jit=False):
    step = lstm_step(use_jit)
    if use_jit:
        _warm_up("LSTM", step, (Tensor(x[:LSTM_BATCH]), Tensor(y[:LSTM_BATCH])))
    t0 = time.perf_counter()
    for s in range(LSTM_STEPS):
        lo, hi = s * LSTM_BATCH, (s + 1) * LSTM_BATCH
        step(Tensor(x[lo:hi]), Tensor(y[lo:hi]))
    return time.perf_counter() - t0


def lstm_torch(x, y):
    return _lstm_reference().lstm_torch(x, y, LSTM_BATCH, LSTM_STEPS, LSTM_HIDDEN)


def _pairs(params):
    return list(zip(params[0::2], params[1::2]))


def _load_into(model, arrays):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for lin, (w, b) in zip(linears, _pairs(arrays)):
        lin.weight.data = w.T.copy()
        lin.bias.data = b.copy()


# ----------------------------------------------------------------------------------------- driver ----
def run(rounds, only, memory, skip_nn=False, decimals=1):
    x10, y10, l10 = make_data(10)
    xl, yl = lstm_data()
    w4_iters = 20_000
    have_nn = (not skip_nn and hasattr(nn, "Sequential") and hasattr(optim, "Adam"))
    workloads = {
        "W4": {"numpy": lambda: w4_numpy(w4_iters), "ours (raw)": lambda: w4_ours(w4_iters),
               "ours (jit)": lambda: w4_jit(w4_iters), "torch": lambda: w4_torch(w4_iters)},
        "W1b10": {"numpy": lambda: w1_numpy(x10, y10, 10),
                  "numpy, (out, in) weights": lambda: w1_numpy_out_in(x10, y10, 10),
                  "ours (raw)": lambda: w1_ours_raw(x10, y10, 10),
                  "ours (nn)": lambda: w1_ours_nn(x10, y10, 10),
                  "ours (jit)": lambda: w1_ours_nn(x10, y10, 10, use_jit=True),
                  "torch": lambda: w1_torch(x10, y10, 10)},
        "W1b128": {"numpy": lambda: w1_numpy(x10, y10, 128),
                   "numpy, (out, in) weights": lambda: w1_numpy_out_in(x10, y10, 128),
                   "ours (raw)": lambda: w1_ours_raw(x10, y10, 128),
                   "ours (nn)": lambda: w1_ours_nn(x10, y10, 128),
                   "ours (jit)": lambda: w1_ours_nn(x10, y10, 128, use_jit=True),
                   "torch": lambda: w1_torch(x10, y10, 128)},
        "W2": {"numpy": lambda: w2_numpy(x10, y10, l10), "ours (raw)": lambda: w2_ours_raw(x10, y10, l10),
               "ours (nn)": lambda: w2_ours_nn(x10, y10, l10),
               "ours (jit)": lambda: w2_ours_jit(x10, y10, l10), "torch": lambda: w2_torch(x10, y10, l10)},
        "LSTM": {"numpy": lambda: lstm_numpy(xl, yl), "ours (nn)": lambda: lstm_ours(xl, yl),
                 "ours (jit)": lambda: lstm_ours(xl, yl, use_jit=True),
                 "torch": lambda: lstm_torch(xl, yl)},
    }
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
          f"tinygrad_lite {tg.__version__}, rounds={rounds}")
    print()
    print("| workload | impl | median s | vs numpy | vs torch |")
    print("|---|---|---|---|---|")
    for name, impls in workloads.items():
        if only and name not in only:
            continue
        impls = {k: f for k, f in impls.items()
                 if (k != "torch" or torch is not None)
                 and (not k.startswith("ours (") or k == "ours (raw)" or have_nn)}
        times = {k: [] for k in impls}
        names = list(impls)
        for r in range(rounds):
            # NOTE: the order rotates each round, and each run starts after a short pause: a
            # library's worker threads (PyTorch's OpenMP pool, OpenBLAS) spin for a while after
            # a run and would otherwise slow whichever implementation always comes next.
            for k in names[r % len(names):] + names[:r % len(names)]:
                gc.collect()
                time.sleep(0.3)
                times[k].append(impls[k]())
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, t in med.items():
            unit = (f"{t / w4_iters * 1e6:.1f} us/iter" if name == "W4" else
                    f"{t / LSTM_STEPS * 1e3:.1f} ms/step" if name == "LSTM" else f"{t:.3f}")
            vs_np = t / med["numpy"]
            vs_t = f"{t / med['torch']:.2f}x" if "torch" in med else "n/a"
            print(f"| {name} | {k} | {unit} | {vs_np:.2f}x | {vs_t} |")
    if JIT_WARM_UP:
        print()
        print("tg.jit's warm-up, outside the timed steps (two traced calls and the compile per input "
              "shape, then one replay; median over rounds): " + ", ".join(
                  f"{name} {statistics.median(ts) * 1e3:.0f} ms" for name, ts in JIT_WARM_UP.items()))
    if memory:
        print()
        print("| W2 peak memory (tracemalloc) | MiB |")
        print("|---|---|")
        xs, ys, ls = x10[:12_800], y10[:12_800], l10[:12_800]
        mem_impls = {"numpy": w2_numpy, "ours (raw)": w2_ours_raw}
        if have_nn:
            mem_impls["ours (nn)"] = w2_ours_nn
            mem_impls["ours (jit)"] = w2_ours_jit
        for k, f in mem_impls.items():
            gc.collect()
            tracemalloc.start()
            f(xs, ys, ls)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"| {k} | {peak / 2**20:.{decimals}f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="workloads to run: W4 W1b10 W1b128 W2 LSTM")
    ap.add_argument("--memory", action="store_true", help="also measure W2 peak memory")
    ap.add_argument("--no-nn", action="store_true", help="skip the nn/optim variant")
    ap.add_argument("--decimals", type=int, default=1,
                    help="decimals of the peak memory figures (MiB; tracemalloc is deterministic)")
    args = ap.parse_args()
    run(args.rounds, args.only, args.memory, args.no_nn, args.decimals)


if __name__ == "__main__":
    main()
