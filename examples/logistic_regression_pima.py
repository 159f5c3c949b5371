"""Logistic regression on the Pima diabetes data, trained by every optimizer of the lesson.

    python examples/logistic_regression_pima.py                 # lam = 0: about 66 test errors
    python examples/logistic_regression_pima.py --lam 1.0       # with the L2 penalty
    python examples/logistic_regression_pima.py --help

The model is one neuron: p(diabetic | x) = sigmoid(theta . x + b), an nn.Linear(7, 1) followed by
a sigmoid. The cost is the regularized cross-entropy of the lesson,

    J(theta) = -(1/n) sum[y log p + (1 - y) log(1 - p)] + lam / (2n) sum(theta^2),

where the intercept b is not penalized. J is convex, so every optimizer should find the same
minimum; what differs is how many passes over the data it needs. Reads top to bottom: the data,
the model, the cost, one training loop for the full-batch methods (GD, AdaGrad, Adadelta,
RMSProp, Adam, Newton), one for minibatch SGD, the comparison table and the plot.

Convergence, for every method alike: the gradient of the FULL training cost has Euclidean norm
below --tol (1e-5). The budget (--max-iters) counts passes over the 200 training patients: one
full-batch iteration is one pass; one SGD epoch is one pass of 20 minibatch steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.data import DataLoader, TensorDataset, pima
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than

# Each optimizer with its learning rate, tuned by hand on this problem (standardized inputs):
# large enough to be quick, small enough not to oscillate. Newton needs none: its step is
# H^-1 g, exact for a quadratic, and J is nearly quadratic near its minimum.
OPTIMIZERS = {
    "GD": dict(make=lambda p: optim.SGD(p, lr=2.0)),  # full-batch gradient descent
    "SGD": dict(make=lambda p: optim.SGD(p, lr=0.5), batch_size=10, decay=0.99),
    "AdaGrad": dict(make=lambda p: optim.Adagrad(p, lr=0.5)),
    "Adadelta": dict(make=lambda p: optim.Adadelta(p, lr=1.0)),  # lr=1 is the method itself
    "RMSProp": dict(make=lambda p: optim.RMSprop(p, lr=0.03)),
    "Adam": dict(make=lambda p: optim.Adam(p, lr=0.05)),
    "Newton": dict(make=lambda p: optim.Newton(p)),
}


# ----------------------------------------------------------------------------------- the data ----
def load_data():
    """Pima.tr (200 patients) and Pima.te (332), standardized with the TRAINING mean and std.

    Standardizing puts glucose (~120) and the pedigree function (~0.5) on the same scale, so one
    learning rate suits every coefficient. The test set must use the training statistics: it
    stands for patients we have not seen yet."""
    x_train, y_train = pima.load("train")  # float64: Newton solves with the Hessian
    x_test, y_test = pima.load("test")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


# ---------------------------------------------------------------------------- model and cost ----
def make_model() -> nn.Linear:
    """theta (7 weights) and b (the intercept), all starting at 0: p = 0.5 for everyone, J = log 2."""
    model = nn.Linear(7, 1).double()
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def cost(model: nn.Linear, x: Tensor, y: Tensor, lam: float, n: int) -> Tensor:
    """The regularized cross-entropy J; `n` is the size of the whole training set, so a
    minibatch's cost estimates the same J (its penalty is lam / (2n) sum(theta^2) too)."""
    p = model(x).sigmoid().reshape(-1)  # (N, 1) -> (N,), the shape of y
    return F.binary_cross_entropy(p, y) + F.l2_penalty(model, lam, n)


def gradient_norm(model: nn.Module) -> float:
    """|| dJ/d(theta, b) ||_2, from the .grad that backward() left on the parameters."""
    return float(np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters())))


def test_errors(model: nn.Linear, x_test: np.ndarray, y_test: np.ndarray) -> int:
    """Predict diabetic when p > 0.5, i.e. when theta . x + b > 0; count the mistakes."""
    with tg.no_grad():
        predicted = model(Tensor(x_test)).numpy().reshape(-1) > 0
    return int((predicted != y_test.astype(bool)).sum())


