"""Quickstart: logistic regression on the bundled Pima data, written with nothing but Tensors.

    python examples/quickstart.py

Reads top to bottom: data, model, loss, gradient descent, result.
"""

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.data import pima

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

for step in range(201):
    p = (X @ w + b).sigmoid()
    # cross-entropy cost, averaged over the patients
    cost = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    cost.backward()
    with tg.no_grad():  # gradient descent step, outside the graph
        w -= 0.5 * w.grad
        b -= 0.5 * b.grad
    w.grad = b.grad = None
    if step % 50 == 0:
        print(f"step {step:3d}  cost {cost.item():.4f}")

with tg.no_grad():
    predictions = ((Tensor(X_test) @ w + b).sigmoid() > 0.5).numpy()
accuracy = (predictions == y_test.astype(bool)).mean()
print(f"test accuracy: {accuracy:.3f} ({int((predictions != y_test.astype(bool)).sum())} errors "
      f"out of {len(y_test)})")
