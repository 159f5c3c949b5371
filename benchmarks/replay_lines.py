"""Where a jitted step's time goes: each statement of its replay, timed, per step.

The replay `tg.jit` compiles (print(step.tape)) is straight-line numpy; this script compiles it
again with a clock read after every statement and runs it over one pass of bench_core's data
(its own arguments, so the batches come from memory as in a training run), then prints the
statements that took longest, in microseconds per step. Reading the clock costs about 0.1 us a
statement, so the total is a little above the replay's own time; compare lines, not totals.
The hand-written numpy step of the same workload (bench_core's) is timed beside it.

    python benchmarks/replay_lines.py                   # W1 at batch 128
    python benchmarks/replay_lines.py --workload W1b10 --top 15
    python benchmarks/replay_lines.py --workload W2
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import bench_core  # noqa: E402

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

jit_module = importlib.import_module("tinygrad_lite.jit")  # (tg.jit is the function)
BLOCK = re.compile(r"(with|if|else|elif|for|try|finally)\b.*:\s*(#.*)?$")


def make(workload):
    """bench_core's nn step of the workload, its batch, its data and the numpy step's pass."""
    x, y, labels = bench_core.make_data(10)
    if workload.startswith("W1"):
        batch = int(workload[3:])
        return bench_core.w1_nn_step(), batch, (x, y), lambda: bench_core.w1_numpy(x, y, batch)
    return bench_core.w2_nn_step(), 128, (x, labels), lambda: bench_core.w2_numpy(x, y, labels)


def instrument(source, start):
    """The replay's source with `T[k] += clock() - t0; t0 = clock()` after each statement (k
    from `start`), and the statements."""
    out, labels = [], []
    for line in source.split("\n"):
        code = line.strip()
        if code.startswith("def "):
            out += [line, "    t0 = clock()"]
            continue
        if not code or code.startswith("#") or BLOCK.match(code):
            out.append(line)
            if code.startswith("finally"):  # (after the later parts' call: their lines count)
                out.append(line[:len(line) - len(line.lstrip())] + "    t0 = clock()")
            continue
        indent = line[:len(line) - len(line.lstrip())]
        tick = f"{indent}T[{start + len(labels)}] += clock() - t0; t0 = clock()"
        labels.append(code)
        out += [tick, line] if code.startswith(("return", "raise")) else [line, tick]
    return "\n".join(out), labels


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="W1b128", choices=["W1b10", "W1b128", "W2"])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    written = {}
    write = jit_module._Writer.write

    def keep(self):
        written["functions"], written["ns"] = write(self)
        return written["functions"], written["ns"]
    jit_module._Writer.write = keep
    step, batch, (x, y), numpy_pass = make(args.workload)
    jitted = tg.jit(step)
    for _ in range(3):
        jitted(Tensor(x[:batch]), Tensor(y[:batch]))
    jit_module._Writer.write = write
    ns = dict(written["ns"])
    labels = []
    for source in written["functions"]:
        code, mine = instrument(source, len(labels))
        labels += mine
        exec(compile(code, "<instrumented replay>", "exec"), ns)  # noqa: S102
    ns["T"], ns["clock"] = [0.0] * len(labels), time.perf_counter
    replay = ns["replay"]
    n = len(x) // batch
    batches = [(Tensor(x[i * batch:(i + 1) * batch]), Tensor(y[i * batch:(i + 1) * batch]))
               for i in range(n)]
    numpy_times = []
    with np.errstate(over="ignore"):
        for _ in range(args.passes):
            for b in batches:
                replay(b)
            numpy_times.append(numpy_pass())
    steps = args.passes * n
    per = [t / steps * 1e6 for t in ns["T"]]
    print(f"{args.workload}: the replay's statements, us per step (mean of {steps} steps, "
          f"{args.passes} passes); load average {__import__('os').getloadavg()[0]:.1f}")
    print("| us | statement |\n|---|---|")
    for k in sorted(range(len(per)), key=lambda k: -per[k])[:args.top]:
        print(f"| {per[k]:.2f} | `{labels[k][:100]}` |")
    numpy_step = min(numpy_times) / (len(x) // batch) * 1e6
    print(f"\nall statements: {sum(per):.1f} us per step (with the clock's reads); bench_core's "
          f"hand-written numpy step: {numpy_step:.1f} us (best of {args.passes} passes)")


if __name__ == "__main__":
    main()
