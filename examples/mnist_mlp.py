"""The lesson's network: 784 inputs, two hidden layers of 16 neurons, 10 outputs, trained on MNIST.

    python examples/mnist_mlp.py                    # the default recipe (about 96.6%)
    python examples/mnist_mlp.py --preset lesson    # sigmoid + squared error + plain SGD (about 94.5%)
    python examples/mnist_mlp.py --quick            # a quarter of the data, 2 epochs (a smoke test)
    python examples/mnist_mlp.py --predict my_digit.png
    python examples/mnist_mlp.py --export-onnx mlp.onnx   # also write the trained network as ONNX
    python examples/mnist_mlp.py --help

Each preset writes its checkpoint and figures to its own folder, outputs/mnist_mlp/<preset>/;
--predict reads the checkpoint of the preset it is given. Ctrl-C stops after the current batch
and saves the checkpoint and figures so far (exit status 130). How long a run takes on a 2-core
machine, idle and busy: the README's table (benchmarks/bench_examples.py regenerates it).

It reads top to bottom like the lesson: the data, the network and its 13,002 numbers, the cost,
gradient descent on minibatches, the result, and a warning about what the network does NOT know.
Training steps are replayed with tg.jit (the same numbers; 1.5x faster, 2.7x with the lesson's
batch of 10: docs/performance.md); --no-jit runs them eagerly.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.data import DataLoader, TensorDataset, mnist, progress
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than

# Two recipes. "default" is tuned to reach 96% with this tiny network; "lesson" is the classic one
# from the videos and Nielsen's book: sigmoid neurons, squared-error cost, plain minibatch SGD.
PRESETS = {
    "default": dict(activation="leaky_relu", loss="cross_entropy", optimizer="adam", lr=3e-3,
                    epochs=30, batch_size=64, schedule="cosine", shift=1, standardize=True),
    "lesson": dict(activation="sigmoid", loss="mse", optimizer="sgd", lr=3.0, epochs=30,
                   batch_size=10, schedule="none", shift=0, standardize=False),
}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
               "elu": nn.ELU, "prelu": nn.PReLU, "rrelu": nn.RReLU, "softplus": nn.Softplus}
OPTIMIZERS = {
    "sgd": lambda p, lr: optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "adagrad": lambda p, lr: optim.Adagrad(p, lr=lr),
    "rmsprop": lambda p, lr: optim.RMSprop(p, lr=lr),
    "adadelta": lambda p, lr: optim.Adadelta(p, lr=lr),
    "adam": lambda p, lr: optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: optim.AdamW(p, lr=lr),
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels (the values everyone uses)
# NOTE: --predict's out-of-distribution check (see `similarity`): every one of the 10,000 test
# digits has a training digit at least this similar; noise scores about 0.57, checkerboards 0.46,
# a drawn house 0.49, a blank image 0 (tests/test_examples_mlp.py checks these on the data).
SIMILARITY_FLOOR = 0.62


# ----------------------------------------------------------------------------------- the network ----
class MLP(nn.Module):
    """784 -> 16 -> 16 -> 10. Each layer: weighted sums plus biases, then the activation."""

    def __init__(self, activation: str = "sigmoid", output_activation: str | None = None):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)  # 784 x 16 weights + 16 biases
        self.fc2 = nn.Linear(16, 16)  # 16 x 16 weights + 16 biases
        self.fc3 = nn.Linear(16, 10)  # 16 x 10 weights + 10 biases
        self.act1 = ACTIVATIONS[activation]()
        self.act2 = ACTIVATIONS[activation]()
        self.out = ACTIVATIONS[output_activation]() if output_activation else None

    def forward(self, x):
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        x = self.fc3(x)
        return self.out(x) if self.out is not None else x  # raw scores ("logits") otherwise


def count_parameters(model: MLP) -> str:
    """The 13,002, with the arithmetic."""
    parts = [f"{l.in_features}*{l.out_features} + {l.out_features}"
             for l in (model.fc1, model.fc2, model.fc3)]
    return f"{' + '.join(parts)} = {model.num_parameters():,}"


# --------------------------------------------------------------------------------------- the data ----
def load_data(standardize: bool, train_limit: int | None = None, test_limit: int | None = None):
    """MNIST from the package: 60,000 training and 10,000 test images, flattened to 784 pixels."""
    x_train, y_train = mnist.load("train", flatten=True)
    x_test, y_test = mnist.load("test", flatten=True)
    if train_limit:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    if standardize:  # zero mean, unit variance inputs make the first layer's job easier
        x_train = (x_train - MNIST_MEAN) / MNIST_STD
        x_test = (x_test - MNIST_MEAN) / MNIST_STD
    # NOTE: copy=False: the images are float32 already, and so is (x - mean) / std (numpy 2 keeps
    # float32 with Python scalars); a second copy of 60,000 images is a visible part of start-up
    return x_train.astype(np.float32, copy=False), y_train, x_test.astype(np.float32, copy=False), y_test


def shift_batch(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Data augmentation: move the whole batch by up to `max_shift` pixels in x and y, so the
    network learns that a digit one pixel to the left is the same digit."""
    if max_shift == 0:
        return images
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
    square = images.reshape(-1, 28, 28)
    pad = max_shift
    padded = np.pad(square, ((0, 0), (pad, pad), (pad, pad)), constant_values=square.min())
    moved = padded[:, pad + dy:pad + dy + 28, pad + dx:pad + dx + 28]
    return np.ascontiguousarray(moved).reshape(images.shape)


