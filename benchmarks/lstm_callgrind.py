"""Instructions per LSTM training step under callgrind: numpy (the floor), eager, tg.jit.

The step is benchmarks/bench_core.py's LSTM workload (examples/mnist_lstm.py: 28 rows of 28 pixels,
hidden 64, Adam, batch 128; the numpy one is benchmarks/bench_conv_lstm.py's hand-written BPTT).
Wall-clock on the shared machine is noise; instruction counts are deterministic. Each mode runs in
its own `valgrind --tool=callgrind` (one BLAS thread): set up, 3 warm-up steps, then N steps between
two marker calls (libc's sysinfo, as benchmarks/audit_tricks.py) that make callgrind dump.

    python benchmarks/lstm_callgrind.py                    # numpy eager jit, 4 steps each
    python benchmarks/lstm_callgrind.py --modes jit --steps 2 --keep /tmp/cg   # keep the dumps
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(mode, steps):
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    import bench_core

    from tinygrad_lite import Tensor

    ref = bench_core._lstm_reference()
    x, y = bench_core.lstm_data()
    batch, hidden = bench_core.LSTM_BATCH, bench_core.LSTM_HIDDEN
    xb, yb = x[:batch], y[:batch]
    if mode == "numpy":
        def run(n):
            ref.lstm_numpy(x[:batch * n], y[:batch * n], batch, n, hidden)
    else:
        step = bench_core.lstm_step(use_jit=mode == "jit")
        xt, yt = Tensor(xb), Tensor(yb)

        def run(n):
            for _ in range(n):
                step(xt, yt)
    run(3)
    libc = ctypes.CDLL(None)
    libc.getloadavg(None, 0)
    run(steps)
    libc.getloadavg(None, 0)


def per_step(mode, steps, workdir):
    out_file = Path(workdir) / mode / "cg.out"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    for old in out_file.parent.glob("cg.out*"):
        old.unlink()
    cmd = ["valgrind", "--tool=callgrind", "--dump-before=sysinfo", f"--callgrind-out-file={out_file}",
           sys.executable, __file__, "--child", mode, "--steps", str(steps)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    last = max(out_file.parent.glob("cg.out.*"), key=lambda f: int(f.suffix[1:]))
    return int(re.search(r"^totals: (\d+)", last.read_text(), re.M).group(1)) / steps, last


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", nargs="*", default=["numpy", "eager", "jit"])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--keep", help="a directory for the callgrind dumps (callgrind_annotate them)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.steps)
    workdir = args.keep or tempfile.mkdtemp(prefix="lstm_cg_")
    counts = {}
    print("| mode | instructions per step | vs numpy |")
    print("|---|---|---|")
    for mode in args.modes:
        counts[mode], dump = per_step(mode, args.steps, workdir)
        vs = f"{counts[mode] / counts['numpy']:.3f}x" if "numpy" in counts else "n/a"
        print(f"| {mode} | {counts[mode] / 1e6:.1f} M | {vs} |", flush=True)
    if args.keep:
        print(f"\ndumps: {workdir}/<mode>/ (the last cg.out.* of each is the timed steps)")


if __name__ == "__main__":
    main()
