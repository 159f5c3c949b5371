"""An LSTM reads each MNIST digit one pixel row at a time (28 steps of 28 pixels) and says which
digit it was: about 97.5% of the 10,000 test digits right after two epochs on a CPU.

    python examples/mnist_lstm.py                 # the full run: 2 epochs over 60,000 images
    python examples/mnist_lstm.py --quick         # a smoke test: 10,000 images, 1 epoch, 1,000 tests
    python examples/mnist_lstm.py --epochs 3 --hidden 128 --lr 5e-3 --out my_run/

It reads top to bottom like a lesson: the data (an image is a sequence of rows), the model (an LSTM
whose final hidden state goes through a linear layer to 10 scores), the loss, the optimizer, the
training loop (timed per epoch), the result. It writes a checkpoint (`tinygrad_lite.save`), the
loss curve, and a picture of the network making up its mind row by row, to --out.

Why an LSTM: its cell state is a memory that gates decide, at every row, to keep, overwrite or
read; so what it saw in row 5 can still count at row 28, which a plain RNN has trouble with.
Training steps are replayed with tg.jit (the same numbers, about 1.9x faster:
docs/performance.md); --no-jit runs them eagerly.
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
    """MNIST as (N, 28, 28) float32 sequences (28 time steps of 28 pixels), standardized, with
    int labels."""
    x_train, y_train = mnist.load("train")
    x_test, y_test = mnist.load("test")
    x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    x_test, y_test = x_test[:test_limit], y_test[:test_limit]

    def prepare(images):
        return ((images - MNIST_MEAN) / MNIST_STD).astype(np.float32)

    return prepare(x_train), y_train, prepare(x_test), y_test


# ----------------------------------------------------------------------------------- the model ----
class RowLSTM(nn.Module):
    """LSTM over the 28 rows (batch_first: input (N, 28 steps, 28 pixels)); the hidden state after
    the last row -> linear -> 10 scores."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(input_size=28, hidden_size=hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)  # h_n: (num_layers=1, N, hidden)
        return self.fc(h_n[-1])  # raw scores ("logits"), one per digit

    def scores_per_row(self, x):
        """The scores the network would give after each row: (N, 28, 10)."""
        outputs, _ = self.lstm(x)  # the hidden state after every row: (N, 28, hidden)
        return self.fc(outputs)


def evaluate(model: RowLSTM, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
    """(accuracy, mean cross-entropy) on sequences x with labels y, in batches, without a graph."""
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
    model = RowLSTM(config.hidden)
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

    def train_step(images, labels):
        """One step: the loss of a batch, backpropagation through time, an Adam step."""
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()  # backpropagation through time: through all 28 steps
        optimizer.step()
        return loss.detach()

    if config.jit:  # traced on its first calls, then replayed as plain numpy (the same numbers)
        train_step = tg.jit(train_step)

    history = {"step_loss": [], "epoch": [], "train_loss": [], "test_accuracy": [],
               "test_loss": [], "epoch_seconds": []}
    for epoch in range(1, config.epochs + 1):
        start, total, seen = time.perf_counter(), 0.0, 0
        for images, labels in progress(loader, len(loader), f"epoch {epoch}/{config.epochs}",
                                       config.progress):
            loss = train_step(images, labels)
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
                n_test=len(x_test), n_train=len(x_train), x_test=x_test, y_test=y_test)


def reading_curves(model: RowLSTM, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability of the true digit after each row, for each image: (N, 28)."""
    model.eval()
    with tg.no_grad():
        p = model.scores_per_row(Tensor(x)).softmax(axis=-1).numpy()
    return p[np.arange(len(y)), :, y]


# --------------------------------------------------------------------------------- the outputs ----
def save_figures(model: RowLSTM, history: dict, x: np.ndarray, y: np.ndarray,
                 out: Path) -> list[Path]:
    """The loss curve, and four test digits with the network's belief in the right answer after
    each row it has read, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
           title="the LSTM's training loss: each batch, running mean, test set")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = [out / "loss.png"]
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    picks = [int(np.flatnonzero(y == d)[0]) for d in (0, 3, 7, 9) if (y == d).any()][:4]
    curves = reading_curves(model, x[picks], y[picks])
    fig, axes = plt.subplots(2, len(picks), figsize=(2.6 * len(picks), 5.2), squeeze=False,
                             gridspec_kw={"height_ratios": [1.1, 1]})
    for k, i in enumerate(picks):
        axes[0, k].imshow(x[i], cmap="gray_r")
        axes[0, k].set_title(f"digit {y[i]}", fontsize=9)
        axes[0, k].axis("off")
        axes[1, k].plot(np.arange(1, 29), curves[k], marker=".", ms=3)
        axes[1, k].set(xlabel="rows read", ylim=(-0.03, 1.03), xlim=(0, 29))
        axes[1, k].grid(alpha=0.3)
    axes[1, 0].set_ylabel("p(true digit)")
    fig.suptitle("the LSTM reading row by row: its belief in the right digit", fontsize=10)
    fig.tight_layout()
    paths.append(out / "reading.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--epochs", type=at_least(1), default=2, help="passes over the training data")
    ap.add_argument("--batch-size", type=at_least(1), default=128)
    ap.add_argument("--lr", type=greater_than(0), default=1e-2, help="Adam's (initial) learning rate")
    ap.add_argument("--hidden", type=at_least(1), default=64, help="size of the LSTM's hidden state")
    ap.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    ap.add_argument("--out", type=Path, default=Path("outputs/mnist_lstm"),
                    help="folder for the checkpoint and figures")
    ap.add_argument("--quick", action="store_true",
                    help="a small budget (for tests): 10,000 training images, 1 epoch, 1,000 test")
    ap.add_argument("--no-progress", dest="progress", action="store_false",
                    help="no progress bar (there is none anyway when output goes to a file)")
    ap.add_argument("--no-jit", dest="jit", action="store_false",
                    help="run every training step eagerly instead of replaying it with tg.jit "
                         "(the same numbers, slower: docs/performance.md)")
    ap.add_argument("--blas-threads", type=at_least(0), default=0,
                    help="threads for every BLAS product during training; 0: the library's "
                         "policy, one thread for small products (see tinygrad_lite.threads)")
    config = ap.parse_args(argv)
    config.train_limit = config.test_limit = None
    if config.quick:
        config.epochs, config.train_limit, config.test_limit = 1, 10_000, 1_000
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
          f"({result['n_train']:,} images each; {'steps replayed by tg.jit' if config.jit else 'eager'}"
          f"; load average {load:.2f} at the start)")
    config.out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.out / "mnist_lstm.npz"
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}
    tg.save({"model": result["model"].state_dict(), "config": saved}, checkpoint)
    print(f"checkpoint: {checkpoint}")
    figures = save_figures(result["model"], result["history"], result.pop("x_test"),
                           result.pop("y_test"), config.out)
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
