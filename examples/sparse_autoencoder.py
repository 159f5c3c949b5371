"""A sparse autoencoder on MNIST: the network learns to copy digits through a layer of mostly
silent neurons (features.png shows what each one responds to).

What the features are, honestly: with so few units on per digit (about 6 of 196), each unit has to
describe much of a digit, and most become blurred templates of one whole digit or a large part
of one (a loop, a slanted bar with its surroundings), white where the digit's ink is and dark just
beside it. They are not the small, localized pen strokes of Ng's notes: we did not get those
here with rho = 0.1 and 20 epochs, nor with weight decay 1e-2 (both tried).

    python examples/sparse_autoencoder.py                 # 196 hidden units, 20,000 digits
    python examples/sparse_autoencoder.py --beta 0        # no sparsity: compare the features
    python examples/sparse_autoencoder.py --help

The network: 784 pixels -> `hidden` sigmoid units (the code) -> 784 sigmoid outputs (the copy).
Its cost has three parts (the classic formulation, Ng's "sparse autoencoder" notes):

    J = (1/N) sum_i 1/2 ||x_hat_i - x_i||^2             reconstruct the input
      + beta * sum_j KL(rho || rho_hat_j)                 ...while each unit j is active
      + lam / 2 * sum(W^2)                                 only a fraction rho of the time
                                                           ...with small weights

rho_hat_j is unit j's mean activation over the minibatch, and KL(rho || rho_hat) is the
divergence between two coins that land heads with probabilities rho and rho_hat: 0 when
rho_hat = rho, and large as rho_hat moves towards 0 or 1. At the start every unit sits near 0.5;
the penalty pulls the average down towards rho = 0.05, so each digit is described by a few active
units. Reads top to bottom: data, model, cost, training (printing the mean hidden activation per
epoch), then two pictures: every unit's weights as a 28x28 image, and some reconstructions.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.data import DataLoader, TensorDataset, mnist
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than


# ------------------------------------------------------------------------------- data and model ----
def load_data(n_train: int, n_test: int):
    """Pixels in [0, 1] (the output units are sigmoids, so the targets must be in their range)."""
    x_train, _ = mnist.load("train", flatten=True)
    x_test, _ = mnist.load("test", flatten=True)
    return x_train[:n_train], x_test[:n_test]


class SparseAutoencoder(nn.Module):
    """784 -> hidden (sigmoid) -> 784 (sigmoid); forward returns (reconstruction, hidden code)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.encoder = nn.Linear(784, hidden)
        self.decoder = nn.Linear(hidden, 784)

    def forward(self, x):
        code = self.encoder(x).sigmoid()  # how strongly each feature is present, in (0, 1)
        return self.decoder(code).sigmoid(), code


# ------------------------------------------------------------------------------------- the cost ----
def reconstruction_error(x_hat: Tensor, x: Tensor) -> Tensor:
    """1/2 the squared error summed over the 784 pixels, averaged over the images."""
    return F.mse_loss(x_hat, x, reduction="sum") / (2 * len(x))


def cost(model: SparseAutoencoder, x: Tensor, args) -> tuple:
    """J and its three parts (reconstruction, sparsity, weight decay)."""
    x_hat, code = model(x)
    recon = reconstruction_error(x_hat, x)
    sparsity = F.kl_sparsity(code, rho=args.rho)  # needs a batch: rho_hat averages over it
    # lam / (2 * 1) * sum(W^2), biases excluded (l2_penalty's rule for names ending in "bias")
    decay = F.l2_penalty(model, args.weight_decay, 1)
    return recon + args.beta * sparsity + decay, recon, sparsity, decay


def evaluate(model: SparseAutoencoder, x: np.ndarray) -> dict:
    """Reconstruction error and hidden activity on held-out digits."""
    with tg.no_grad():
        x_hat, code = model(Tensor(x))
        code = code.numpy()
        return dict(recon=reconstruction_error(x_hat, Tensor(x)).item(),
                    mean_activation=float(code.mean()),
                    active=float((code > 0.5).sum(axis=1).mean()))  # units "on" per digit


