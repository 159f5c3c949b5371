"""A small vision transformer cuts each MNIST digit into 16 patches of 7x7 pixels, reads them as a
sequence of 16 tokens, and says which digit it was: 97.83% of the 10,000 test digits right after 6
epochs (about 2 minutes of CPU time, one core's worth; longer on a busy machine).

    python examples/mnist_transformer.py              # the full run: 6 epochs over 60,000 images
    python examples/mnist_transformer.py --quick      # a smoke test: 10,000 images, 1 epoch, 1,000 tests
    python examples/mnist_transformer.py --depth 3 --dim 96 --epochs 10 --out my_run/

It reads top to bottom like a lesson: the data (an image as a sequence of patches), the model (each
patch flattened and projected to a `dim`-wide token, a learned position added to each, a learned
class token in front; `depth` TransformerEncoderLayers in which every token looks at every other
through multi-head self-attention; the class token's final state -> LayerNorm -> Linear -> 10
scores), the loss, the optimizer, the training loop (timed per epoch), the result. It writes a
checkpoint (`tinygrad_lite.save`), the loss curve, and the attention maps of one test digit (where
the class token looks, per layer and head) to --out.

Why attention: a convolution looks at neighbours only; here the class token weighs all 16 patches at
once, and the weights are computed from the image itself, so the picture shows which parts of this
very digit the network found worth reading.
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
    """MNIST as (N, 28, 28) float32 images, standardized, with int labels."""
    x_train, y_train = mnist.load("train")
    x_test, y_test = mnist.load("test")
    x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    x_test, y_test = x_test[:test_limit], y_test[:test_limit]

    def prepare(images):
        return ((images - MNIST_MEAN) / MNIST_STD).astype(np.float32)

    return prepare(x_train), y_train, prepare(x_test), y_test


def shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by its own random offset of up to max_shift pixels in each direction
    (the background fills in): a digit means the same a little to the left, and the network,
    which sees every position separately, has to learn that from examples."""
    if max_shift == 0:
        return images
    n, size = images.shape[0], images.shape[1]
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)),
                    constant_values=images.min())
    dy, dx = rng.integers(0, 2 * max_shift + 1, (2, n, 1, 1))
    grid = np.arange(size)
    return padded[np.arange(n)[:, None, None], dy + grid[:, None], dx + grid[None, :]]


def to_patches(images: Tensor, patch: int) -> Tensor:
    """(N, 28, 28) images -> (N, tokens, patch * patch): the patches in reading order, each
    flattened row by row."""
    n, side = images.shape[0], images.shape[1] // patch
    grid = images.reshape(n, side, patch, side, patch).transpose(0, 1, 3, 2, 4)
    return grid.reshape(n, side * side, patch * patch)


