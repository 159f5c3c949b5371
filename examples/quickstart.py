"""Quickstart: logistic regression on the bundled Pima data, written with nothing but Tensors.

    python examples/quickstart.py
    python examples/quickstart.py --steps 500 --lr 0.1

Reads top to bottom: data, model, loss, gradient descent, result. It writes no files.
"""

import argparse

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.data import pima
from tinygrad_lite.data.progress import HelpFormatter, at_least, greater_than


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--steps", type=at_least(1), default=200, help="gradient-descent steps")
    ap.add_argument("--lr", type=greater_than(0), default=0.5, help="learning rate")
    ap.add_argument("--quick", action="store_true", help="50 steps (what the tests run)")
    args = ap.parse_args(argv)
    steps = min(args.steps, 50) if args.quick else args.steps

    # Data: 200 training and 332 test patients, 7 measurements each, label 1 = diabetic.
    X_train, y_train = pima.load("train")
    X_test, y_test = pima.load("test")
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std  # standardize with train stats

    # Model: p(diabetic) = sigmoid(X @ w + b)
    tg.manual_seed(0)
    w = Tensor(np.zeros(7), requires_grad=True)
    b = Tensor(0.0, dtype="float64", requires_grad=True)
    X, y = Tensor(X_train), Tensor(y_train)

    for step in range(steps + 1):
        p = (X @ w + b).sigmoid()
        # cross-entropy cost, averaged over the patients
        cost = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
        cost.backward()
        with tg.no_grad():  # gradient descent step, outside the graph
            w -= args.lr * w.grad
            b -= args.lr * b.grad
        w.grad = b.grad = None
        if step % 50 == 0:
            print(f"step {step:3d}  cost {cost.item():.4f}")

    with tg.no_grad():
        predictions = ((Tensor(X_test) @ w + b).sigmoid() > 0.5).numpy()
    errors = int((predictions != y_test.astype(bool)).sum())
    print(f"test accuracy: {1 - errors / len(y_test):.3f} ({errors} errors out of {len(y_test)})")
    return dict(cost=cost.item(), errors=errors, n_test=len(y_test))


if __name__ == "__main__":
    main()
