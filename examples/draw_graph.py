"""Drawing computation graphs: a micrograd expression, an MLP's loss, and vanishing gradients.

    python examples/draw_graph.py                  # SVG and PNG files in outputs/draw_graph/
    python examples/draw_graph.py --out my/folder
    python examples/draw_graph.py --quick          # SVG only (what the tests run)

Needs the graphviz Python package (in the `examples` extra) and the Graphviz programs:
`sudo apt-get install graphviz`, `brew install graphviz` or `conda install -c conda-forge graphviz`.

Reads top to bottom: three graphs, each built, drawn and saved; the paths written are printed.
"""

import argparse
from pathlib import Path

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, viz
from tinygrad_lite.data import mnist
from tinygrad_lite.data.progress import HelpFormatter


class MLP(nn.Module):
    """784 -> 16 -> 16 -> 10 with sigmoid hidden layers (the lesson's network)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(self.fc2(self.fc1(x).sigmoid()).sigmoid())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("outputs/draw_graph"),
                    help="folder for the pictures")
    ap.add_argument("--quick", action="store_true", help="SVG files only, no PNG (faster)")
    args = ap.parse_args(argv)
    formats = ("svg",) if args.quick else ("svg", "png")
    written = []

    def save_both(graph, name):
        """Render one Digraph in each format."""
        for fmt in formats:
            written.append(viz.save(graph, args.out / f"{name}.{fmt}"))

    # 1. micrograd's example expression, on scalars. After a plain backward() the graph can still
    #    be drawn, with the leaves' .grad; retain_graph=True also keeps every intermediate value, so
    #    each node shows its value and gradient, as in micrograd's picture.
    a = Tensor(-4.0, requires_grad=True)
    b = Tensor(2.0, requires_grad=True)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward(retain_graph=True)
    print(f"g = {g.item():.4f}, dg/da = {a.grad.item():.4f}, dg/db = {b.grad.item():.4f}")
    names = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}
    save_both(viz.draw_graph(g, names, show_data=True, show_grad=True), "micrograd")

    # 2. A 784-16-16-10 sigmoid MLP on a batch of 32 MNIST digits, with a cross-entropy loss.
    #    Expanded: every op. Collapsed: one box per layer, parameters folded in.
    tg.manual_seed(0)
    images, labels = mnist.load("test")
    x, y = Tensor(images[:32].reshape(32, 784)), Tensor(labels[:32])
    model = MLP()
    loss = nn.CrossEntropyLoss()(model(x), y)
    save_both(viz.draw_graph(loss, model), "mlp_expanded")
    save_both(viz.draw_graph(loss, model, collapse_modules=True), "mlp_collapsed")

    # 3. Vanishing gradients: a 10-layer sigmoid network. With grad_flow=True every parameter and
    #    op is coloured by the norm of the gradient reaching it (log scale, in the legend): the
    #    first layers, dark red, get gradients orders of magnitude smaller than the last.
    layers = []
    for _ in range(10):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    deep = nn.Sequential(*layers, nn.Linear(32, 1))
    inputs = Tensor(np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32))
    targets = Tensor(np.random.default_rng(1).standard_normal((64, 1)).astype(np.float32))
    deep_loss = ((deep(inputs) - targets) ** 2).mean()
    save_both(viz.draw_graph(deep_loss, deep, collapse_modules=True, grad_flow=True, rankdir="TB"),
              "grad_flow")
    # NOTE: top to bottom: left to right, the 10-layer chain drew 12,106 x 1,104 px, mostly empty
    save_both(viz.draw_graph(deep_loss, deep, grad_flow=True, rankdir="TB"), "grad_flow_expanded")
    params = dict(deep.named_parameters())
    grads = viz.trace_gradients(deep_loss, list(params.values()))  # d loss / d p, .grad untouched
    norms = {n: float(np.linalg.norm(grads[p].numpy())) for n, p in params.items()
             if n.endswith("weight")}
    first, last = next(iter(norms)), list(norms)[-1]
    print(f"|grad| of {first}: {norms[first]:.2e}, of {last}: {norms[last]:.2e}")

    print("wrote:")
    for path in written:
        print(" ", path)
    return dict(written=written, norms=norms)


if __name__ == "__main__":
    main()
