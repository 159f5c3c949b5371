"""How long the examples take, idle and busy: the script behind the README's table of times.

Each example's full command runs `--runs` times in a fresh process, first with the machine as it
is ("idle": nothing of ours beside it; the load average says what else was running), then with one
CPU-bound process beside it ("busy"). The table gives the range and the median of the wall-clock
times (start-up, data loading, training, evaluation, figures: what a user waits for) and the
result line the example printed. Outputs go to a temporary folder.

    python benchmarks/bench_examples.py                        # every example, 3 runs each way
    python benchmarks/bench_examples.py --only mnist_mlp --runs 5
    python benchmarks/bench_examples.py --only mnist_mlp --conditions busy

Paste the table it prints into the README ("Examples") to update the times quoted there.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (name, arguments): the README's commands
COMMANDS = {
    "mnist_mlp": ["examples/mnist_mlp.py"],
    "mnist_mlp_lesson": ["examples/mnist_mlp.py", "--preset", "lesson"],
    "logistic_regression_pima": ["examples/logistic_regression_pima.py"],
    "optimizers": ["examples/optimizers.py"],
    "activations": ["examples/activations.py"],
    "sparse_autoencoder": ["examples/sparse_autoencoder.py"],
    "mnist_cnn": ["examples/mnist_cnn.py"],
    "mnist_lstm": ["examples/mnist_lstm.py"],
    "mnist_transformer": ["examples/mnist_transformer.py"],
    "draw_graph": ["examples/draw_graph.py"],
    "quickstart": ["examples/quickstart.py"],
}
RESULT = re.compile(r"^(test accuracy[^;\n]*|mean hidden activation[^;\n]*|\|grad\| of [^\n]*)",
                    re.MULTILINE)


def run_once(name: str, out: Path, logs: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, 1-minute load average at the start, the result line) of one run; with
    `logs`, what it printed goes to logs/<name>.txt (the last run's)."""
    command = [sys.executable, *COMMANDS[name]]
    if name != "quickstart":  # it writes no files
        command += ["--out", str(out / name)]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"{name}.txt").write_text(done.stdout)
    results = RESULT.findall(done.stdout)
    return seconds, load, results[-1].strip() if results else ""


def spread(values: list[float]) -> str:
    digits = 0 if min(values) >= 10 else 1
    low, high, mid = min(values), max(values), statistics.median(values)
    return (f"{low:.{digits}f}-{high:.{digits}f} s (median {mid:.{digits}f})" if len(values) > 1
            else f"{low:.{digits}f} s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS),
                    help="the examples to time (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each, idle and busy (default 3)")
    ap.add_argument("--conditions", nargs="+", choices=["idle", "busy"], default=["idle", "busy"],
                    help="idle: the machine as it is; busy: one CPU-bound process beside (default: both)")
    ap.add_argument("--logs", type=Path,
                    help="folder for what each example printed (its last run), to check the "
                         "README's other numbers against")
    args = ap.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for condition in args.conditions:
            burner = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      if condition == "busy" else None)
            try:
                for name in args.only:
                    for _ in range(args.runs):
                        seconds, load, result = run_once(name, Path(tmp), args.logs)
                        row = rows.setdefault(name, {"idle": [], "busy": [], "load": {},
                                                     "result": set()})
                        row[condition].append(seconds)
                        row["load"].setdefault(condition, []).append(load)
                        row["result"].add(result)
                        print(f"  {name} ({condition}): {seconds:.1f} s, load {load:.2f}: {result}",
                              file=sys.stderr, flush=True)
            finally:
                if burner is not None:
                    burner.kill()
    print(f"Measured with `python benchmarks/bench_examples.py --runs {args.runs}` on "
          f"{platform.machine()} with {os.cpu_count()} cores (Python {platform.python_version()}); "
          f"busy: one CPU-bound process beside each run; times are wall clock, start to exit.\n")
    print("| command | idle | busy | load average (idle / busy) | result |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        loads = " / ".join(f"{min(row['load'][c]):.1f}-{max(row['load'][c]):.1f}"
                           if c in row["load"] else "-" for c in ("idle", "busy"))
        command = "python " + " ".join(COMMANDS[name])
        idle, busy = (spread(row[c]) if row[c] else "-" for c in ("idle", "busy"))
        print(f"| `{command}` | {idle} | {busy} | {loads} | "
              f"{'; '.join(sorted(r for r in row['result'] if r))} |")


if __name__ == "__main__":
    main()