# ----------------------------------------------------------------------------------- the model ----
class VisionTransformer(nn.Module):
    """Patches -> tokens (+ positions, a class token in front) -> TransformerEncoderLayers
    (pre-norm, GELU) -> the class token -> LayerNorm -> Linear -> 10 scores."""

    def __init__(self, patch: int = 7, dim: int = 64, depth: int = 2, heads: int = 4,
                 mlp: int = 128, dropout: float = 0.0):
        super().__init__()
        if 28 % patch:
            raise ValueError(f"patch size {patch} must divide 28")
        self.patch, self.tokens = patch, (28 // patch) ** 2
        self.embed = nn.Linear(patch * patch, dim)  # the same projection for every patch
        self.class_token = nn.Parameter(np.zeros((1, 1, dim), np.float32))
        self.position = nn.Parameter(np.zeros((1, self.tokens + 1, dim), np.float32))
        nn.init.normal_(self.class_token, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=mlp, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def tokens_of(self, images: Tensor) -> Tensor:
        """(N, 28, 28) -> (N, 1 + tokens, dim): the class token, then one token per patch, each
        with its position added."""
        x = self.embed(to_patches(images, self.patch))
        cls = self.class_token.broadcast_to((x.shape[0], 1, x.shape[2]))
        return Tensor.concatenate([cls, x], axis=1) + self.position

    def forward(self, images):
        x = self.encoder(self.tokens_of(images))
        return self.head(self.norm(x[:, 0]))  # raw scores ("logits"), one per digit

    def attention_maps(self, images: Tensor) -> np.ndarray:
        """Where the class token looks: (layers, N, heads, tokens) attention weights on the
        patches, computed by each layer's own MultiheadAttention on its (normalized) input."""
        maps = []
        x = self.tokens_of(images)
        for layer in self.encoder.layers:
            h = layer.norm1(x)
            _, weights = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
            maps.append(weights.numpy()[:, :, 0, 1:])  # queries: the class token; keys: patches
            x = layer(x)
        return np.stack(maps)


def evaluate(model: VisionTransformer, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
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
    model = VisionTransformer(config.patch, config.dim, config.depth, config.heads, config.mlp,
                              config.dropout)
    print(model)
    print(f"parameters: {model.num_parameters():,}")

    # the loss: softmax cross-entropy of the 10 scores against the true digit (F.cross_entropy)
    # the optimizer: AdamW, its learning rate annealed along a cosine to 0 over the whole run
    optimizer = optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=config.batch_size,
                        shuffle=True, generator=config.seed)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * len(loader))
    print(f"training: {config.epochs} epoch(s) of {len(x_train):,} images in batches of "
          f"{config.batch_size} ({len(loader):,} steps per epoch), AdamW lr={config.lr} (cosine)")

    history = {"step_loss": [], "epoch": [], "train_loss": [], "test_accuracy": [],
               "test_loss": [], "epoch_seconds": []}
    rng = np.random.default_rng(config.seed)  # the random shifts
    for epoch in range(1, config.epochs + 1):
        start, total, seen = time.perf_counter(), 0.0, 0
        for images, labels in progress(loader, len(loader), f"epoch {epoch}/{config.epochs}",
                                       config.progress):
            images = Tensor(shift(images.numpy(), config.shift, rng))
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
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


# --------------------------------------------------------------------------------- the outputs ----
def save_figures(model: VisionTransformer, history: dict, x: np.ndarray, y: np.ndarray,
                 out: Path, digit_index: int = 0) -> list[Path]:
    """The loss curve, and the attention maps of one test digit (per layer and head, and their
    mean), as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = np.asarray(history["step_loss"])
    steps_per_epoch = len(losses) // max(len(history["epoch"]), 1)
    window = max(1, min(50, len(losses) // 20))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(np.arange(1, len(losses) + 1), losses, alpha=0.25, lw=0.8, label="each batch")
    ax.plot(np.arange(window, len(losses) + 1), smooth, lw=1.6,
            label=f"running mean of {window} batches")
    ax.plot(np.asarray(history["epoch"]) * steps_per_epoch, history["test_loss"], "o",
            label="test set, end of epoch")
    ax.set(xlabel="training step", ylabel="cross-entropy loss (log scale)", yscale="log",
           title="the vision transformer's training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = [out / "loss.png"]
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    image = x[digit_index:digit_index + 1]
    model.eval()
    with tg.no_grad():
        maps = model.attention_maps(Tensor(image))[:, 0]  # (layers, heads, tokens)
        guess = int(model(Tensor(image)).numpy().argmax())
    model.train()
    layers, heads, tokens = maps.shape
    side = int(round(tokens ** 0.5))
    digit = image[0] * MNIST_STD + MNIST_MEAN
    fig, axes = plt.subplots(layers, heads + 2, figsize=(1.9 * (heads + 2), 2.0 * layers + 0.6),
                             squeeze=False)
    for layer in range(layers):
        panels = [None] + [maps[layer, h] for h in range(heads)] + [maps[layer].mean(axis=0)]
        titles = ["digit"] + [f"head {h + 1}" for h in range(heads)] + ["mean of heads"]
        for k, (panel, title) in enumerate(zip(panels, titles)):
            ax = axes[layer, k]
            ax.imshow(digit, cmap="gray_r", vmin=0, vmax=1)
            if panel is not None:  # each patch's weight, spread over its 7x7 pixels
                grid = np.kron(panel.reshape(side, side), np.ones((model.patch, model.patch)))
                ax.imshow(grid, cmap="magma", alpha=0.6, vmin=0, vmax=panel.max())
            ax.set_title(title if layer == 0 else "", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[layer, 0].set_ylabel(f"layer {layer + 1}", fontsize=9)
    fig.suptitle(f"where the class token looks: test digit {digit_index} (a {y[digit_index]}, "
                 f"read as {guess}); brighter = more attention", fontsize=10)
    fig.tight_layout()
    paths.append(out / "attention.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--epochs", type=at_least(1), default=6, help="passes over the training data")
    ap.add_argument("--batch-size", type=at_least(1), default=128)
    ap.add_argument("--lr", type=greater_than(0), default=2e-3,
                    help="AdamW's (initial) learning rate")
    ap.add_argument("--weight-decay", type=at_least(0.0, float), default=0.01,
                    help="AdamW's decoupled weight decay")
    ap.add_argument("--patch", type=int, choices=(2, 4, 7, 14), default=7,
                    help="side of the square patches (tokens: (28 / patch) ** 2)")
    ap.add_argument("--dim", type=at_least(1), default=64, help="width of every token")
    ap.add_argument("--depth", type=at_least(1), default=2, help="TransformerEncoderLayers")
    ap.add_argument("--heads", type=at_least(1), default=4,
                    help="attention heads per layer (must divide --dim)")
    ap.add_argument("--mlp", type=at_least(1), default=128,
                    help="hidden width of each layer's feed-forward block")
    ap.add_argument("--dropout", type=at_least(0.0, float), default=0.0,
                    help="dropout in the encoder layers (below 1)")
    ap.add_argument("--shift", type=at_least(0), default=2,
                    help="move each training image by up to this many pixels (augmentation)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of initialization, shuffling and shifts")
    ap.add_argument("--out", type=Path, default=Path("outputs/mnist_transformer"),
                    help="folder for the checkpoint and figures")
    ap.add_argument("--quick", action="store_true",
                    help="a small budget (for tests): 10,000 training images, 1 epoch, 1,000 test")
    ap.add_argument("--no-progress", dest="progress", action="store_false",
                    help="no progress bar (there is none anyway when output goes to a file)")
    ap.add_argument("--blas-threads", type=at_least(0), default=0,
                    help="threads for every BLAS product during training; 0: the library's "
                         "policy, one thread for small products (see tinygrad_lite.threads)")
    config = ap.parse_args(argv)
    if config.dim % config.heads:
        ap.error(f"argument --heads: must divide --dim ({config.dim}), got {config.heads}")
    if config.dropout >= 1:
        ap.error(f"argument --dropout: must be below 1, got {config.dropout}")
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
          f"({result['n_train']:,} images each; load average {load:.2f} at the start)")
    config.out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.out / "mnist_transformer.npz"
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