# ------------------------------------------------------------------------------------ pictures ----
def save_features(model: SparseAutoencoder, out: Path) -> Path:
    """Each hidden unit's 784 incoming weights as a 28x28 image: the pattern that turns it on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = model.encoder.weight.numpy()  # (hidden, 784)
    cols = math.ceil(math.sqrt(len(weights)))
    rows = math.ceil(len(weights) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.62, rows * 0.62 + 0.5))
    for i, ax in enumerate(np.asarray(axes).flat):
        ax.axis("off")
        if i < len(weights):
            w = weights[i].reshape(28, 28)
            limit = np.abs(w).max()  # each unit on its own scale, 0 = mid grey
            ax.imshow(w, cmap="gray", vmin=-limit, vmax=limit)
    fig.suptitle(f"the {len(weights)} learned features (white: pixel excites the unit, "
                 "black: inhibits it)", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / (rows * 0.62 + 0.5),
                        wspace=0.06, hspace=0.06)
    path = out / "features.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_reconstructions(model: SparseAutoencoder, x: np.ndarray, out: Path,
                         mean_activation: float, n: int = 10) -> Path:
    """Top: test digits. Middle: their copies. Bottom: the hidden code (few bright units).
    `mean_activation` is over all of x (the number printed), not just the n digits shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tg.no_grad():
        x_hat, code = model(Tensor(x[:n]))
    x_hat, code = x_hat.numpy(), code.numpy()
    side = math.ceil(math.sqrt(code.shape[1]))
    fig, axes = plt.subplots(3, n, figsize=(n * 1.1, 3.8))
    for i in range(n):
        padded = np.zeros(side * side)
        padded[:code.shape[1]] = code[i]
        for row, (image, cmap) in enumerate([(x[i].reshape(28, 28), "gray"),
                                             (x_hat[i].reshape(28, 28), "gray"),
                                             (padded.reshape(side, side), "viridis")]):
            axes[row, i].imshow(image, cmap=cmap, vmin=0, vmax=1)
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
    for row, label in enumerate(["input", "copy", "code"]):
        axes[row, 0].set_ylabel(label, fontsize=10)
    fig.suptitle(f"test digits, their reconstructions, and the {code.shape[1]} hidden "
                 f"activations (mean over all {len(x):,} test digits {mean_activation:.3f}, "
                 f"over these {n} {code.mean():.3f})", fontsize=10)
    fig.tight_layout()
    path = out / "reconstructions.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------- main ----
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--hidden", type=at_least(1), default=196,
                    help="hidden units (196 = a 14x14 grid)")
    ap.add_argument("--rho", type=greater_than(0), default=0.05,
                    help="target mean activation (below 1)")
    ap.add_argument("--beta", type=at_least(0.0, float), default=3.0,
                    help="weight of the sparsity penalty")
    ap.add_argument("--weight-decay", type=at_least(0.0, float), default=3e-3,
                    help="lam of lam/2 sum(W^2)")
    ap.add_argument("--train-size", type=at_least(1), default=20_000,
                    help="training digits (at most 60,000)")
    ap.add_argument("--test-size", type=at_least(1), default=2_000,
                    help="held-out digits (at most 10,000)")
    ap.add_argument("--epochs", type=at_least(1), default=10, help="passes over the training digits")
    ap.add_argument("--batch-size", type=at_least(1), default=100, help="digits per Adam step")
    ap.add_argument("--lr", type=greater_than(0), default=3e-3, help="Adam's learning rate")
    ap.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    ap.add_argument("--out", type=Path, default=Path("outputs/sparse_autoencoder"),
                    help="folder for the figures")
    ap.add_argument("--quick", action="store_true", help="a small budget, for tests")
    args = ap.parse_args(argv)
    if args.rho >= 1:
        ap.error(f"argument --rho: must be below 1 (a mean sigmoid activation), got {args.rho}")
    if args.quick:  # 64 units, 3,000 digits, 5 epochs of 60 steps (options given still count)
        quick = dict(hidden=64, train_size=3_000, test_size=500, epochs=5, batch_size=50)
        for key, value in quick.items():
            if getattr(args, key) == ap.get_default(key):
                setattr(args, key, value)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tg.manual_seed(args.seed)
    x_train, x_test = load_data(args.train_size, args.test_size)
    model = SparseAutoencoder(args.hidden)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True,
                        generator=args.seed)
    print(f"784 -> {args.hidden} -> 784 on {len(x_train):,} digits; rho = {args.rho}, "
          f"beta = {args.beta}, lam = {args.weight_decay}; Adam lr {args.lr}")
    print(f"{'epoch':>5}{'cost J':>9}{'recon':>9}{'KL':>8}{'decay':>8}{'| test recon':>13}"
          f"{'mean act':>10}{'units on':>10}")
    history = [dict(epoch=0, **evaluate(model, x_test))]
    print(f"{0:>5}{'':>34}{'|':>2}{history[0]['recon']:>11.2f}"
          f"{history[0]['mean_activation']:>10.3f}{history[0]['active']:>10.1f}")
    start = time.perf_counter()
    with StopOnInterrupt() as stop:
        for epoch in range(1, args.epochs + 1):
            totals, steps = np.zeros(4), 0
            for (images,) in loader:
                parts = cost(model, images, args)
                optimizer.zero_grad()
                parts[0].backward()
                optimizer.step()
                totals += [p.item() for p in parts]
                steps += 1
                if stop:  # Ctrl-C: this batch is done, the rest is not
                    break
            totals /= steps
            history.append(dict(epoch=epoch, train_cost=totals[0], train_recon=totals[1],
                                **evaluate(model, x_test)))
            h = history[-1]
            print(f"{epoch:>5}{totals[0]:>9.2f}{totals[1]:>9.2f}{totals[2]:>8.3f}"
                  f"{totals[3]:>8.3f}{'|':>2}{h['recon']:>11.2f}{h['mean_activation']:>10.3f}"
                  f"{h['active']:>10.1f}   ({time.perf_counter() - start:.1f} s)")
            if stop:
                break
    print(f"mean hidden activation: {history[0]['mean_activation']:.3f} at the start -> "
          f"{history[-1]['mean_activation']:.3f} (target rho = {args.rho}); a digit turns on "
          f"{history[-1]['active']:.1f} of {args.hidden} units (activation > 0.5)")
    figures = [save_features(model, args.out),
               save_reconstructions(model, x_test, args.out, history[-1]["mean_activation"])]
    for path in figures:
        print(f"figure: {path}")
    if stop:
        print(f"interrupted in epoch {epoch}: the figures above, of the network as it was, are "
              f"saved in {args.out}/ (exit status 130)")
    return dict(history=history, figures=figures, seconds=time.perf_counter() - start,
                hidden=args.hidden, interrupted=bool(stop))



if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main()["interrupted"] else 0)
