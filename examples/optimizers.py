"""The lesson's optimizers racing on two classic non-convex functions of two variables.

    python examples/optimizers.py                          # Rosenbrock and Beale, 5000 steps
    python examples/optimizers.py --function beale --steps 2000
    python examples/optimizers.py --help

Rosenbrock's banana, f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, has its minimum f = 0 at (1, 1) at
the end of a long, curved, flat-bottomed valley: easy to fall into, slow to follow. Beale's
function, (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2, has its minimum f = 0
at (3, 0.5), flat plateaus, and a saddle point at (0, 1).

Each optimizer moves one point: a Tensor of shape (2,) with requires_grad=True. Every step is the
training loop of any network in miniature: loss = f(point); zero_grad; backward; step. Newton
gets a closure instead, because it differentiates twice (gradient, then Hessian).

Reads top to bottom: the two functions, the racers (each learning rate tuned by hand, see
RACERS), the race, the table, the pictures (contours with every path, and the loss per step).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than


# --------------------------------------------------------------------------- the functions ----
def rosenbrock(p: Tensor) -> Tensor:
    """(1 - x)^2 + 100 (y - x^2)^2 for p = (x, y); p may also be (2, H, W), a grid of points."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def beale(p: Tensor) -> Tensor:
    """(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2."""
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


FUNCTIONS = {
    # name: the function, where every racer starts, the minimum, the window of the plot
    "rosenbrock": dict(f=rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0),
                       xlim=(-2.0, 2.0), ylim=(-1.0, 3.2)),
    "beale": dict(f=beale, start=(1.0, 1.5), minimum=(3.0, 0.5), xlim=(-1.0, 4.0),
                  ylim=(-1.0, 2.0)),
}

# ----------------------------------------------------------------------------- the racers ----
# Learning rates (rosenbrock, beale), tuned by hand for these starts: for each optimizer the best
# of a few values that did not blow up. Plain GD cannot go faster on Rosenbrock: the valley's
# walls curve 1000 times more steeply than its floor, and any lr above ~2/1000 makes GD bounce
# off them. On a deterministic function SGD *is* GD (there is no minibatch noise); momentum 0.9
# is the usual "heavy ball" fix. AdaGrad's first step is lr * sign(grad), (+1, +1) here.
# Adadelta's lr of 1 is the method as published (it has no learning rate).
RACERS = {
    "GD": dict(make=optim.SGD, lr=(1e-3, 1e-2)),
    "Momentum": dict(make=lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9), lr=(5e-4, 3e-3)),
    "AdaGrad": dict(make=optim.Adagrad, lr=(1.0, 1.0)),
    "Adadelta": dict(make=optim.Adadelta, lr=(1.0, 1.0)),
    "RMSProp": dict(make=optim.RMSprop, lr=(1e-3, 1e-3)),
    "Adam": dict(make=optim.Adam, lr=(0.05, 0.05)),
    "Newton": dict(make=optim.Newton, lr=(1.0, 1.0)),  # a full Newton step, no tuning
}
COLORS = dict(zip(RACERS, ["tab:blue", "tab:cyan", "tab:green", "tab:red", "tab:purple",
                           "tab:orange", "black"]))


def race(name: str, function: str, steps: int, tol: float, stop=None) -> dict:
    """Run one optimizer from the start until ||grad f|| < tol or `steps` steps; keep the path."""
    spec = FUNCTIONS[function]
    f = spec["f"]
    lr = RACERS[name]["lr"][list(FUNCTIONS).index(function)]
    # float64, so the last digits of convergence are visible
    point = Tensor(np.array(spec["start"], dtype=np.float64), requires_grad=True)
    optimizer = RACERS[name]["make"]([point], lr=lr)
    path, losses = [point.numpy().copy()], []
    for step in range(steps + 1):
        loss = f(point)
        optimizer.zero_grad()
        loss.backward()
        losses.append(loss.item())
        if not np.isfinite(losses[-1]) or np.linalg.norm(point.grad.numpy()) < tol:
            break
        if step == steps or stop:  # the budget is spent, or Ctrl-C
            break
        if isinstance(optimizer, optim.Newton):
            optimizer.step(lambda: f(point))  # solves H d = grad, moves by -d
        else:
            optimizer.step()
        path.append(point.numpy().copy())
    final = point.numpy()
    return dict(lr=lr, steps=step, path=np.array(path), losses=np.array(losses),
                final=final, final_loss=losses[-1],
                distance=float(np.linalg.norm(final - np.array(spec["minimum"]))),
                start_distance=float(np.linalg.norm(np.subtract(spec["start"], spec["minimum"]))),
                grad_norm=float(np.linalg.norm(point.grad.numpy())))


