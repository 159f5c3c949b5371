"""Conv/pool and LSTM speed: tinygrad_lite vs hand-written numpy (the floor) vs PyTorch CPU.

Workloads (shapes of examples/mnist_cnn.py and examples/mnist_lstm.py, on real MNIST images):
  conv   Conv2d(8 -> 16, 5x5) forward + backward (input and weight gradients), (64, 8, 12, 12)
  pool   max_pool2d(2) forward + backward, (64, 8, 24, 24), after a ReLU (so windows have ties)
  cnn    training steps of the example CNN (conv 5x5 -> relu -> pool 2, twice, then linear; Adam)
  lstm   training steps of the example LSTM (28 rows of 28 pixels -> LSTM -> linear; Adam)

The implementations run interleaved, round by round, on the same data; the table gives the median of
the rounds and the ratios to numpy and to PyTorch measured in this same run (these machines are
shared and noisy: compare ratios, not lone seconds). "numpy" is written by hand: im2col in the
(N, C*kh*kw, H*W) layout with one batched matmul, pooling by strided slices, the LSTM's backward
through time by hand, the same Adam.

    python benchmarks/bench_conv_lstm.py                    # everything, 5 rounds
    python benchmarks/bench_conv_lstm.py --only cnn lstm --rounds 3
    python benchmarks/bench_conv_lstm.py --threads 1        # single-threaded BLAS (steadier)
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

# NOTE: numpy, torch and the library are imported in main(), after --threads has set the BLAS thread
# count (OpenBLAS reads it once, when numpy loads). On a busy 2-core machine the default (one thread
# per core) can make small matmuls many times slower: the threads wait for each other.
np = tg = Tensor = nn = optim = F = torch = None

CNN = dict(c1=8, c2=16, hidden=0)  # the example's defaults (see examples/mnist_cnn.py)
LSTM_HIDDEN = 64  # the example's default (see examples/mnist_lstm.py)


def load_images(n):
    from tinygrad_lite.data import mnist

    x, y = mnist.load("test")
    x = ((x[:n] - 0.1307) / 0.3081).astype(np.float32)
    return x, y[:n]


# -------------------------------------------------------------------------- hand-written numpy ----
def np_im2col(x, k):
    """(N, C, H, W) -> (N, C*k*k, oh*ow), the layout whose copy reads whole rows of x."""
    n, c, h, w = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # N C oh ow k k
    oh, ow = h - k + 1, w - k + 1
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k * k, oh * ow), oh, ow


def np_col2im(cols, shape, k):
    n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(n, c, k, k, oh, ow)
    out = np.zeros(shape, cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + oh, j:j + ow] += cols[:, :, i, j]
    return out


def np_conv_forward(x, w, b):
    cols, oh, ow = np_im2col(x, w.shape[-1])
    out = w.reshape(w.shape[0], -1) @ cols + b[:, None]
    return out.reshape(x.shape[0], w.shape[0], oh, ow), cols


def np_conv_backward(g, x_shape, cols, w, need_dx=True):
    n, o = g.shape[:2]
    g = g.reshape(n, o, -1)
    gw = (g @ cols.transpose(0, 2, 1)).sum(0).reshape(w.shape)
    gb = g.sum(axis=(0, 2))
    gx = np_col2im(w.reshape(o, -1).T @ g, x_shape, w.shape[-1]) if need_dx else None
    return gx, gw, gb


def np_pool_forward(x):
    """2x2 max pool by four strided slices."""
    return np.maximum(np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                      np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


def np_pool_backward(g, x, out):
    """Ties split the gradient evenly, as tinygrad_lite's Max does."""
    offsets = [(a, b) for a in (0, 1) for b in (0, 1)]
    eqs = [x[:, :, a::2, b::2] == out for a, b in offsets]
    share = g / sum(e.astype(g.dtype) for e in eqs)
    gx = np.empty_like(x)
    for (a, b), eq in zip(offsets, eqs):
        gx[:, :, a::2, b::2] = eq * share
    return gx


class NumpyAdam:
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
            v += (1 - self.b2) * (g * g)
            denom = np.sqrt(v)
            denom /= np.sqrt(c2)
            denom += self.eps
            p -= (self.lr / c1) * (m / denom)


def np_softmax_ce_grad(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(labels)), labels]).mean()
    p[np.arange(len(labels)), labels] -= 1
    return loss, p / len(labels)