# -------------------------------------------------------------------------------- training ----
def train_full_batch(name, x, y, lam, max_iters, tol, stop=None) -> dict:
    """One update per pass: J and its gradient on all 200 patients, then optimizer.step()."""
    model = make_model()
    optimizer = OPTIMIZERS[name]["make"](model.parameters())
    costs = []
    for iteration in range(max_iters + 1):
        J = cost(model, x, y, lam, len(y))
        optimizer.zero_grad()
        J.backward()
        costs.append(J.item())
        if gradient_norm(model) < tol:
            break  # converged: `iteration` updates were needed
        if iteration == max_iters or stop:
            break  # budget spent, or Ctrl-C
        if isinstance(optimizer, optim.Newton):
            # Newton differentiates twice (gradient, then Hessian), so it asks for a closure that
            # recomputes the cost; it then solves H d = g and steps theta <- theta - d
            optimizer.step(lambda: cost(model, x, y, lam, len(y)))
        else:
            optimizer.step()
    return dict(model=model, costs=costs, iterations=iteration, grad_norm=gradient_norm(model))


def train_minibatch(name, x, y, lam, max_iters, tol, seed, stop=None) -> dict:
    """Stochastic gradient descent: many cheap, noisy steps per pass, on minibatches of 10.

    A constant step would leave SGD wandering in a noise ball around the minimum, so the learning
    rate decays by `decay` every epoch. Convergence is checked, like for the others, on the full
    training cost at the start of each epoch."""
    settings = OPTIMIZERS[name]
    model = make_model()
    optimizer = settings["make"](model.parameters())
    schedule = optim.lr_scheduler.ExponentialLR(optimizer, gamma=settings["decay"])
    loader = DataLoader(TensorDataset(x.numpy(), y.numpy()), batch_size=settings["batch_size"],
                        shuffle=True, generator=seed)
    costs = []
    for epoch in range(max_iters + 1):
        J = cost(model, x, y, lam, len(y))  # the full cost, to watch and to test convergence
        optimizer.zero_grad()
        J.backward()
        costs.append(J.item())
        if gradient_norm(model) < tol or epoch == max_iters or stop:
            break
        for x_batch, y_batch in loader:
            optimizer.zero_grad()
            cost(model, x_batch, y_batch, lam, len(y)).backward()
            optimizer.step()
            if stop:  # Ctrl-C: finish this batch, then the epoch's cost, then stop
                break
        schedule.step()
    return dict(model=model, costs=costs, iterations=epoch, grad_norm=gradient_norm(model),
                updates=epoch * len(loader))


