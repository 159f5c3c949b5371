"""Speed-trick audit: instructions per training step of bench_core's workloads, under callgrind.

Wall-clock time on a shared machine is noise; instruction counts are deterministic. Each variant
of the package (a directory, or a git revision of `tinygrad_lite/`) is imported under its own
name, in one `valgrind --tool=callgrind` run per variant: each workload is set up and warmed up
(2 steps), then N steps run between two marker calls that make callgrind dump its counts, so the
count of the N steps, divided by N, is one step's cost with start-up and imports left out.

Workloads (the steps of benchmarks/bench_core.py, one batch reused):
  W4       ((a*b)+c).sum().backward() on 1x1 float32 tensors
  W1b10r   784-16-16-10 sigmoid MLP, squared error, SGD by hand, batch 10, raw Tensor ops
  W1b10n   the same with nn.Linear/nn.Sigmoid and optim.SGD
  W1b128r, W1b128n   the same at batch 128
  W2r      784-256-128-10 ReLU MLP, log_softmax cross-entropy by hand, batch 128, raw Tensor ops
  W2n      the same with nn.Linear/nn.ReLU, nn.functional.cross_entropy and optim.Adam
  POOL     2x2 max pooling of (64, 8, 24, 24) forward and backward (the CNN example's pool)

    python benchmarks/audit_tricks.py --rev before=HEAD~1 --rev after=HEAD
    python benchmarks/audit_tricks.py --wall --rev before=HEAD~1 --rev after=HEAD --workloads W4
    python benchmarks/audit_tricks.py --wall --min-of 20 --rev before=1beb997 --rev after=HEAD
    python benchmarks/audit_tricks.py --pkg with=tinygrad_lite --pkg without=/tmp/variant/tinygrad_lite \\
        --workloads W4 W1b10r
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"W4": 200, "W1b10r": 40, "W1b10n": 40, "W1b128r": 20, "W1b128n": 20, "W2r": 5, "W2n": 5,
         "POOL": 10}


# ------------------------------------------------------------------------------ the workloads ----
def make_step(tg, workload):
    """One training step of `workload`, written with the package `tg`, as a function."""
    import numpy as np

    T, nn, optim = tg.Tensor, tg.nn, tg.optim
    rng = np.random.default_rng(0)
    if workload == "W4":
        a, b, c = (T(np.ones((1, 1), np.float32), requires_grad=True) for _ in range(3))

        def step():
            ((a * b) + c).sum().backward()
        return step
    if workload == "POOL":
        x = T(rng.standard_normal((64, 8, 24, 24)).astype(np.float32), requires_grad=True)

        def step():
            x.grad = None
            x.max_pool2d(2).sum().backward()
        return step
    batch = 10 if workload.startswith("W1b10") else 128
    sizes = [784, 16, 16, 10] if workload.startswith("W1") else [784, 256, 128, 10]
    xb = T(rng.random((batch, 784), dtype=np.float32))
    labels = rng.integers(0, 10, batch)
    yb = T(np.eye(10, dtype=np.float32)[labels])
    if workload.endswith("r"):
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / np.sqrt(fan_in)
            params.append(T(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                            requires_grad=True))
            params.append(T(rng.uniform(-bound, bound, fan_out).astype(np.float32),
                            requires_grad=True))
        w1, b1, w2, b2, w3, b3 = params

        def step():
            if workload.startswith("W1"):
                a = (xb @ w1 + b1).sigmoid()
                a = (a @ w2 + b2).sigmoid()
                a = (a @ w3 + b3).sigmoid()
                diff = a - yb
                loss = (diff * diff).sum() * (0.5 / batch)
            else:
                h = (xb @ w1 + b1).relu()
                h = (h @ w2 + b2).relu()
                logits = h @ w3 + b3
                loss = -(logits.log_softmax(axis=1) * yb).sum() * (1.0 / batch)
            loss.backward()
            for p in params:  # SGD by hand (bench_core's W2 raw uses a numpy Adam: same cost here)
                p.data -= 0.01 * p.grad.data
                p.grad = None
        return step
    act = nn.Sigmoid if workload.startswith("W1") else nn.ReLU
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), act()]
    if workload.startswith("W2"):
        layers.pop()
        model = nn.Sequential(*layers)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        target = T(labels)

        def step():
            loss = nn.functional.cross_entropy(model(xb), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=3.0)

    def step():
        diff = model(xb) - yb
        loss = (diff * diff).sum() * (0.5 / batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def child(pkg_parent, pkg_name, workloads):
    """Runs each workload under one callgrind: a marker call (libc's sysinfo, through
    getloadavg) before and after its timed steps makes callgrind dump the counts in between."""
    import ctypes

    libc = ctypes.CDLL(None)
    sys.path.insert(0, pkg_parent)
    tg = importlib.import_module(pkg_name)
    for workload in workloads:
        step = make_step(tg, workload)
        for _ in range(2):  # warm-up: caches, lazily built state, the BLAS thread switch
            step()
        libc.getloadavg(None, 0)
        for _ in range(STEPS[workload]):
            step()
        libc.getloadavg(None, 0)


# ----------------------------------------------------------------------------------- driver ----
def materialize(label, spec, kind, workdir):
    """The variant's package copied to workdir/<label>/tg_<label>; returns (parent dir, name)."""
    parent = Path(workdir) / label
    name = "tg_" + re.sub(r"\W", "_", label)
    target = parent / name
    parent.mkdir(parents=True)
    if kind == "pkg":
        shutil.copytree(spec, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", spec, "tinygrad_lite"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(parent)], input=archive, check=True)
        (parent / "tinygrad_lite").rename(target)
    return str(parent), name


def per_step(pkg, workloads):
    """{workload: instructions (callgrind's Ir) per step} for one variant, from one valgrind run."""
    out_file = Path(pkg[0]) / "cg.out"
    cmd = ["valgrind", "--tool=callgrind", "--dump-before=sysinfo", f"--callgrind-out-file={out_file}",
           sys.executable, __file__, "--child", *pkg, *workloads]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{pkg[1]} failed:\n{out.stderr[-3000:]}")
    dumps = sorted(out_file.parent.glob("cg.out.*"), key=lambda f: int(f.suffix[1:]))
    # the last 2 dumps per workload are (set-up, timed steps); start-up may dump more before them
    counts = [int(re.search(r"^totals: (\d+)", f.read_text(), re.M).group(1))
              for f in dumps[-2 * len(workloads):]]
    return {w: counts[2 * i + 1] / STEPS[w] for i, w in enumerate(workloads)}


def _import_variants(variants):
    """{label: the variant's package}, all imported into this process under their own names."""
    mods = {}
    for label, (parent, name) in variants.items():
        sys.path.insert(0, parent)
        mods[label] = importlib.import_module(name)
    return mods


def wall_clock(variants, workloads, rounds=7):
    """Median seconds per step of each variant, all imported into this process, interleaved round
    by round (the order rotating), to confirm a large instruction-count effect in time."""
    import statistics
    import time

    mods = _import_variants(variants)
    labels = list(mods)
    for w in workloads:
        steps = {lab: make_step(mods[lab], w) for lab in labels}
        times = {lab: [] for lab in labels}
        for r in range(rounds):
            for lab in labels[r % len(labels):] + labels[:r % len(labels)]:
                step = steps[lab]
                step()
                t0 = time.perf_counter()
                for _ in range(STEPS[w]):
                    step()
                times[lab].append((time.perf_counter() - t0) / STEPS[w])
        med = {lab: statistics.median(t) for lab, t in times.items()}
        print(f"| {w} | " + " | ".join(f"{med[lab] * 1e6:,.0f} us" for lab in labels) + " | " +
              " | ".join(f"{med[lab] / med[labels[0]] - 1:+.1%}" for lab in labels[1:]) + " |")


def wall_min(variants, workloads, seconds):
    """The steadier wall-clock comparison: every variant imported side by side, blocks of N steps
    interleaved for `seconds` per workload, and the minimum time per step kept (other work on the
    machine only ever adds time, so the minimum is the least disturbed figure)."""
    import time

    mods = _import_variants(variants)
    labels = list(mods)
    for w in workloads:
        steps = {lab: make_step(mods[lab], w) for lab in labels}
        for step in steps.values():
            for _ in range(5):
                step()
        best = dict.fromkeys(labels, float("inf"))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for lab in labels:
                step = steps[lab]
                t0 = time.perf_counter()
                for _ in range(STEPS[w]):
                    step()
                best[lab] = min(best[lab], (time.perf_counter() - t0) / STEPS[w])
        print(f"| {w} | " + " | ".join(f"{best[lab] * 1e6:,.1f} us" for lab in labels) + " | " +
              " | ".join(f"{best[lab] / best[labels[0]] - 1:+.1%}" for lab in labels[1:]) + " |")


def main():
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3], sys.argv[4:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pkg", action="append", default=[], metavar="LABEL=DIR",
                    help="a package directory (a copy of tinygrad_lite/, edited)")
    ap.add_argument("--rev", action="append", default=[], metavar="LABEL=REV",
                    help="tinygrad_lite/ at a git revision")
    ap.add_argument("--workloads", nargs="*", default=list(STEPS), choices=list(STEPS))
    ap.add_argument("--jobs", type=int, default=2, help="valgrind runs at once (counts do not change)")
    ap.add_argument("--wall", action="store_true",
                    help="median wall-clock time per step instead (interleaved, one process)")
    ap.add_argument("--min-of", type=float, metavar="SECONDS",
                    help="with --wall: the minimum over interleaved blocks for SECONDS per workload")
    args = ap.parse_args()
    specs = [(s, "pkg") for s in args.pkg] + [(s, "rev") for s in args.rev]
    if len(specs) < 1:
        ap.error("give at least one --pkg or --rev")
    with tempfile.TemporaryDirectory() as workdir:
        variants = {}
        for spec, kind in specs:
            label, _, where = spec.partition("=")
            variants[label] = materialize(label, where, kind, workdir)
        if args.wall:
            os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
            print("| workload | " + " | ".join(variants) + " | " +
                  " | ".join(f"{lab} vs {list(variants)[0]}" for lab in list(variants)[1:]) + " |")
            print("|---" * (2 * len(variants)) + "|")
            if args.min_of:
                return wall_min(variants, args.workloads, args.min_of)
            return wall_clock(variants, args.workloads)
        with ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(variants, pool.map(lambda lab: per_step(variants[lab], args.workloads),
                                                  variants)))
    counts = {(lab, w): n for lab, r in results.items() for w, n in r.items()}
    labels = list(variants)
    print(f"instructions per step (callgrind Ir over N steps after 2 warm-up steps, divided by N); "
          f"numpy {__import__('numpy').__version__}, Python {sys.version.split()[0]}")
    print()
    print("| workload | " + " | ".join(labels) + " | " +
          " | ".join(f"{lab} vs {labels[0]}" for lab in labels[1:]) + " |")
    print("|---" * (2 * len(labels)) + "|")
    for w in args.workloads:
        base = counts[(labels[0], w)]
        cells = [f"{counts[(lab, w)]:,.0f}" for lab in labels]
        ratios = [f"{counts[(lab, w)] / base - 1:+.1%}" for lab in labels[1:]]
        print(f"| {w} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