def uniform(rng, shape, fan_in):
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def cnn_arrays(c1, c2, hidden, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [uniform(rng, (c1, 1, 5, 5), 25), uniform(rng, (c1,), 25),
              uniform(rng, (c2, c1, 5, 5), c1 * 25), uniform(rng, (c2,), c1 * 25)]
    width = c2 * 16
    for n_out in ([hidden] if hidden else []) + [10]:
        arrays += [uniform(rng, (n_out, width), width), uniform(rng, (n_out,), width)]
        width = n_out
    return arrays


def cnn_numpy(x, y, batch, steps, c1, c2, hidden):
    params = cnn_arrays(c1, c2, hidden)
    opt = NumpyAdam(params)
    t0 = time.perf_counter()
    for s in range(steps):
        xb, yb = x[s * batch:(s + 1) * batch, None], y[s * batch:(s + 1) * batch]
        w1, b1, w2, b2 = params[:4]
        z1, cols1 = np_conv_forward(xb, w1, b1)
        a1 = np.maximum(z1, 0)
        p1 = np_pool_forward(a1)
        z2, cols2 = np_conv_forward(p1, w2, b2)
        a2 = np.maximum(z2, 0)
        p2 = np_pool_forward(a2)
        h = p2.reshape(len(xb), -1)
        acts = [h]
        dense = params[4:]
        for i in range(0, len(dense), 2):
            h = h @ dense[i].T + dense[i + 1]
            if i + 2 < len(dense):
                h = np.maximum(h, 0)
            acts.append(h)
        _, g = np_softmax_ce_grad(h, yb)
        dense_grads = []
        for i in range(len(dense) - 2, -1, -2):
            inp = acts[i // 2]
            dense_grads = [g.T @ inp, g.sum(0)] + dense_grads
            g = g @ dense[i]
            if i > 0:
                g = g * (inp > 0)
        g = np_pool_backward(g.reshape(p2.shape), a2, p2) * (z2 > 0)
        g, gw2, gb2 = np_conv_backward(g, p1.shape, cols2, w2)
        g = np_pool_backward(g, a1, p1) * (z1 > 0)
        _, gw1, gb1 = np_conv_backward(g, xb.shape, cols1, w1, need_dx=False)
        opt.step([gw1, gb1, gw2, gb2] + dense_grads)
    return time.perf_counter() - t0


def lstm_arrays(hidden, seed=0):
    rng = np.random.default_rng(seed)
    k = hidden ** 2  # PyTorch's bound 1/sqrt(hidden)
    return [uniform(rng, (4 * hidden, 28), k), uniform(rng, (4 * hidden, hidden), k),
            uniform(rng, (4 * hidden,), k), uniform(rng, (4 * hidden,), k),
            uniform(rng, (10, hidden), hidden), uniform(rng, (10,), hidden)]


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1)


def lstm_numpy(x, y, batch, steps, hidden):
    params = lstm_arrays(hidden)
    opt = NumpyAdam(params)
    H = hidden
    t0 = time.perf_counter()
    for s in range(steps):
        xb, yb = x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
        n, T = len(xb), xb.shape[1]
        xs = xb.transpose(1, 0, 2)  # T N 28
        proj = (xs.reshape(T * n, 28) @ w_ih.T + (b_ih + b_hh)).reshape(T, n, 4 * H)
        h = np.zeros((n, H), np.float32)
        c = np.zeros((n, H), np.float32)
        cache = []
        for t in range(T):
            z = proj[t] + h @ w_hh.T
            i, f, o = (_sigmoid(z[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
            g = np.tanh(z[:, 2 * H:3 * H])
            c_prev, h_prev = c, h
            c = f * c + i * g
            tc = np.tanh(c)
            h = o * tc
            cache.append((i, f, g, o, c_prev, tc, h_prev))
        logits = h @ w_out.T + b_out
        _, d = np_softmax_ce_grad(logits, yb)
        g_wout, g_bout = d.T @ h, d.sum(0)
        dh = d @ w_out
        dc = np.zeros_like(c)
        dz = np.empty((T, n, 4 * H), np.float32)
        g_whh = np.zeros_like(w_hh)
        for t in range(T - 1, -1, -1):
            i, f, g, o, c_prev, tc, h_prev = cache[t]
            dc = dc + dh * o * (1 - tc * tc)
            dzt = dz[t]
            dzt[:, :H] = dc * g * i * (1 - i)
            dzt[:, H:2 * H] = dc * c_prev * f * (1 - f)
            dzt[:, 2 * H:3 * H] = dc * i * (1 - g * g)
            dzt[:, 3 * H:] = dh * tc * o * (1 - o)
            g_whh += dzt.T @ h_prev
            dh = dzt @ w_hh
            dc = dc * f
        dzf = dz.reshape(T * n, 4 * H)
        g_wih = dzf.T @ xs.reshape(T * n, 28)
        g_b = dzf.sum(0)
        opt.step([g_wih, g_whh, g_b, g_b, g_wout, g_bout])
    return time.perf_counter() - t0


def conv_numpy(x, w, b, g, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        _, cols = np_conv_forward(x, w, b)
        np_conv_backward(g, x.shape, cols, w)
    return time.perf_counter() - t0


def pool_numpy(x, g, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        out = np_pool_forward(x)
        np_pool_backward(g, x, out)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------- ours -----
def conv_ours(x, w, b, g, iters):
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
    gt = Tensor(g)
    t0 = time.perf_counter()
    for _ in range(iters):
        xt.conv2d(wt, bt).backward(gt)
        xt.grad = wt.grad = bt.grad = None
    return time.perf_counter() - t0


def pool_ours(x, g, iters):
    xt, gt = Tensor(x, requires_grad=True), Tensor(g)
    t0 = time.perf_counter()
    for _ in range(iters):
        xt.max_pool2d(2).backward(gt)
        xt.grad = None
    return time.perf_counter() - t0


def cnn_model_ours(c1, c2, hidden):
    layers = [nn.Conv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c1, c2, 5), nn.ReLU(),
              nn.MaxPool2d(2), nn.Flatten()]
    layers += [nn.Linear(c2 * 16, hidden), nn.ReLU(), nn.Linear(hidden, 10)] if hidden else \
        [nn.Linear(c2 * 16, 10)]
    model = nn.Sequential(*layers)
    params = [p for m in model if hasattr(m, "weight") for p in (m.weight, m.bias)]
    for p, a in zip(params, cnn_arrays(c1, c2, hidden)):
        p.data = a.copy()
    return model


def cnn_ours(x, y, batch, steps, c1, c2, hidden):
    model = cnn_model_ours(c1, c2, hidden)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for s in range(steps):
        xb = Tensor(x[s * batch:(s + 1) * batch, None])
        yb = Tensor(y[s * batch:(s + 1) * batch])
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def lstm_ours(x, y, batch, steps, hidden):
    lstm, head = nn.LSTM(28, hidden, batch_first=True), nn.Linear(hidden, 10)
    for p, a in zip([lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0,
                     head.weight, head.bias], lstm_arrays(hidden)):
        p.data = a.copy()
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    t0 = time.perf_counter()
    for s in range(steps):
        xb = Tensor(x[s * batch:(s + 1) * batch])
        yb = Tensor(y[s * batch:(s + 1) * batch])
        _, (h, _) = lstm(xb)
        loss = F.cross_entropy(head(h[0]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------- torch -----
def conv_torch(x, w, b, g, iters):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = torch.from_numpy(g)
    t0 = time.perf_counter()
    for _ in range(iters):
        torch.nn.functional.conv2d(xt, wt, bt).backward(gt)
        xt.grad = wt.grad = bt.grad = None
    return time.perf_counter() - t0


def pool_torch(x, g, iters):
    xt, gt = torch.tensor(x, requires_grad=True), torch.from_numpy(g)
    t0 = time.perf_counter()
    for _ in range(iters):
        torch.nn.functional.max_pool2d(xt, 2).backward(gt)
        xt.grad = None
    return time.perf_counter() - t0


def cnn_torch(x, y, batch, steps, c1, c2, hidden):
    tnn = torch.nn
    layers = [tnn.Conv2d(1, c1, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(c1, c2, 5), tnn.ReLU(),
              tnn.MaxPool2d(2), tnn.Flatten()]
    layers += [tnn.Linear(c2 * 16, hidden), tnn.ReLU(), tnn.Linear(hidden, 10)] if hidden else \
        [tnn.Linear(c2 * 16, 10)]
    model = tnn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x[:, None]), torch.from_numpy(y)
    t0 = time.perf_counter()
    for s in range(steps):
        loss = tnn.functional.cross_entropy(model(xt[s * batch:(s + 1) * batch]),
                                            yt[s * batch:(s + 1) * batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def lstm_torch(x, y, batch, steps, hidden):
    lstm, head = torch.nn.LSTM(28, hidden, batch_first=True), torch.nn.Linear(hidden, 10)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.perf_counter()
    for s in range(steps):
        _, (h, _) = lstm(xt[s * batch:(s + 1) * batch])
        loss = torch.nn.functional.cross_entropy(head(h[0]), yt[s * batch:(s + 1) * batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------- driver -----
def workloads(cnn_batch, cnn_steps, lstm_batch, lstm_steps):
    n = max(cnn_batch * cnn_steps, lstm_batch * lstm_steps)
    images, labels = load_images(n)
    rng = np.random.default_rng(0)
    conv_x = np.maximum(rng.standard_normal((64, 8, 12, 12), dtype=np.float32), 0)
    conv_w = cnn_arrays(8, 16, 0)[2]
    conv_b = cnn_arrays(8, 16, 0)[3]
    conv_g = rng.standard_normal((64, 16, 8, 8), dtype=np.float32)
    pool_x = np.maximum(rng.standard_normal((64, 8, 24, 24), dtype=np.float32), 0)
    pool_g = rng.standard_normal((64, 8, 12, 12), dtype=np.float32)
    iters = 50
    cnn_args = (images, labels, cnn_batch, cnn_steps, CNN["c1"], CNN["c2"], CNN["hidden"])
    lstm_args = (images, labels, lstm_batch, lstm_steps, LSTM_HIDDEN)
    return {
        "conv": ({"numpy": lambda: conv_numpy(conv_x, conv_w, conv_b, conv_g, iters),
                  "ours": lambda: conv_ours(conv_x, conv_w, conv_b, conv_g, iters),
                  "torch": lambda: conv_torch(conv_x, conv_w, conv_b, conv_g, iters)},
                 iters, "call"),
        "pool": ({"numpy": lambda: pool_numpy(pool_x, pool_g, iters),
                  "ours": lambda: pool_ours(pool_x, pool_g, iters),
                  "torch": lambda: pool_torch(pool_x, pool_g, iters)}, iters, "call"),
        "cnn": ({"numpy": lambda: cnn_numpy(*cnn_args), "ours": lambda: cnn_ours(*cnn_args),
                 "torch": lambda: cnn_torch(*cnn_args)}, cnn_steps, "step"),
        "lstm": ({"numpy": lambda: lstm_numpy(*lstm_args), "ours": lambda: lstm_ours(*lstm_args),
                  "torch": lambda: lstm_torch(*lstm_args)}, lstm_steps, "step"),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="workloads to run: conv pool cnn lstm")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS (and torch) threads; default: the libraries' defaults")
    ap.add_argument("--cnn-batch", type=int, default=64)
    ap.add_argument("--lstm-batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="training steps per timed run")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    global np, tg, Tensor, nn, optim, F, torch
    import numpy as np

    import tinygrad_lite as tg
    import tinygrad_lite.nn.functional as F
    from tinygrad_lite import Tensor, nn, optim

    if not args.no_torch:
        try:
            import torch

            if args.threads is not None:
                torch.set_num_threads(args.threads)
        except ImportError:  # torch is optional
            torch = None
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or "default"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not used'}, "
          f"tinygrad_lite {tg.__version__}, {os.cpu_count()} CPUs, BLAS threads: {threads}, "
          f"load average {load:.2f}, rounds={args.rounds}")
    print()
    print("| workload | impl | median ms per call/step | vs numpy | vs torch |")
    print("|---|---|---|---|---|")
    table = workloads(args.cnn_batch, args.steps, args.lstm_batch, args.steps)
    for name, (impls, count, unit) in table.items():
        if args.only and name not in args.only:
            continue
        impls = {k: f for k, f in impls.items() if k != "torch" or torch is not None}
        for f in impls.values():  # warm-up (caches, lazily built state)
            f()
        times = {k: [] for k in impls}
        for _ in range(args.rounds):
            for k, f in impls.items():
                gc.collect()
                times[k].append(f())
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, t in med.items():
            vs_t = f"{t / med['torch']:.2f}x" if "torch" in med else "n/a"
            print(f"| {name} | {k} | {t / count * 1e3:.2f} per {unit} | {t / med['numpy']:.2f}x "
                  f"| {vs_t} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