# ---------------------------------------------------------------------------------- results ----
def plot_costs(runs: dict, best: float, tol: float, out: Path) -> Path:
    """Left: J per pass. Right: J - J*, log-log, where Newton's few steps and the slow linear
    convergence of the first-order methods are both visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for name, run in runs.items():
        passes = np.arange(1, len(run["costs"]) + 1)
        style = dict(lw=2.2, marker="o", ms=5) if name == "Newton" else dict(lw=1.5)
        ax1.plot(passes, run["costs"], label=name, **style)
        gap = np.maximum(np.array(run["costs"]) - best, 1e-16)
        ax2.plot(passes, gap, label=name, **style)
    ax1.set(xscale="log", xlabel="passes over the training data (1 = the starting point)",
            ylabel="cost J", title="the cost falls from log 2 to the same minimum")
    ax2.set(xscale="log", yscale="log", ylim=(4e-17, 1), xlabel="passes over the training data",
            ylabel="J - J*  (J*: the lowest cost found)", title="distance to the minimum")
    ax2.axhline(1e-16, color="grey", lw=0.8, ls=":")
    # NOTE: at the right-hand end, clear of Newton's last points (which land on the line at left)
    ax2.text(0.98, 1.6e-16, "float64 rounding: J - J* <= 1e-16", fontsize=8, color="grey",
             ha="right", va="bottom", transform=ax2.get_yaxis_transform())
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    ax1.legend()
    fig.suptitle(f"logistic regression on Pima.tr: convergence means ||grad J|| < {tol:g}",
                 fontsize=11)
    fig.tight_layout()
    path = out / "cost_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--lam", type=at_least(0.0, float), default=0.0,
                    help="L2 penalty weight lambda")
    ap.add_argument("--max-iters", type=at_least(1), default=2000,
                    help="budget in passes over the training data")
    ap.add_argument("--tol", type=greater_than(0), default=1e-5, help="gradient-norm tolerance")
    ap.add_argument("--seed", type=int, default=0, help="seed of SGD's minibatch order")
    ap.add_argument("--out", type=Path, default=Path("outputs/logistic_regression_pima"),
                    help="folder for the figure")
    ap.add_argument("--quick", action="store_true", help="a small budget (200 passes), for tests")
    args = ap.parse_args(argv)
    if args.quick:
        args.max_iters = min(args.max_iters, 200)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tg.manual_seed(args.seed)

    x_train, y_train, x_test, y_test = load_data()
    x, y = Tensor(x_train), Tensor(y_train)
    print(f"Pima: {len(y_train)} training patients ({int(y_train.sum())} diabetic), "
          f"{len(y_test)} test patients; 7 features, standardized")
    print(f"cost: cross-entropy + lam/(2n) sum(theta^2), lam = {args.lam:g}; convergence: "
          f"||grad J|| < {args.tol:g}; budget: {args.max_iters} passes\n")

    runs = {}
    with StopOnInterrupt() as stop:  # Ctrl-C: stop the optimizer under way, report what ran
        for name in OPTIMIZERS:
            if stop:
                break
            start = time.perf_counter()
            if name == "SGD":
                run = train_minibatch(name, x, y, args.lam, args.max_iters, args.tol, args.seed,
                                      stop)
            else:
                run = train_full_batch(name, x, y, args.lam, args.max_iters, args.tol, stop)
            run["seconds"] = time.perf_counter() - start
            run["converged"] = run["grad_norm"] < args.tol
            run["final_cost"] = run["costs"][-1]
            run["test_errors"] = test_errors(run["model"], x_test, y_test)
            run["test_accuracy"] = 1 - run["test_errors"] / len(y_test)
            runs[name] = run

    best = min(run["final_cost"] for run in runs.values())
    print(f"{'optimizer':<10}{'iterations':>18}{'converged':>11}{'final cost J':>16}"
          f"{'J - J*':>10}{'||grad||':>10}{'test acc':>10}{'errors':>8}{'time':>8}")
    for name, run in runs.items():
        its = f"{run['iterations']}" + (f" ({run['updates']} steps)" if "updates" in run else "")
        print(f"{name:<10}{its:>18}{'yes' if run['converged'] else 'no':>11}"
              f"{run['final_cost']:>16.10f}{run['final_cost'] - best:>10.1e}"
              f"{run['grad_norm']:>10.1e}{run['test_accuracy']:>10.3f}"
              f"{run['test_errors']:>5d}/{len(y_test)}{run['seconds']:>7.2f}s")
    print("iterations: updates for the full-batch methods; epochs (and minibatch steps) for SGD")

    coefficients = {}
    if "Newton" in runs and not stop:
        newton = runs["Newton"]["model"]
        coefficients = dict(zip(pima.FEATURES, newton.weight.numpy().reshape(-1).tolist()))
        print("\nNewton's coefficients (per standard deviation of each feature; intercept "
              f"{newton.bias.item():+.3f}):")
        print("  " + "  ".join(f"{k} {v:+.3f}" for k, v in coefficients.items()))
        print(f"test accuracy at the optimum: {runs['Newton']['test_accuracy']:.1%} "
              f"({runs['Newton']['test_errors']} errors out of {len(y_test)})")

    figure = plot_costs(runs, best, args.tol, args.out)
    print(f"figure: {figure}")
    if stop:
        print(f"interrupted: the table and the figure above cover {', '.join(runs)}; the figure "
              f"is saved in {args.out}/ (exit status 130)")
    results = {name: {k: v for k, v in run.items() if k != "model"} for name, run in runs.items()}
    return dict(runs=results, optimum=best, n_test=len(y_test), coefficients=coefficients,
                figure=figure, interrupted=bool(stop))


if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main()["interrupted"] else 0)