# --------------------------------------------------------------------------------------- the cost ----
def cost(model_output, labels: Tensor, kind: str) -> Tensor:
    """The number gradient descent makes small."""
    if kind == "mse":
        # the lesson's cost: squared differences to the one-hot target, summed over the 10 outputs,
        # averaged over the batch, halved so its gradient is simply (output - target) / batch
        target = labels.one_hot(10)
        return 0.5 * F.mse_loss(model_output, target, reduction="sum") / len(labels)
    return F.cross_entropy(model_output, labels)


def accuracy(model: MLP, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    with tg.no_grad():
        predictions = model(Tensor(x)).argmax(axis=1).numpy()
    return float((predictions == y).mean()), predictions


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


# -------------------------------------------------------------------------------------- training ----
def train(config: argparse.Namespace, stop: StopOnInterrupt) -> dict:
    tg.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    x_train, y_train, x_test, y_test = load_data(config.standardize, config.train_limit,
                                                 config.test_limit)
    output_activation = "sigmoid" if config.loss == "mse" else None
    model = MLP(config.activation, output_activation)
    print(model)
    print(f"parameters: {count_parameters(model)}")
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config.lr)
    schedule = (optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                if config.schedule == "cosine" else None)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=config.batch_size,
                        shuffle=True, generator=config.seed)
    print(f"training: {config.epochs} epochs of {len(x_train):,} images in batches of "
          f"{config.batch_size} ({len(loader):,} steps per epoch), {config.optimizer} lr={config.lr}, "
          f"{config.activation} activations, {config.loss} cost")

    def train_step(images, labels):
        """One gradient step: the cost of a batch, its gradient, and a step downhill."""
        output = model(images)
        loss = cost(output, labels, config.loss)
        optimizer.zero_grad()
        loss.backward()  # backpropagation: d(cost)/d(every weight and bias)
        optimizer.step()  # gradient descent: a small step downhill
        return loss.detach(), output.detach()

    if config.jit:  # traced on its first calls, then replayed as plain numpy (the same numbers)
        train_step = tg.jit(train_step)

    history = {"epoch": [], "loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        total, seen, correct = 0.0, 0, 0
        bar = progress(loader, len(loader), f"epoch {epoch}/{config.epochs}", config.progress)
        for images, labels in bar:
            images = Tensor(shift_batch(images.numpy(), rng, config.shift))
            loss, output = train_step(images, labels)
            total += loss.item() * len(labels)
            seen += len(labels)
            correct += int((output.numpy().argmax(axis=1) == labels.numpy()).sum())
            if stop:  # Ctrl-C: this batch is done, the rest of training is not
                break
        if stop:
            print(f"interrupted in epoch {epoch} after {seen:,} of {len(x_train):,} images")
            break
        if schedule is not None:
            schedule.step()
        model.eval()
        test_acc, _ = accuracy(model, x_test, y_test)
        history["epoch"].append(epoch)
        history["loss"].append(total / seen)
        history["train_acc"].append(correct / seen)
        history["test_acc"].append(test_acc)
        print(f"epoch {epoch:2d}  cost {total / seen:.4f}  train acc {correct / seen:.4f}  "
              f"test acc {test_acc:.4f}  ({time.perf_counter() - start:.1f} s)")
    seconds = time.perf_counter() - start
    test_acc, predictions = accuracy(model, x_test, y_test)
    return dict(model=model, history=history, test_accuracy=test_acc, seconds=seconds,
                confusion=confusion_matrix(y_test, predictions), n_test=len(y_test), x_test=x_test,
                interrupted=bool(stop), epochs_done=len(history["epoch"]))


# ------------------------------------------------------------------------------------ the outputs ----
def print_confusion(matrix: np.ndarray) -> None:
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("      " + " ".join(f"{d:5d}" for d in range(10)))
    for d, row in enumerate(matrix):
        print(f"  {d}:  " + " ".join(f"{n:5d}" for n in row))


def save_plots(result: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    paths = []
    h = result["history"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(h["epoch"], h["loss"], marker="o", ms=3)
    ax1.set(xlabel="epoch", ylabel="training cost", title="cost per epoch",
            yscale="log" if h["epoch"] else "linear")  # no complete epoch when interrupted early
    ax2.plot(h["epoch"], h["train_acc"], marker="o", ms=3, label="train")
    ax2.plot(h["epoch"], h["test_acc"], marker="o", ms=3, label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy per epoch")
    ax2.legend()
    ax2.grid(alpha=0.3)
    for ax in (ax1, ax2):  # whole epochs only (a 2-epoch run otherwise gets ticks at 1.2, 1.4)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    paths.append(out / "curves.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    # what each of the 16 first-layer neurons responds to: its 784 weights as a 28x28 picture
    weights = result["model"].fc1.weight.numpy()
    fig, axes = plt.subplots(2, 8, figsize=(12, 3.9))
    for i, ax in enumerate(axes.flat):
        w = weights[i].reshape(28, 28)
        limit = np.abs(w).max()
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"neuron {i}", fontsize=8)
        ax.axis("off")
    fig.suptitle("first-layer weights (red: this pixel excites the neuron, blue: inhibits it; "
                 "each neuron on its own scale)")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    paths.append(out / "first_layer_neurons.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def probabilities(model: MLP, x: np.ndarray, loss: str) -> np.ndarray:
    """What the network "believes": softmax of the scores (or the 10 sigmoid outputs, rescaled)."""
    with tg.no_grad():
        out = model(Tensor(x))
        if loss == "mse":
            p = out.numpy()
            return p / p.sum(axis=1, keepdims=True)
        return out.softmax(axis=1).numpy()


def noise_check(model: MLP, config, x_test: np.ndarray) -> dict:
    """The lesson's warning: show the network pure noise and it still answers, confidently."""
    rng = np.random.default_rng(config.seed + 1)
    noise = rng.random((1000, 784), dtype=np.float32)
    if config.standardize:
        noise = (noise - MNIST_MEAN) / MNIST_STD
    p_noise = probabilities(model, noise, config.loss)
    p_real = probabilities(model, x_test[:1000], config.loss)
    answers = np.bincount(p_noise.argmax(axis=1), minlength=10)
    result = dict(noise_confidence=float(p_noise.max(axis=1).mean()),
                  real_confidence=float(p_real.max(axis=1).mean()),
                  noise_answers=answers.tolist(),
                  noise_confident=float((p_noise.max(axis=1) > 0.9).mean()))
    print("pure noise in, digits out: the network never says 'this is not a digit'.")
    print(f"  mean confidence on 1,000 noise images: {result['noise_confidence']:.2f} "
          f"(on real test digits: {result['real_confidence']:.2f}); "
          f"{result['noise_confident']:.0%} of noise images get > 90% confidence")
    print(f"  which digit it 'sees' in noise: {dict(enumerate(answers.tolist()))}")
    result.update(fool_with_noise(model, config, noise[:10]))
    return result


def fool_with_noise(model: MLP, config, noise: np.ndarray, steps: int = 30, step: float = 0.01):
    """Worse: nudge noise towards any digit you like. The gradient of the network's belief with
    respect to the *pixels* (backpropagation all the way to the input) says which way to push each
    pixel; 30 tiny steps later the image still looks like noise, and the network is sure."""
    scale = 1.0 / MNIST_STD if config.standardize else 1.0  # a pixel step, in input units
    lo, hi = (((0 - MNIST_MEAN) / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD) if config.standardize
              else (0.0, 1.0))
    targets = np.arange(len(noise)) % 10
    x = Tensor(noise.copy(), requires_grad=True)
    for _ in range(steps):
        out = model(x)
        if config.loss == "mse":  # sigmoid outputs: raise the target's, lower the others
            belief = (out * Tensor(np.eye(10, dtype=np.float32)[targets] * 2 - 1)).sum()
        else:
            belief = out.log_softmax(axis=1)[np.arange(len(targets)), targets].sum()
        (g,) = tg.grad(belief, x)
        with tg.no_grad():
            x = Tensor(np.clip(x.numpy() + step * scale * np.sign(g.numpy()), lo, hi),
                       requires_grad=True)
    p = probabilities(model, x.numpy(), config.loss)
    confidence = float(p[np.arange(len(targets)), targets].mean())
    change = float(np.abs(x.numpy() - noise).max() / scale)
    print(f"  and after {steps} gradient steps on the pixels (each pixel moved by at most "
          f"{change:.2f} of its 0..1 range), the network is on average {confidence:.0%} sure "
          f"each noise image is the digit we asked for")
    return dict(fooled_confidence=confidence, fooled_max_pixel_change=change)


# ------------------------------------------------------------------------------------- prediction ----
def read_image(path: Path) -> np.ndarray:
    """A PNG (any size, any colours: converted to a 28x28 grey digit, white on black like MNIST)
    or an IDX file of images (all of them). Returns float images in [0, 1], shape (n, 784).
    A file that is missing or not an image ends the program with one line saying so."""
    if not path.is_file():
        raise SystemExit(f"error: --predict {path}: no such file")
    try:
        if path.suffix in (".gz", ".idx", ".idx3-ubyte") or "idx" in path.name:
            images = mnist.read_idx(path).astype(np.float32) / 255.0
            return images.reshape(len(images), -1)
        from PIL import Image, UnidentifiedImageError

        try:
            img = Image.open(path).convert("L")
        except (UnidentifiedImageError, OSError) as e:
            raise SystemExit(f"error: --predict {path}: not a readable image "
                             f"({type(e).__name__}); give a PNG or an IDX file") from None
    except (ValueError, OSError, EOFError) as e:  # a damaged IDX file
        raise SystemExit(f"error: --predict {path}: not a readable IDX file ({e})") from None
    if img.size != (28, 28):
        img = img.resize((28, 28), Image.LANCZOS)
    pixels = np.asarray(img, dtype=np.float32) / 255.0
    if pixels.mean() > 0.5:  # dark ink on light paper: invert to MNIST's light-on-dark
        pixels = 1.0 - pixels
    return pixels.reshape(1, 784)


@functools.lru_cache(maxsize=1)
def unit_training_digits() -> np.ndarray:
    """The 60,000 training images as vectors of length 1, shape (60000, 784)."""
    train = mnist.load("train", flatten=True)[0].astype(np.float32)
    return train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)


def similarity(images: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """How much each image looks like the most similar of the 60,000 training digits: the cosine of
    the angle between the two as vectors of 784 pixels (1: the same picture up to brightness, 0: no
    ink in common). An answer for an image below SIMILARITY_FLOOR is about something the network
    has never seen: it answers anyway, as it does for pure noise."""
    train = unit_training_digits()
    norms = np.linalg.norm(images, axis=1)
    best = np.concatenate([(images[i:i + chunk] @ train.T).max(axis=1)
                           for i in range(0, len(images), chunk)])
    return np.where(norms > 0, best / np.maximum(norms, 1e-12), 0.0)  # a blank image: 0


def load_checkpoint(path: Path) -> dict:
    """The saved network and its recipe; a missing checkpoint says how to make one."""
    if not path.is_file():
        preset = path.parent.name if path.parent.parent.name == "mnist_mlp" else "default"
        train = "python examples/mnist_mlp.py" + (f" --preset {preset}" if preset != "default"
                                                  else "")
        raise SystemExit(f"error: no checkpoint at {path}: train one first with `{train}` "
                         f"(or give --checkpoint PATH)")
    return tg.load(path)


def predict(config) -> dict:
    checkpoint = load_checkpoint(config.checkpoint)
    saved = checkpoint["config"]
    model = MLP(saved["activation"], "sigmoid" if saved["loss"] == "mse" else None)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    trained = (f"preset {saved['preset']}, {saved.get('epochs_done', saved['epochs'])} epochs"
               + (f", {saved['test_accuracy']:.2%} on the test digits"
                  if "test_accuracy" in saved else ""))
    print(f"checkpoint: {config.checkpoint} ({trained})")
    raw = read_image(Path(config.predict))
    images = (raw - MNIST_MEAN) / MNIST_STD if saved["standardize"] else raw
    p = probabilities(model, images, saved["loss"])
    similar = similarity(raw)
    unlike = similar < SIMILARITY_FLOOR
    answers = p.argmax(axis=1)
    for i, row in enumerate(p[:config.show]):
        top = np.argsort(row)[::-1][:3]
        print(f"image {i}: {top[0]} (confidence {row[top[0]]:.2f}; then {top[1]} "
              f"{row[top[1]]:.2f}, {top[2]} {row[top[2]]:.2f})"
              + (f"  <- unlike any training digit (similarity {similar[i]:.2f})" if unlike[i]
                 else ""))
    if len(p) > config.show:
        counts = dict(enumerate(np.bincount(answers, minlength=10).tolist()))
        print(f"stopped printing after {config.show} of {len(p):,} images (--show N prints more); "
              f"answers for all {len(p):,}: {counts}")
    if unlike.any():
        print(f"note: {int(unlike.sum()):,} of {len(p):,} image(s) look unlike every training digit "
              f"(similarity to the closest of the 60,000 below {SIMILARITY_FLOOR}; every real test "
              f"digit is above it). The network answers anyway, as it does for pure noise: do not "
              f"trust those answers (docs/lesson.md, 'what the network does not know').")
    return dict(predictions=answers.tolist(), similarity=similar.tolist(),
                unlike=unlike.tolist(), checkpoint=str(config.checkpoint))


# ------------------------------------------------------------------------------------------- main ----
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default",
                    help="the recipe; the options below override its settings")
    ap.add_argument("--activation", choices=sorted(ACTIVATIONS),
                    help="hidden-layer activation (default: the preset's)")
    ap.add_argument("--loss", choices=["cross_entropy", "mse"],
                    help="the cost (default: the preset's)")
    ap.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                    help="the optimizer (default: the preset's)")
    ap.add_argument("--lr", type=greater_than(0), help="learning rate (default: the preset's)")
    ap.add_argument("--epochs", type=at_least(1),
                    help="passes over the training data (default: the preset's, 30)")
    ap.add_argument("--batch-size", type=at_least(1),
                    help="images per gradient step (default: the preset's)")
    ap.add_argument("--schedule", choices=["cosine", "none"],
                    help="learning-rate schedule (default: the preset's)")
    ap.add_argument("--shift", type=at_least(0),
                    help="data augmentation: max shift in pixels, 0: off (default: the preset's)")
    ap.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    ap.add_argument("--out", type=Path,
                    help="folder for the checkpoint and figures (default: outputs/mnist_mlp/PRESET)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: a quarter of the data, 2 epochs (what the tests run)")
    ap.add_argument("--no-progress", dest="progress", action="store_false",
                    help="no progress bar (there is none anyway when output goes to a file)")
    ap.add_argument("--no-jit", dest="jit", action="store_false",
                    help="run every training step eagerly instead of replaying it with tg.jit "
                         "(the same numbers, slower: docs/performance.md)")
    ap.add_argument("--predict", type=Path, metavar="IMAGE",
                    help="classify a PNG or an IDX file of images with a saved checkpoint")
    ap.add_argument("--checkpoint", type=Path,
                    help="checkpoint for --predict (default: OUT/mnist_mlp.npz)")
    ap.add_argument("--show", type=at_least(1), default=50,
                    help="--predict: how many images' answers to print")
    ap.add_argument("--export-onnx", type=Path, metavar="PATH",
                    help="also write the trained network as an ONNX file (needs the onnx extra)")
    config = ap.parse_args(argv)
    for key, value in PRESETS[config.preset].items():
        if getattr(config, key, None) is None:
            setattr(config, key, value)
    config.standardize = PRESETS[config.preset]["standardize"]
    config.train_limit = config.test_limit = None
    if config.quick:  # a smoke test: a quarter of the data, two epochs
        config.epochs, config.train_limit, config.test_limit = min(config.epochs, 2), 15_000, 2_000
    if config.out is None:
        config.out = Path("outputs/mnist_mlp") / config.preset
    if config.checkpoint is None:
        config.checkpoint = config.out / "mnist_mlp.npz"
    return config


def save_outputs(result: dict, config: argparse.Namespace) -> list[Path]:
    """The checkpoint (with its recipe and result) and the figures; returns the paths written."""
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}
    saved.update(test_accuracy=result["test_accuracy"], epochs_done=result["epochs_done"])
    tg.save({"model": result["model"].state_dict(), "config": saved}, config.checkpoint)
    return [config.checkpoint, *save_plots(result, config.out)]


def export_onnx(model: MLP, config: argparse.Namespace) -> None:
    """The trained network as ONNX (input: a batch of 784 pixels, prepared as in training)."""
    from tinygrad_lite.onnx import export

    export(model, Tensor(np.zeros((1, 784), np.float32)), config.export_onnx,
           input_names=["pixels"], output_names=["scores"])
    scaled = "standardized" if config.standardize else "in [0, 1]"
    print(f"ONNX: input 'pixels' (batch, 784), {scaled}; output 'scores' (batch, 10); open it with "
          "onnxruntime.InferenceSession or netron (docs/formats.md)")


def main(argv=None) -> dict:
    config = parse_args(argv)
    if config.predict is not None:
        return predict(config)
    config.out.mkdir(parents=True, exist_ok=True)
    with StopOnInterrupt() as stop:
        result = train(config, stop)
    print(f"\ntest accuracy: {result['test_accuracy']:.2%} on {result['n_test']:,} test images "
          f"({int(round((1 - result['test_accuracy']) * result['n_test']))} mistakes); training "
          f"took {result['seconds']:.1f} s ({'steps replayed by tg.jit' if config.jit else 'eager'})")
    print_confusion(result["confusion"])
    if not result["interrupted"]:
        result.update(noise_check(result["model"], config, result["x_test"]))
    result["paths"] = save_outputs(result, config)
    if config.export_onnx is not None:
        export_onnx(result["model"], config)
        result["paths"].append(config.export_onnx)
    for path in result["paths"]:
        kind = {".npz": "checkpoint", ".onnx": "ONNX model"}.get(path.suffix, "figure")
        print(f"{kind}: {path}")
    if result["interrupted"]:
        print(f"interrupted after {result['epochs_done']} complete epoch(s): the checkpoint and "
              f"figures above are saved in {config.out}/ (exit status 130)")
    result["parameters"] = result["model"].num_parameters()
    return result


if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main().get("interrupted") else 0)
