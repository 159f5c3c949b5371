"""A small convolutional network on MNIST: over 98.5% of the 10,000 test digits right after two
epochs of training on a CPU.

    python examples/mnist_cnn.py                  # the full run: 2 epochs over 60,000 images
    python examples/mnist_cnn.py --quick          # a smoke test: 4,000 images, 1 epoch, 1,000 tests
    python examples/mnist_cnn.py --epochs 3 --channels 16 32 --lr 2e-3 --out my_run/

It reads top to bottom like a lesson: the data, the model (two convolution + pooling stages and a
linear layer), the loss, the optimizer, the training loop (timed per epoch), the result. It writes
a checkpoint (`tinygrad_lite.save`), a picture of the learned first-layer filters and the loss
curve to --out.

Why convolutions: a 5x5 filter slides over the whole image, so the same 25 weights look for the
same stroke everywhere; pooling then keeps the strongest response of each 2x2 patch, so a stroke
moved by a pixel gives nearly the same features. Far fewer weights than a dense layer, and better
digits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.data import DataLoader, TensorDataset, mnist, progress
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels (the values everyone uses)


# ------------------------------------------------------------------------------------ the data ----
def load_data(train_limit: int | None = None, test_limit: int | None = None):
    """MNIST as (N, 1, 28, 28) float32 images (one channel: grey), standardized, and int labels."""
    x_train, y_train = mnist.load("train")
    x_test, y_test = mnist.load("test")
    x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    x_test, y_test = x_test[:test_limit], y_test[:test_limit]

    def prepare(images):
        return ((images - MNIST_MEAN) / MNIST_STD).astype(np.float32)[:, None, :, :]

    return prepare(x_train), y_train, prepare(x_test), y_test


# ----------------------------------------------------------------------------------- the model ----
class ConvNet(nn.Module):
    """conv 5x5 -> relu -> max-pool 2 -> conv 5x5 -> relu -> max-pool 2 -> linear -> 10 scores.

    Shapes for one image: 1x28x28 -> c1x24x24 -> c1x12x12 -> c2x8x8 -> c2x4x4 -> c2*16 -> 10.
    """

    def __init__(self, c1: int = 8, c2: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, kernel_size=5)  # c1 filters of 5x5 pixels
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5)  # c2 filters over all c1 maps
        self.pool = nn.MaxPool2d(2)  # no weights: the largest value of each 2x2 patch
        self.fc = nn.Linear(c2 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu())
        return self.fc(x.flatten(1))  # raw scores ("logits"), one per digit


def evaluate(model: ConvNet, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
    """(accuracy, mean cross-entropy) on images x with labels y, in batches, without a graph."""
    model.eval()
    correct, total_loss = 0, 0.0
    with tg.no_grad():
        for start in range(0, len(x), batch_size):
            scores = model(Tensor(x[start:start + batch_size]))
            labels = y[start:start + batch_size]
            total_loss += F.cross_entropy(scores, Tensor(labels), reduction="sum").item()
            correct += int((scores.numpy().argmax(axis=1) == labels).sum())
    model.train()
    return correct / len(x), total_loss / len(x)


# ------------------------------------------------------------------------------------ training ----
def train(config: argparse.Namespace, stop: StopOnInterrupt) -> dict:
    tg.manual_seed(config.seed)  # the weights' initialization
    x_train, y_train, x_test, y_test = load_data(config.train_limit, config.test_limit)
    model = ConvNet(*config.channels)
    print(model)
    print(f"parameters: {model.num_parameters():,}")

    # the loss: softmax cross-entropy of the 10 scores against the true digit (F.cross_entropy)
    # the optimizer: Adam, its learning rate annealed along a cosine to 0 over the whole run
    optimizer = optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=config.batch_size,
                        shuffle=True, generator=config.seed)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * len(loader))
    print(f"training: {config.epochs} epoch(s) of {len(x_train):,} images in batches of "
          f"{config.batch_size} ({len(loader):,} steps per epoch), Adam lr={config.lr} (cosine)")

    history = {"step_loss": [], "epoch": [], "train_loss": [], "test_accuracy": [],
               "test_loss": [], "epoch_seconds": []}
    for epoch in range(1, config.epochs + 1):
        start, total, seen = time.perf_counter(), 0.0, 0
        for images, labels in progress(loader, len(loader), f"epoch {epoch}/{config.epochs}",
                                       config.progress):
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()  # the gradient of the loss for every weight and bias
            optimizer.step()  # one small step downhill
            schedule.step()
            history["step_loss"].append(loss.item())
            total += loss.item() * len(labels)
            seen += len(labels)
            if stop:  # Ctrl-C: this batch is done, the rest of training is not
                break
        if stop:
            print(f"interrupted in epoch {epoch} after {seen:,} of {len(x_train):,} images")
            break
        seconds = time.perf_counter() - start  # training only; the evaluation is not counted
        accuracy, test_loss = evaluate(model, x_test, y_test)
        for key, value in (("epoch", epoch), ("train_loss", total / seen),
                           ("epoch_seconds", seconds), ("test_accuracy", accuracy),
                           ("test_loss", test_loss)):
            history[key].append(value)
        print(f"epoch {epoch}: train loss {total / seen:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {accuracy:.2%}  ({seconds:.1f} s)", flush=True)
    accuracy = history["test_accuracy"][-1] if not stop else evaluate(model, x_test, y_test)[0]
    return dict(model=model, history=history, test_accuracy=accuracy, interrupted=bool(stop),
                n_test=len(x_test), n_train=len(x_train))


# --------------------------------------------------------------------------------- the outputs ----
def save_figures(model: ConvNet, history: dict, out: Path) -> list[Path]:
    """The first layer's filters (what each looks for) and the loss curve, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    filters = model.conv1.weight.numpy()[:, 0]  # (c1, 5, 5)
    cols = min(len(filters), 8)
    rows = -(-len(filters) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = float(np.abs(filters).max())  # one colour scale for all filters, shown in the bar
    for i, (ax, w) in enumerate(zip(axes.flat, filters)):
        image = ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"filter {i}", fontsize=8)
    fig.suptitle("first-layer 5x5 filters (red: bright pixel there excites, blue: inhibits)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    bar = fig.colorbar(image, cax=fig.add_axes((0.92, 0.12, 0.02, 0.7)))
    bar.set_label("weight", fontsize=8)
    paths = [out / "filters.png"]
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    losses = np.asarray(history["step_loss"])
    steps_per_epoch = len(losses) // max(len(history["epoch"]), 1)
    window = max(1, min(50, len(losses) // 20))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(np.arange(1, len(losses) + 1), losses, alpha=0.25, lw=0.8, label="each batch")
    ax.plot(np.arange(window, len(losses) + 1), smooth, lw=1.6, label=f"running mean of {window} batches")
    ax.plot(np.asarray(history["epoch"]) * steps_per_epoch, history["test_loss"], "o",
            label="test set, end of epoch")
    ax.set(xlabel="training step", ylabel="cross-entropy loss (log scale)", yscale="log",
           title="the CNN's training loss: each batch, running mean, test set")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "loss.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--epochs", type=at_least(1), default=2, help="passes over the training data")
    ap.add_argument("--batch-size", type=at_least(1), default=64)
    ap.add_argument("--lr", type=greater_than(0), default=3e-3, help="Adam's (initial) learning rate")
    ap.add_argument("--channels", type=at_least(1), nargs=2, default=(8, 16), metavar=("C1", "C2"),
                    help="filters in the first and second convolution")
    ap.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    ap.add_argument("--out", type=Path, default=Path("outputs/mnist_cnn"),
                    help="folder for the checkpoint and figures")
    ap.add_argument("--quick", action="store_true",
                    help="a small budget (for tests): 4,000 training images, 1 epoch, 1,000 test")
    ap.add_argument("--no-progress", dest="progress", action="store_false",
                    help="no progress bar (there is none anyway when output goes to a file)")
    ap.add_argument("--blas-threads", type=at_least(0), default=0,
                    help="threads for every BLAS product during training; 0: the library's "
                         "policy, one thread for small products (see tinygrad_lite.threads)")
    config = ap.parse_args(argv)
    config.train_limit = config.test_limit = None
    if config.quick:
        config.epochs, config.train_limit, config.test_limit = 1, 4_000, 1_000
        config.batch_size = min(config.batch_size, 32)  # more steps from few images
    return config


def main(argv=None) -> dict:
    config = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tg.num_threads(config.blas_threads), StopOnInterrupt() as stop:
        result = train(config, stop)
    seconds = result["history"]["epoch_seconds"]
    print(f"\ntest accuracy: {result['test_accuracy']:.2%} on {result['n_test']:,} test images "
          f"({round((1 - result['test_accuracy']) * result['n_test'])} mistakes)")
    print(f"time per epoch: {', '.join(f'{s:.1f} s' for s in seconds) or '(none complete)'} "
          f"({result['n_train']:,} images each; load average {load:.2f} at the start)")
    config.out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.out / "mnist_cnn.npz"
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}
    saved["channels"] = list(config.channels)
    tg.save({"model": result["model"].state_dict(), "config": saved}, checkpoint)
    print(f"checkpoint: {checkpoint}")
    figures = save_figures(result["model"], result["history"], config.out)
    for path in figures:
        print(f"figure: {path}")
    if result["interrupted"]:
        print(f"interrupted after {len(seconds)} complete epoch(s): the checkpoint and figures "
              f"above are saved in {config.out}/ (exit status 130)")
    result.update(epoch_seconds=seconds,
                  seconds_per_epoch=float(np.mean(seconds)) if seconds else float("nan"),
                  checkpoint=checkpoint, figures=figures,
                  parameters=result["model"].num_parameters())
    return result


if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main()["interrupted"] else 0)
