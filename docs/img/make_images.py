"""Draw the pictures of docs/visualization.md (and docs/lesson.md) into docs/img/.

    python docs/img/make_images.py

Needs the graphviz Python package and Graphviz's `dot`. The SVG files are committed; run this
again after changing tinygrad_lite/viz.py. The code is the same as the page's code blocks.
"""

from pathlib import Path

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, viz
from tinygrad_lite.data import mnist

OUT = Path(__file__).resolve().parent


def save(graph, name: str) -> None:
    path = viz.save(graph, OUT / f"{name}.svg")
    print(f"{path}: {Path(path).stat().st_size:,} bytes")


# 1. The lesson's chain of single neurons, with values and gradients
def knob(v):
    return Tensor(v, dtype="float64", requires_grad=True)


x, y = Tensor(2.0, dtype="float64"), 1.0
w1, b1, w2, b2, w3, b3 = knob(0.5), knob(0.0), knob(-1.0), knob(0.5), knob(2.0), knob(-1.0)
a1 = (w1 * x + b1).sigmoid()
a2 = (w2 * a1 + b2).sigmoid()
a3 = (w3 * a2 + b3).sigmoid()
C = (a3 - y) ** 2
names = {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "w3": w3, "b3": b3, "a1": a1, "a2": a2,
         "a3": a3, "C": C}
save(viz.draw_graph(C, names, show_data=True, show_grad=True, rankdir="TB"), "chain")


# 2. The lesson's network on a batch of 32 digits: every op, one box per layer, frames
class Network(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(self.fc2(self.fc1(x).sigmoid()).sigmoid())


tg.manual_seed(0)
images, labels = mnist.load("test", flatten=True)
net = Network()
loss = nn.CrossEntropyLoss()(net(Tensor(images[:32])), Tensor(labels[:32]))
loss.backward()  # the page draws after backward: the same picture
save(viz.draw_graph(loss, net, rankdir="TB"), "mlp_expanded")
save(viz.draw_graph(loss, net, collapse_modules=True, rankdir="TB"), "mlp_collapsed")
save(viz.draw_graph(loss, net, collapse_modules="clusters", rankdir="TB"), "mlp_clusters")
save(viz.draw_graph(loss, net, max_nodes=12), "mlp_max_nodes")


# 3. Gradient flow through 10 hidden layers: sigmoid against ReLU, on one colour scale
def deep_loss(activation):
    tg.manual_seed(0)
    layers = []
    for _ in range(10):
        layers += [nn.Linear(32, 32), activation()]
    deep = nn.Sequential(*layers, nn.Linear(32, 1))
    rng = np.random.default_rng(0)
    inputs = Tensor(rng.standard_normal((64, 32)).astype(np.float32))
    targets = Tensor(rng.standard_normal((64, 1)).astype(np.float32))
    return ((deep(inputs) - targets) ** 2).mean(), deep


for activation, name in ((nn.Sigmoid, "grad_flow_sigmoid"), (nn.ReLU, "grad_flow_relu")):
    deep_cost, deep = deep_loss(activation)
    save(viz.draw_graph(deep_cost, deep, collapse_modules=True, grad_flow=True,
                        grad_range=(1e-10, 1.0), rankdir="TB"), name)
