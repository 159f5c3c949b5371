"""Why ReLU replaced the sigmoid: the same deep network, six activation functions.

    python examples/activations.py                  # 10 hidden layers, 10,000 digits, 5 epochs
    python examples/activations.py --depth 20 --epochs 3
    python examples/activations.py --help

Backpropagation multiplies, layer after layer, by the activation's derivative. The sigmoid's is
at most 1/4 (and about 0.2 where the units usually sit), so the gradient reaching the first of
ten layers has been shrunk by roughly 0.2^10 ~ 1e-7: those layers barely learn, and neither does
the network. tanh's derivative reaches 1, ReLU's IS 1 wherever the unit is on: the gradient
arrives intact. ReLU's price is that a unit below zero outputs exactly 0 and passes no gradient
(sparse activity, and sometimes "dead" units); LeakyReLU, PReLU (a learned slope) and RReLU (a
random slope while training) give negative inputs a small slope instead.

Every network here is the same: 784 -> 10 hidden layers of 64 -> 10, the same random draws, each
weight matrix scaled by the gain recommended for its activation (Glorot for sigmoid, He for the
ReLUs: nn.init.calculate_gain), so only the activation differs. Trained with SGD + momentum on
10,000 MNIST digits. Reads top to bottom: data, model, training (recording each layer's gradient
norm over the first steps), measurements (test accuracy, the fraction of exactly-zero hidden
outputs), the table and the figure.
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
from tinygrad_lite.data import DataLoader, TensorDataset, mnist
from tinygrad_lite.data.progress import HelpFormatter, StopOnInterrupt, at_least, greater_than

# name: (module factory, the nonlinearity and slope nn.init's gain is computed for)
ACTIVATIONS = {
    "sigmoid": (nn.Sigmoid, "sigmoid", None),
    "tanh": (nn.Tanh, "tanh", None),
    "ReLU": (nn.ReLU, "relu", None),
    "LeakyReLU": (nn.LeakyReLU, "leaky_relu", 0.01),
    "PReLU": (nn.PReLU, "leaky_relu", 0.25),  # its learned slope starts at 0.25
    "RReLU": (nn.RReLU, "leaky_relu", (1 / 8 + 1 / 3) / 2),  # slopes drawn from U(1/8, 1/3)
}
COLORS = dict(zip(ACTIVATIONS, ["tab:red", "tab:orange", "tab:blue", "tab:cyan", "tab:green",
                                "tab:purple"]))
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


# ----------------------------------------------------------------------------------- the data ----
def load_data(n_train: int, n_test: int):
    """The first n_train training and n_test test digits, flattened, standardized pixels."""
    x_train, y_train = mnist.load("train", flatten=True)
    x_test, y_test = mnist.load("test", flatten=True)
    x_train = (x_train[:n_train] - MNIST_MEAN) / MNIST_STD
    x_test = (x_test[:n_test] - MNIST_MEAN) / MNIST_STD
    return x_train, y_train[:n_train], x_test, y_test[:n_test]


# ---------------------------------------------------------------------------------- the model ----
def deep_mlp(activation: str, depth: int, width: int, seed: int) -> nn.Sequential:
    """784 -> `depth` hidden layers of `width` -> 10: Linear, activation, Linear, activation, ...

    Each hidden Linear gets N(0, gain^2 / fan_in) weights and zero biases (He/Kaiming init with the
    activation's gain: 1 for sigmoid, 5/3 for tanh, sqrt(2) for ReLU), which keeps the signal's
    size from layer to layer at the start. The seed is reset first, so every activation starts
    from the same random numbers."""
    tg.manual_seed(seed)
    make, nonlinearity, slope = ACTIVATIONS[activation]
    layers, sizes = [], [784] + [width] * depth
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.kaiming_normal_(linear.weight, a=slope or 0.0, nonlinearity=nonlinearity)
        nn.init.zeros_(linear.bias)
        layers += [linear, make()]
    layers.append(nn.Linear(width, 10))  # the output layer: raw scores for the 10 digits
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list:
    return [m for m in model if isinstance(m, nn.Linear)]


def hidden_outputs(model: nn.Sequential, x: np.ndarray) -> list:
    """What each activation module outputs, layer by layer (for the zero count)."""
    outputs, h = [], Tensor(x)
    with tg.no_grad():
        for module in model:
            h = module(h)
            if not isinstance(module, nn.Linear):
                outputs.append(h.numpy())
    return outputs


# ------------------------------------------------------------------------------------ training ----
def train(activation: str, data, args, stop=None) -> dict:
    x_train, y_train, x_test, y_test = data
    model = deep_mlp(activation, args.depth, args.width, args.seed)
    linears = linear_layers(model)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                        generator=args.seed)
    grad_norms = np.zeros(len(linears))  # summed over the first args.grad_steps steps
    losses, step, start = [], 0, time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            if step < args.grad_steps:  # early in training: how much gradient reaches each layer?
                grad_norms += [np.linalg.norm(layer.weight.grad.numpy()) for layer in linears]
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if stop:  # Ctrl-C: this batch is done, the rest is not
                break
        if stop:
            print(f"  {activation:<9} interrupted in epoch {epoch} after {step} steps")
            break
        recent = np.mean(losses[-len(loader):])
        print(f"  {activation:<9} epoch {epoch}  training cost {recent:.3f}  "
              f"({time.perf_counter() - start:.1f} s)")
    model.eval()  # RReLU: the mean slope instead of random ones
    with tg.no_grad():
        predictions = model(Tensor(x_test)).numpy().argmax(axis=1)
    hidden = hidden_outputs(model, x_test[:1000])
    grad_norms /= max(1, min(step, args.grad_steps))
    return dict(test_accuracy=float((predictions == y_test).mean()), grad_norms=grad_norms,
                grad_ratio=float(grad_norms[0] / grad_norms[-1]), losses=np.array(losses),
                zero_fraction=float(np.mean([(h == 0).mean() for h in hidden])),
                zero_per_layer=[float((h == 0).mean()) for h in hidden],
                seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------------ results ----
def plot(results: dict, args, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    for name, r in results.items():
        layers = np.arange(1, len(r["grad_norms"]) + 1)
        style = dict(color=COLORS[name], lw=2.2 if name in ("sigmoid", "ReLU") else 1.3,
                     marker="o", ms=4, label=name)
        ax1.plot(layers, r["grad_norms"], **style)
        ax3.plot(np.arange(1, len(r["zero_per_layer"]) + 1), r["zero_per_layer"], **style)
        window = max(1, len(r["losses"]) // 50)  # a moving average, for readability
        smooth = np.convolve(r["losses"], np.ones(window) / window, mode="valid")
        ax2.plot(np.arange(window, len(r["losses"]) + 1), smooth, color=COLORS[name], label=name,
                 lw=style["lw"])
    ax1.set(yscale="log", xlabel="layer (1 = first, next to the input; last = output)",
            ylabel="|| dcost / dW ||", xticks=layers,
            title=f"gradient reaching each layer (mean of the first {args.grad_steps} steps)")
    ax2.set(xlabel="step", ylabel="training cost (moving average)", ylim=(0, None),
            title=f"training: SGD + momentum, lr {args.lr:g}")
    ax2.axhline(np.log(10), color="grey", ls=":", lw=1)
    ax2.text(len(next(iter(results.values()))["losses"]) * 0.5, np.log(10) * 0.97,
             "log 10 = guessing among 10 digits", color="grey", fontsize=8, va="top")
    ax3.set(xlabel="hidden layer", ylabel="fraction of outputs exactly 0", ylim=(-0.03, 1),
            xticks=np.arange(1, args.depth + 1),
            title="sparsity after training (1,000 test digits)")
    never = [name for name, r in results.items() if r["zero_fraction"] == 0]
    if never:  # their lines all lie on 0, one on top of the other
        ax3.text(0.03, 0.06, "never exactly 0: " + ", ".join(never), transform=ax3.transAxes,
                 fontsize=8, bbox=dict(facecolor="white", alpha=0.85, edgecolor="none"))
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"the same {args.depth}-hidden-layer network (width {args.width}) with six "
                 "activations", fontsize=12)
    fig.tight_layout()
    path = out / "activations.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--activations", nargs="+", choices=list(ACTIVATIONS),
                    default=list(ACTIVATIONS), help="the activations to compare")
    ap.add_argument("--depth", type=at_least(1), default=10, help="hidden layers")
    ap.add_argument("--width", type=at_least(1), default=64, help="units per hidden layer")
    ap.add_argument("--train-size", type=at_least(1), default=10_000,
                    help="training digits (at most 60,000)")
    ap.add_argument("--test-size", type=at_least(1), default=10_000,
                    help="test digits (at most 10,000)")
    ap.add_argument("--epochs", type=at_least(1), default=5, help="passes over the training digits")
    ap.add_argument("--batch-size", type=at_least(1), default=64, help="digits per SGD step")
    ap.add_argument("--lr", type=greater_than(0), default=0.02, help="SGD's learning rate")
    ap.add_argument("--grad-steps", type=at_least(1), default=50,
                    help="average the gradient norms over this many first steps")
    ap.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    ap.add_argument("--out", type=Path, default=Path("outputs/activations"),
                    help="folder for the figure")
    ap.add_argument("--quick", action="store_true", help="a small budget, for tests")
    args = ap.parse_args(argv)
    if args.quick:  # 1,500 digits, one epoch (24 steps) (options given still count)
        quick = dict(train_size=1_500, test_size=1_000, epochs=1, grad_steps=10)
        for key, value in quick.items():
            if getattr(args, key) == ap.get_default(key):
                setattr(args, key, value)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.train_size, args.test_size)
    print(f"{args.depth} hidden layers of {args.width}; {len(data[1]):,} training digits, "
          f"{args.epochs} epochs; {len(data[3]):,} test digits")
    results = {}
    with StopOnInterrupt() as stop:  # Ctrl-C: stop the network under way, report what ran
        for name in args.activations:
            results[name] = train(name, data, args, stop)
            if stop:
                break

    print(f"\n{'activation':<11}{'test acc':>9}{'|grad W1| / |grad W_out|':>26}"
          f"{'zeros in hidden outputs':>25}{'time':>8}")
    for name, r in results.items():
        print(f"{name:<11}{r['test_accuracy']:>9.3f}{r['grad_ratio']:>26.2e}"
              f"{r['zero_fraction']:>25.3f}{r['seconds']:>7.1f}s")
    print("gradient ratio: first layer's weight-gradient norm over the output layer's, averaged "
          f"over the first {args.grad_steps} steps (1 = the gradient arrives intact)")
    figure = plot(results, args, args.out)
    print(f"figure: {figure}")
    if stop:
        print(f"interrupted: the table and the figure above cover {', '.join(results)}; the "
              f"figure is saved in {args.out}/ (exit status 130)")
    return dict(results=results, figure=figure, interrupted=bool(stop))


if __name__ == "__main__":
    sys.exit(StopOnInterrupt.EXIT_STATUS if main()["interrupted"] else 0)