# --------------------------------------------------------------------------- the pictures ----
def plot_race(function: str, runs: dict, out: Path) -> Path:
    """Left: log-spaced contours of f, the minimum (star), the start (square), every path.
    Right: the loss per step, log-log, so the first step and the last digits both show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    spec = FUNCTIONS[function]
    xs = np.linspace(*spec["xlim"], 400)
    ys = np.linspace(*spec["ylim"], 400)
    grid = np.stack(np.meshgrid(xs, ys))  # (2, 400, 400): p[0] is x everywhere, p[1] is y
    with tg.no_grad():
        z = spec["f"](Tensor(grid)).numpy()
    levels = np.logspace(np.log10(max(z.min(), 1e-3)), np.log10(z.max()), 30)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.6),
                                   gridspec_kw=dict(width_ratios=[1.15, 1]))
    ax1.contour(xs, ys, z, levels=levels, norm=LogNorm(), cmap="Greys_r", linewidths=0.6,
                alpha=0.8)
    ax1.contourf(xs, ys, z, levels=levels, norm=LogNorm(), cmap="Blues_r", alpha=0.25)
    for name, run in runs.items():
        path = run["path"]
        newton = name == "Newton"
        ax1.plot(path[:, 0], path[:, 1], color=COLORS[name], lw=2.0 if newton else 1.4,
                 marker="o" if newton else None, ms=4, label=f"{name} (lr {run['lr']:g})")
    for name, run in runs.items():  # where each stopped: drawn last, so no path hides them
        ax1.plot(*run["path"][-1], marker="X", color=COLORS[name], mec="white", ms=11, mew=1.2,
                 ls="none", zorder=5)
    notes = []  # points a path visits outside the window, so the reader is not left guessing
    for name, run in runs.items():
        (x0, x1), (y0, y1) = spec["xlim"], spec["ylim"]
        outside = [(x, y) for x, y in run["path"] if not (x0 <= x <= x1 and y0 <= y <= y1)]
        if outside:
            far = max(outside, key=lambda q: np.hypot(*np.subtract(q, spec["minimum"])))
            points = f"{len(outside)} point{'s' if len(outside) > 1 else ''}"
            notes.append(f"{name} leaves the window ({points}, farthest "
                         f"({far[0]:.3g}, {far[1]:.3g}))")
    if notes:
        ax1.text(0.02, 0.02, "\n".join(notes), transform=ax1.transAxes, fontsize=8,
                 bbox=dict(facecolor="white", alpha=0.85, edgecolor="none"))
    ax1.plot(*spec["start"], marker="s", color="k", ms=7, ls="none", label="start")
    ax1.plot(*spec["minimum"], marker="*", color="gold", mec="k", ms=18, ls="none",
             label=f"minimum {spec['minimum']}")
    ax1.set(xlim=spec["xlim"], ylim=spec["ylim"], xlabel="x", ylabel="y",
            title=f"{function}: paths (X = where each stopped)")

    # NOTE: the axis stops at `floor`: Newton reaches 1e-30 and below, which would squash the
    # other curves into a band; a note says where a curve leaves through the bottom
    floor, below = 1e-12, []
    for name, run in runs.items():
        steps = np.arange(1, len(run["losses"]) + 1)
        ax2.plot(steps, np.maximum(run["losses"], floor / 10), color=COLORS[name],
                 lw=2.0 if name == "Newton" else 1.4, marker="o" if name == "Newton" else None,
                 ms=4)
        under = np.flatnonzero(run["losses"] < floor)
        if len(under):
            below.append(f"{name}: f < {floor:g} from step {under[0] + 1} "
                         f"(f = {run['losses'][-1]:.1e} at step {len(run['losses'])})")
    ax2.set(xscale="log", yscale="log", ylim=(floor, None),
            xlabel="step (1 = the start)", ylabel="f(x, y)  (the minimum is 0)",
            title="loss per step")
    ax2.grid(alpha=0.3, which="major")
    if below:
        ax2.text(0.02, 0.02, "\n".join(below), transform=ax2.transAxes, fontsize=8,
                 bbox=dict(facecolor="white", alpha=0.85, edgecolor="none"))
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8.5,
               frameon=False)  # below both panels: nothing of the contours is covered
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path = out / f"{function}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_table(function: str, runs: dict, tol: float) -> None:
    spec = FUNCTIONS[function]
    print(f"\n{function}: start {spec['start']}, minimum {spec['minimum']}; a racer stops when "
          f"||grad|| < {tol:g}")
    print(f"{'optimizer':<10}{'lr':>8}{'steps':>7}{'converged':>11}{'final point':>26}"
          f"{'distance to min':>17}{'final loss':>12}")
    for name, run in runs.items():
        x, y = run["final"]
        converged = "yes" if run["grad_norm"] < tol else "no"
        print(f"{name:<10}{run['lr']:>8g}{run['steps']:>7d}{converged:>11}"
              f"{f'({x:.6f}, {y:.6f})':>26}{run['distance']:>17.2e}{run['final_loss']:>12.2e}")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--function", choices=[*FUNCTIONS, "both"], default="both",
                    help="the surface to race on")
    ap.add_argument("--steps", type=at_least(1), default=5000,
                    help="budget of steps per optimizer")
    ap.add_argument("--tol", type=greater_than(0), default=1e-8,
                    help="stop when ||grad f|| < tol")
    ap.add_argument("--seed", type=int, default=0, help="unused: the race is deterministic")
    ap.add_argument("--out", type=Path, default=Path("outputs/optimizers"),
                    help="folder for the figures")
    ap.add_argument("--quick", action="store_true", help="a small budget (1000 steps), for tests")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 1000)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tg.manual_seed(args.seed)
    functions = list(FUNCTIONS) if args.function == "both" else [args.function]
    results = {}
    with StopOnInterrupt() as stop:  # Ctrl-C: stop the race under way, draw what has run
        for function in functions:
            start, runs = time.perf_counter(), {}
            for name in RACERS:
                runs[name] = race(name, function, args.steps, args.tol, stop)
                if stop:
                    break
            print_table(function, runs, args.tol)
            figure = plot_race(function, runs, args.out)
            if "Newton" in runs:
                newton = runs["Newton"]["path"]
                print("Newton's path: " + " -> ".join(f"({x:.3g}, {y:.3g})" for x, y in newton))
            print(f"figure: {figure}  ({time.perf_counter() - start:.1f} s)")
            results[function] = dict(runs=runs, figure=figure)
            if stop:
                print(f"interrupted: the figure above, of the races run so far, is saved in "
                      f"{args.out}/ (exit status 130)")
                return dict(results, interrupted=True)
    print("\nAdadelta and RMSProp do not settle: their step is a running average's ratio, so near "
          "the valley floor they keep bouncing across it with a fixed amplitude (the loss stops "
          "falling, or even rises). Adam's momentum averages those bounces out.")
    if "beale" in results:
        x, y = results["beale"]["runs"]["Newton"]["final"]
        print(f"\nNote Newton on Beale: it stopped at ({x:.3f}, {y:.3f}), the SADDLE point (0, 1), "
              "where the gradient is zero too. Newton's step solves grad f = 0; it cannot tell a "
              "minimum from a saddle (there the Hessian is indefinite).")
    return results


if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main().get("interrupted") else 0)
