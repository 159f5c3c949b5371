"""tinygrad_lite.viz: the DOT structure of drawn graphs, gradient flow, module boxes, rendering."""

import math
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import viz
from tinygrad_lite.autograd import module_call

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


# --------------------------------------------------------------------------------- DOT parsing ----
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*>|[^\s\]]+)')
_NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")


def _attrs(text):
    out = {}
    for key, value in _ATTR.findall(text or ""):
        if value.startswith('"'):
            value = value[1:-1]
        out[key] = value
    return out


def parse(g):
    """(nodes: key -> attrs, edges: [(src, dst, attrs)], clusters: name -> (attrs, [keys]))."""
    nodes, edges, clusters, current = {}, [], {}, None
    for line in g.source.splitlines():
        sub = re.match(r"^\s*subgraph (\w+) \{$", line)
        if sub:
            current = sub.group(1)
            clusters[current] = ({}, [])
            continue
        if line.strip() == "}":
            current = None
            continue
        if current is not None and "=" in line and "[" not in line:
            clusters[current][0].update(_attrs(line))
            continue
        e = _EDGE.match(line)
        if e:
            edges.append((e.group(1), e.group(2), _attrs(e.group(3))))
            continue
        n = _NODE.match(line)
        if n and n.group(1) not in ("graph", "node", "edge"):
            nodes[n.group(1)] = _attrs(n.group(2))
            if current is not None:
                clusters[current][1].append(n.group(1))
    return nodes, edges, clusters


def graph_nodes(nodes):
    """The drawn graph's nodes, without the legend."""
    return {k: v for k, v in nodes.items() if not k.startswith("legend_")}


def by_label(nodes, text):
    """Keys of nodes whose label contains `text`."""
    return [k for k, v in graph_nodes(nodes).items() if text in v.get("label", "")]


def one(nodes, text):
    keys = by_label(nodes, text)
    assert len(keys) == 1, f"expected one node with {text!r} in its label, got {keys}"
    return keys[0]


def is_acyclic(edges):
    succ = {}
    for s, d, _ in edges:
        succ.setdefault(s, []).append(d)
    state = {}
    for start in succ:
        if state.get(start):
            continue
        stack = [(start, iter(succ.get(start, ())))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return False
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, ()))))
    return True


# -------------------------------------------------------------------- a stand-in for nn.Module ----
class Module:
    """What draw_graph needs of nn.Module: module_call as __call__, named_parameters/_modules."""

    __call__ = module_call

    def named_modules(self, prefix=""):
        yield prefix, self
        for key, value in vars(self).items():
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if isinstance(child, Module):
                    name = key if not isinstance(value, list) else f"{key}.{i}"
                    yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self):
        for name, m in self.named_modules():
            for key, value in vars(m).items():
                if isinstance(value, tg.Tensor) and value.requires_grad:
                    yield (f"{name}.{key}" if name else key), value


class Linear(Module):
    def __init__(self, n_in, n_out):
        self.weight = tg.Tensor(np.random.default_rng(n_in * n_out).standard_normal((n_out, n_in))
                                .astype(np.float32), requires_grad=True)
        self.bias = tg.zeros(n_out, requires_grad=True)
        self.n_in, self.n_out = n_in, n_out

    def extra_repr(self):
        return f"in_features={self.n_in}, out_features={self.n_out}, bias=True"

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Sequential(Module):
    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Module):
    """784-16-16-10 with activations written as Tensor methods in forward."""

    def __init__(self):
        self.fc1, self.fc2, self.fc3 = Linear(784, 16), Linear(16, 16), Linear(16, 10)

    def forward(self, x):
        return self.fc3(self.fc2(self.fc1(x).sigmoid()).sigmoid())


class MSELoss(Module):
    def forward(self, a, b):
        return ((a - b) ** 2).mean()


def cross_entropy(logits, y):
    return -(logits.log_softmax(-1) * y.one_hot(logits.shape[-1])).sum(-1).mean()


def mnist_batch(n=8):
    rng = np.random.default_rng(0)
    return tg.Tensor(rng.random((n, 784), dtype=np.float32)), tg.Tensor(rng.integers(0, 10, n))


def micrograd_expression():
    """micrograd's README example; returns the named values (g is the output)."""
    a = tg.Tensor(-4.0, requires_grad=True)
    b = tg.Tensor(2.0, requires_grad=True)
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
    return dict(a=a, b=b, c=c, d=d, e=e, f=f, g=g)


# ----------------------------------------------------------------------------------- structure ----
def test_draw_graph_nodes_edges_and_kinds():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    y = (x * c + 2.0).sum()
    nodes, edges, _ = parse(viz.draw_graph(y, {"x": x, "c": c}))
    g = graph_nodes(nodes)
    assert len([k for k in g if k.startswith("t")]) == 5  # y, x*c+2, x*c, x, c
    assert len([k for k in g if k.startswith("op")]) == 3  # Sum, Add, Mul
    mul, add, total = one(nodes, "Mul"), one(nodes, "Add"), one(nodes, "Sum")
    xk, ck = one(nodes, "x |"), one(nodes, "c |")
    pairs = {(s, d) for s, d, _ in edges}
    assert {(xk, mul), (ck, mul)} <= pairs
    (mul_out,) = [d for s, d in pairs if s == mul]
    (add_out,) = [d for s, d in pairs if s == add]
    (root,) = [d for s, d in pairs if s == total]
    assert (mul_out, add) in pairs and (add_out, total) in pairs
    assert len(edges) == 7
    assert nodes[xk]["fillcolor"] == viz.COLORS["parameter"]
    assert nodes[ck]["fillcolor"] == viz.COLORS["input"]
    assert nodes[root]["fillcolor"] == viz.COLORS["output"]
    assert nodes[mul_out]["fillcolor"] == viz.COLORS["tensor"]
    assert nodes[mul]["fillcolor"] == viz.COLORS["op"] and nodes[mul]["shape"] == "ellipse"
    assert "(2,) float32" in nodes[xk]["label"]
    assert "· + 2.0" in nodes[add]["label"]  # the Python scalar shown in the op


def test_draw_graph_legend_has_one_sample_per_kind():
    y = (tg.ones(2, requires_grad=True) * 2.0).sum()
    nodes, _, clusters = parse(viz.draw_graph(y))
    attrs, keys = clusters["cluster_legend"]
    assert attrs["label"] == "legend"
    assert sorted(keys) == sorted(f"legend_{k}" for k in viz._LEGEND)
    for kind in viz._LEGEND:
        assert nodes[f"legend_{kind}"]["fillcolor"] == viz.COLORS[kind]
    _, _, clusters = parse(viz.draw_graph(y, legend=False))
    assert "cluster_legend" not in clusters


def test_draw_graph_list_of_roots_shares_nodes():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    nodes, edges, _ = parse(viz.draw_graph([h.sum(), (h * h).sum()]))
    assert len(by_label(nodes, "Exp")) == 1
    outputs = [k for k, v in graph_nodes(nodes).items() if v["fillcolor"] == viz.COLORS["output"]]
    assert len(outputs) == 2
    mul = one(nodes, "Mul")
    assert len([1 for s, d, _ in edges if d == mul]) == 2  # h used twice


def test_draw_graph_op_settings_and_show_attrs():
    x = tg.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    idx = np.arange(100) % 3
    y = (x.sum(axis=1, keepdims=True).reshape(2, 4)[:, 1:3].transpose()).sum() + x[0][idx].sum()
    nodes, _, _ = parse(viz.draw_graph(y))
    assert "keepdims=True" in nodes[one(nodes, "Sum\\naxis=")]["label"]
    assert "shape=(2, 4)" in nodes[one(nodes, "Reshape")]["label"]
    assert "axes=(1, 0)" in nodes[one(nodes, "Permute")]["label"]
    labels = [nodes[k]["label"] for k in by_label(nodes, "GetItem")]
    assert any("index=[:, 1:3]" in s for s in labels)
    assert any("index=[int64[100]]" in s for s in labels)  # long index arrays are summarized
    z = (x.astype(np.float32).pad(((0, 0), (1, 1), (0, 0)))).sum()
    nodes2, _, _ = parse(viz.draw_graph(z))
    assert "dtype=float32" in nodes2[one(nodes2, "Cast")]["label"]
    assert "pad_width=((0, 0), (1, 1), (0, 0))" in nodes2[one(nodes2, "Pad")]["label"]
    nodes, _, _ = parse(viz.draw_graph(y, show_attrs=False))
    assert all(nodes[k]["label"] in ("Sum", "GetItem") for k in by_label(nodes, "Sum")
               + by_label(nodes, "GetItem"))
    assert not by_label(nodes, "axis=")


def test_draw_graph_scalar_operands_in_op_labels():
    f = tg.Tensor(2.0, requires_grad=True)
    y = 10.0 / f + f ** 3 - 1
    nodes, _, _ = parse(viz.draw_graph(y))
    assert "10.0 ÷ ·" in nodes[one(nodes, "Div")]["label"]
    assert "· ** 3" in nodes[one(nodes, "Pow")]["label"]
    assert "· − 1" in nodes[one(nodes, "Sub")]["label"]


def test_draw_graph_edges_of_ordered_ops_are_labelled():
    a = tg.Tensor(1.0, requires_grad=True)
    b = tg.Tensor(2.0, requires_grad=True)
    nodes, edges, _ = parse(viz.draw_graph(a / b, {"a": a, "b": b}))
    div = one(nodes, "Div")
    labels = {s: e.get("label") for s, d, e in edges if d == div}
    assert labels == {one(nodes, "a |"): "0", one(nodes, "b |"): "1"}


def test_draw_graph_names_from_module_and_sizes():
    model = MLP()
    x, y = mnist_batch()
    nodes, _, _ = parse(viz.draw_graph(cross_entropy(model(x), y), model))
    expected = [("fc1.weight", "(16, 784)"), ("fc1.bias", "(16,)"), ("fc3.weight", "(10, 16)")]
    for name, shape in expected:
        key = one(nodes, name + " |")
        assert f"{shape} float32" in nodes[key]["label"]
        assert nodes[key]["fillcolor"] == viz.COLORS["parameter"]
    assert nodes[one(nodes, "(8, 784) float32")]["fillcolor"] == viz.COLORS["input"]


def test_draw_graph_rankdir_and_record_orientation():
    x = tg.Tensor(1.0, requires_grad=True)
    nodes, _, _ = parse(viz.draw_graph(x * 2.0, {"x": x}, rankdir="TB"))
    assert nodes[one(nodes, "x |")]["label"] == "x | float32"
    assert "rankdir=TB" in viz.draw_graph(x * 2.0, rankdir="TB").source
    nodes, _, _ = parse(viz.draw_graph(x * 2.0, {"x": x}))
    assert nodes[one(nodes, "x |")]["label"] == "{x | float32}"


def test_draw_graph_escapes_record_characters():
    x = tg.Tensor(1.0, requires_grad=True)
    g = viz.draw_graph(x * 2.0, {"w{1}|<a>": x})
    assert 'label="{w\\{1\\}\\|\\<a\\> | float32}"' in g.source
    if shutil.which("dot"):
        assert b"w{1}|&lt;a&gt;" in g.pipe(format="svg")  # one field, drawn as written


# -------------------------------------------------------------------------- data and gradients ----
def test_draw_graph_micrograd_values_and_gradients():
    v = micrograd_expression()
    v["g"].backward(retain_graph=True)
    nodes, _, _ = parse(viz.draw_graph(v["g"], v, show_data=True, show_grad=True))
    assert nodes[one(nodes, "{g |")]["label"] == "{g | data 24.7041 | grad 1.0000}"
    assert nodes[one(nodes, "{a |")]["label"] == "{a | data -4.0000 | grad 138.8338}"
    assert nodes[one(nodes, "{b |")]["label"] == "{b | data 2.0000 | grad 645.5773}"
    # intermediates have no .grad: the drawing computes d g / d e = (1/2 - 10/f^2) * 2e
    e_grad = (0.5 - 10 / 49**2) * 2 * -7
    assert nodes[one(nodes, "{e |")]["label"] == f"{{e | data -7.0000 | grad {e_grad:.4f}}}"
    assert v["e"].grad is None  # the drawing did not touch .grad


def test_draw_graph_show_grad_prefers_existing_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)  # .grad accumulates to 6: the drawing shows .grad, not 3
    nodes, _, _ = parse(viz.draw_graph(y, {"x": x}, show_grad=True))
    assert "grad [6.0000, 6.0000]" in nodes[one(nodes, "x |")]["label"]


def test_draw_graph_show_data_summarizes_large_tensors():
    x = tg.Tensor(np.arange(10.0), requires_grad=True)
    nodes, _, _ = parse(viz.draw_graph(x.sum(), {"x": x}, show_data=True))
    assert "data mean 4.5, std 2.872" in nodes[one(nodes, "x |")]["label"]
    assert nodes[one(nodes, "data 45.0000")]["fillcolor"] == viz.COLORS["output"]


def test_draw_graph_after_backward_with_retain_graph():
    x = tg.Tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    nodes, _, _ = parse(viz.draw_graph(y, show_grad=True))
    assert len(by_label(nodes, "Exp")) == 1


def test_draw_graph_inplace_ops_draw_no_cycle():
    a = tg.Tensor(-4.0, requires_grad=True)
    b = tg.Tensor(2.0, requires_grad=True)
    c = a + b
    c += c + 1  # the Add inside `c + 1` holds `c` itself, rebound afterwards
    nodes, edges, _ = parse(viz.draw_graph(c, {"a": a, "b": b}, show_data=True))
    assert is_acyclic(edges)
    assert len(by_label(nodes, "Add")) == 3
    assert nodes[one(nodes, "data -2.0000")]  # the old c, drawn as its own node
    # and the drawing did not disturb backward
    c.backward()
    assert a.grad.item() == 2.0 and b.grad.item() == 2.0


def test_is_acyclic_catches_a_cycle():
    assert not is_acyclic([("a", "b", {}), ("b", "c", {}), ("c", "a", {})])
    assert is_acyclic([("a", "b", {}), ("a", "c", {}), ("b", "c", {})])


def test_trace_gradients_match_backward_and_retain_grad():
    x = tg.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = tg.Tensor([1.5, 2.0, -0.5], requires_grad=True)
    h = (x * w).tanh()
    h.retain_grad()
    y = (h * h).sum()
    grads = viz.trace_gradients(y)
    assert x.grad is None and h.grad is None
    y.backward()
    np.testing.assert_allclose(grads[x].numpy(), x.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grads[w].numpy(), w.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grads[h].numpy(), h.grad.numpy(), rtol=1e-6)


def test_trace_gradients_non_scalar_root_is_summed_and_unused_is_none():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    z = tg.Tensor([5.0], requires_grad=True)
    grads = viz.trace_gradients(x * x, [x, z])
    np.testing.assert_allclose(grads[x].numpy(), [2.0, 4.0])
    assert grads[z] is None


# ----------------------------------------------------------------------------------- grad flow ----
def deep_sigmoid(depth=8, width=4):
    layers = []
    for _ in range(depth):
        layers += [Linear(width, width), Sigmoid()]
    return Sequential(*layers)


def test_grad_flow_colours_parameters_by_log_gradient_norm():
    net = deep_sigmoid()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32))
    loss = (net(x) ** 2).mean()
    lo, hi = 1e-8, 1.0
    nodes, _, clusters = parse(viz.draw_graph(loss, net, grad_flow=True, grad_range=(lo, hi)))
    loss.backward(retain_graph=True)
    for name in ("layers.0.weight", "layers.14.weight"):
        key = one(nodes, name + " |")
        p = dict(net.named_parameters())[name]
        norm = float(np.linalg.norm(p.grad.numpy().astype(np.float64)))
        assert f"‖grad‖ {norm:.2e}" in nodes[key]["label"]
        assert nodes[key]["fillcolor"] == viz._grad_color(norm, lo, hi)[0]
    first = nodes[one(nodes, "layers.0.weight |")]["fillcolor"]
    last = nodes[one(nodes, "layers.14.weight |")]["fillcolor"]
    def lum(c):
        return sum(int(c[i:i + 2], 16) * w for i, w in ((1, 0.299), (3, 0.587), (5, 0.114)))

    assert lum(first) < lum(last)  # vanishing gradients: the first layer is darker
    assert "log scale" in nodes["legend_grad"]["label"]
    assert "legend_grad" in clusters["cluster_legend"][1]
    sig = by_label(nodes, "Sigmoid")
    assert all("‖grad‖" in nodes[k]["label"] for k in sig)
    assert len({nodes[k]["fillcolor"] for k in sig}) > 4  # ops coloured too, varying with depth


def test_grad_flow_does_not_touch_grad_and_accepts_a_range():
    net = deep_sigmoid(depth=2)
    loss = (net(tg.ones(3, 4)) ** 2).mean()
    nodes, _, _ = parse(viz.draw_graph(loss, net, grad_flow=True, grad_range=(1e-6, 1.0)))
    assert all(p.grad is None for _, p in net.named_parameters())
    legend = nodes["legend_grad"]["label"]
    assert all(f">1e{d}<" in legend for d in range(-6, 1))
    with pytest.raises(ValueError, match="grad_range"):
        viz.draw_graph(loss, net, grad_flow=True, grad_range=(1.0, 1e-3))


def test_grad_color_scale_ends_and_none():
    lo, hi = 1e-6, 1.0
    assert viz._grad_color(1e-9, lo, hi)[0] == viz.GRAD_COLORMAP[0]  # clipped below
    assert viz._grad_color(0.0, lo, hi)[0] == viz.GRAD_COLORMAP[0]
    assert viz._grad_color(10.0, lo, hi)[0] == viz.GRAD_COLORMAP[-1]
    assert viz._grad_color(None, lo, hi)[0] == viz.COLORS["none"]
    assert viz._grad_color(1e-9, lo, hi)[1] == "white"  # readable text on dark fills
    assert viz._grad_color(1.0, lo, hi)[1] == "black"
    assert viz._grad_range([3e-7, 0.2]) == (1e-7, 1.0)
    assert viz._grad_range([0.5]) == (1e-4, 1.0)  # at least four decades


# ------------------------------------------------------------------------------ after backward ----
def numbers(label):
    """The numbers of a record label's "grad ..." or "data ..." field."""
    return [float(s) for s in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", label)]


def test_draw_graph_after_backward_draws_the_same_graph():
    v = micrograd_expression()  # in-place ops (c += ...), scalar operands on both sides
    model, loss_fn = MLP(), MSELoss()
    x, y = mnist_batch()
    mlp_loss = cross_entropy(model(x), y)
    mse = loss_fn(model(x), tg.zeros(8, 10))  # a loss module and a constant array operand
    drawings = [lambda: viz.draw_graph(v["g"], v),
                lambda: viz.draw_graph(v["g"], v, max_nodes=12),
                *[lambda c=c: viz.draw_graph(mlp_loss, model, collapse_modules=c)
                  for c in (False, True, "clusters")],
                lambda: viz.draw_graph(mse, model, collapse_modules=True, rankdir="TB")]
    before = [draw().source for draw in drawings]
    for root in (v["g"], mlp_loss, mse):
        root.backward()
    assert all(p.grad is not None for _, p in model.named_parameters())
    assert v["g"].grad_fn.released and mlp_loss.grad_fn.released  # the graphs were freed
    after = [draw().source for draw in drawings]
    for b, a in zip(before, after):
        assert a == b
    nodes, edges, _ = parse(viz.draw_graph(v["g"], v))
    divs = [nodes[k]["label"] for k in by_label(nodes, "Div")]  # constants kept in op labels
    assert sorted(divs) == ["Div\\n10.0 ÷ ·", "Div\\n· ÷ 2.0"]
    assert is_acyclic(edges) and len(by_label(nodes, "Add")) == 13  # in-place ones included


def test_draw_graph_after_backward_shows_leaf_grads_names_and_shapes():
    v = micrograd_expression()
    v["e"].retain_grad()
    v["g"].backward()
    nodes, _, _ = parse(viz.draw_graph(v["g"], v, show_data=True, show_grad=True))
    # micrograd's README: a.grad = 138.8338, b.grad = 645.5773
    assert nodes[one(nodes, "{a |")]["label"] == "{a | data -4.0000 | grad 138.8338}"
    assert nodes[one(nodes, "{b |")]["label"] == "{b | data 2.0000 | grad 645.5773}"
    e_grad = (0.5 - 10 / 49**2) * 2 * -7  # d g / d e, kept by retain_grad()
    assert nodes[one(nodes, "{e |")]["label"] == f"{{e | data -7.0000 | grad {e_grad:.4f}}}"
    # named tensors the user holds keep their values; what backward freed is said, not guessed
    assert nodes[one(nodes, "{f |")]["label"] == "{f | data 49.0000 | grad not kept}"
    unnamed = [k for k in by_label(nodes, "data freed")]
    assert unnamed and all(nodes[k]["label"] == "{float32 | data freed | grad not kept}"
                           for k in unnamed)

    model = MLP()
    x, y = mnist_batch()
    loss = cross_entropy(model(x), y)
    traced = parse(viz.draw_graph(loss, model, show_grad=True))[0]  # computed by the drawing
    loss.backward()
    nodes, _, _ = parse(viz.draw_graph(loss, model, show_grad=True))  # read from .grad
    for name, p in model.named_parameters():
        label = nodes[one(nodes, name + " |")]["label"]
        g = p.grad.numpy().astype(np.float64)
        assert label.startswith(f"{{{name} | {tuple(p.shape)} float32 | grad mean ")
        np.testing.assert_allclose(numbers(label.split("grad")[1]), [g.mean(), g.std()],
                                   rtol=1e-3, atol=1e-12)
        assert label == traced[one(traced, name + " |")]["label"]
    hidden = by_label(nodes, "{(8, 16) float32 | grad")
    assert len(hidden) == 6 and all(nodes[k]["label"] == "{(8, 16) float32 | grad not kept}"
                                    for k in hidden)


def test_draw_graph_after_backward_keeps_no_activation_alive():
    import gc
    import weakref

    def run(retain_graph):
        rng = np.random.default_rng(0)
        w = tg.Tensor(rng.standard_normal((256, 256)).astype(np.float32), requires_grad=True)
        x = tg.Tensor(rng.standard_normal((64, 256)).astype(np.float32))
        h = (x @ w * 2.0).tanh()
        out = h.exp()
        freed = [weakref.ref(h.data), weakref.ref(out.data)]
        loss = out.mean()
        del h, out
        loss.backward(retain_graph=retain_graph)
        gc.collect()
        return loss, w, x, freed

    loss, w, x, freed = run(retain_graph=False)
    assert [r() for r in freed] == [None, None]  # the activations' arrays are gone
    g = viz.draw_graph(loss, {"w": w, "x": x}, show_grad=True, show_data=True)
    nodes, edges, _ = parse(g)
    assert [r() for r in freed] == [None, None]  # and drawing brought nothing back
    ops = sorted(v["label"] for k, v in graph_nodes(nodes).items() if k.startswith("op"))
    assert ops == ["Div\\n· ÷ 16384", "Exp", "MatMul", "Mul\\n· × 2.0", "Sum", "Tanh"]
    assert nodes[one(nodes, "{w |")]["label"].startswith("{w | (256, 256) float32 | data mean")
    grad = w.grad.numpy().astype(np.float64)
    np.testing.assert_allclose(numbers(nodes[one(nodes, "{w |")]["label"].split("grad")[1]),
                               [grad.mean(), grad.std()], rtol=1e-3, atol=1e-12)
    assert nodes[one(nodes, "{x |")]["fillcolor"] == viz.COLORS["input"]
    assert len(by_label(nodes, "(64, 256) float32 | data freed | grad not kept")) == 4
    assert len(graph_nodes(nodes)) == 14 and is_acyclic(edges)
    # the check can fail: a graph kept with retain_graph=True keeps its activations
    kept_loss, _, _, kept = run(retain_graph=True)
    assert all(r() is not None for r in kept)
    del kept_loss
    gc.collect()
    assert [r() for r in kept] == [None, None]


def test_draw_graph_on_a_graph_built_after_backward():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp()
    y.sum().backward()
    z = (y * 3.0).sum()  # new ops on top of a released graph
    nodes, edges, _ = parse(viz.draw_graph(z, {"x": x, "y": y}, show_data=True))
    assert [len(by_label(nodes, op)) for op in ("Sum", "Mul", "Exp")] == [1, 2, 1]
    assert f"y | (2,) float32 | data {viz._data_text(np.exp([1.0, 4.0]).astype(np.float32))}" \
        in nodes[one(nodes, "y |")]["label"]
    assert len(graph_nodes(nodes)) == 9 and is_acyclic(edges)  # 5 tensors, 4 ops
    # the freed part beyond max_nodes still counts: gradients are not traced into it
    nodes, _, _ = parse(viz.draw_graph(z, {"x": x, "y": y}, max_nodes=3, show_grad=True))
    assert nodes[one(nodes, "{float32")]["label"] == "{float32 | grad not kept}"
    with pytest.raises(RuntimeError, match="grad_flow"):
        viz.draw_graph(z, max_nodes=3, grad_flow=True)


def test_after_backward_gradients_the_graph_did_not_keep_are_refused():
    net = deep_sigmoid(depth=2)
    loss = (net(tg.ones(3, 4)) ** 2).mean()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"grad_flow.*before backward\(\).*retain_graph=True"):
        viz.draw_graph(loss, net, grad_flow=True)
    with pytest.raises(RuntimeError, match=r"before backward\(\), or call backward\(retain_graph"):
        viz.trace_gradients(loss)
    nodes, _, _ = parse(viz.draw_graph(loss, net, collapse_modules=True))  # drawing still works
    assert len(module_boxes(nodes)) == 4


# ------------------------------------------------------------------------------------- modules ----
def module_boxes(nodes):
    return {k: v for k, v in graph_nodes(nodes).items() if k.startswith("mod")}


def test_collapse_modules_mlp_reads_as_three_linear_boxes():
    model = MLP()
    x, y = mnist_batch()
    loss = cross_entropy(model(x), y)
    nodes, edges, _ = parse(viz.draw_graph(loss, model, collapse_modules=True))
    boxes = module_boxes(nodes)
    titles = sorted(v["label"].split("\\n")[0] for v in boxes.values())
    assert titles == [
        "fc1: Linear(in_features=784, out_features=16, bias=True)",
        "fc2: Linear(in_features=16, out_features=16, bias=True)",
        "fc3: Linear(in_features=16, out_features=10, bias=True)",
    ]
    fc1 = one(nodes, "fc1: Linear")
    assert "weight (16, 784) float32" in nodes[fc1]["label"]  # parameters folded into the box
    assert not by_label(nodes, "fc1.weight") and not by_label(nodes, "MatMul")
    assert len(by_label(nodes, "Sigmoid")) == 2  # the model's own activations stay ops
    assert by_label(nodes, "Log") or by_label(nodes, "Exp")  # and so do the loss's ops
    xk = one(nodes, "(8, 784) float32")
    assert (xk, fc1) in {(s, d) for s, d, _ in edges}
    (out,) = [d for s, d, _ in edges if s == fc1]
    assert "(8, 16) float32" in nodes[out]["label"]
    (consumer,) = [d for s, d, _ in edges if s == out]
    assert nodes[consumer]["label"] == "Sigmoid"
    assert is_acyclic(edges)
    assert "legend_module" in nodes


def test_collapse_modules_sequential_reads_as_one_box_per_layer():
    model = Sequential(Linear(784, 16), Sigmoid(), Linear(16, 16), Sigmoid(), Linear(16, 10))
    x, y = mnist_batch()
    loss = cross_entropy(model(x), y)
    nodes, edges, _ = parse(viz.draw_graph(loss, model, collapse_modules=True))
    titles = sorted(v["label"].split("\\n")[0] for v in module_boxes(nodes).values())
    assert titles == [
        "layers.0: Linear(in_features=784, out_features=16, bias=True)",
        "layers.1: Sigmoid",
        "layers.2: Linear(in_features=16, out_features=16, bias=True)",
        "layers.3: Sigmoid",
        "layers.4: Linear(in_features=16, out_features=10, bias=True)",
    ]
    assert not [k for k, v in graph_nodes(nodes).items() if v["label"] == "Sigmoid"]  # no op left
    assert is_acyclic(edges)


def test_collapse_modules_without_params_infers_the_model():
    model = MLP()
    x, y = mnist_batch()
    nodes, _, _ = parse(viz.draw_graph(cross_entropy(model(x), y), collapse_modules=True))
    titles = sorted(v["label"].split("\\n")[0] for v in module_boxes(nodes).values())
    assert titles == ["Linear(in_features=16, out_features=10, bias=True)",
                      "Linear(in_features=16, out_features=16, bias=True)",
                      "Linear(in_features=784, out_features=16, bias=True)"]


def test_collapse_modules_loss_module_is_its_own_box():
    model, loss_fn = MLP(), MSELoss()
    x, _ = mnist_batch()
    loss = loss_fn(model(x), tg.zeros(8, 10))
    nodes, edges, _ = parse(viz.draw_graph(loss, model, collapse_modules=True))
    assert len(module_boxes(nodes)) == 4
    mse = one(nodes, "MSELoss")
    root = [k for k, v in graph_nodes(nodes).items() if v.get("fillcolor") == viz.COLORS["output"]]
    assert [(s, d) for s, d, _ in edges if d == root[0]] == [(mse, root[0])]


def test_collapse_modules_clusters_frame_the_ops():
    model = MLP()
    x, y = mnist_batch()
    g = viz.draw_graph(cross_entropy(model(x), y), model, collapse_modules="clusters")
    nodes, edges, clusters = parse(g)
    frames = {attrs["label"]: keys for name, (attrs, keys) in clusters.items()
              if name != "cluster_legend"}
    assert sorted(label.split(":")[0] for label in frames) == ["fc1", "fc2", "fc3"]
    fc1 = next(keys for label, keys in frames.items() if label.startswith("fc1:"))
    labels = [nodes[k]["label"] for k in fc1]
    assert any(s.startswith("MatMul") for s in labels) and any("fc1.weight" in s for s in labels)
    assert not any("Sigmoid" in s for s in labels)
    assert by_label(nodes, "MatMul")  # nothing hidden: same nodes as the expanded drawing
    assert len(graph_nodes(nodes)) == len(graph_nodes(parse(viz.draw_graph(
        cross_entropy(model(x), y), model))[0]))


def test_collapse_modules_grad_flow_colours_boxes():
    net = deep_sigmoid(depth=3)
    loss = (net(tg.ones(2, 4)) ** 2).mean()
    nodes, _, _ = parse(viz.draw_graph(loss, net, collapse_modules=True, grad_flow=True))
    boxes = module_boxes(nodes)
    assert len(boxes) == 6
    assert all(v["fillcolor"] != viz.COLORS["module"] for v in boxes.values())
    assert "weight (4, 4) float32  ‖grad‖" in nodes[one(nodes, "layers.0: Linear")]["label"]
    assert "output ‖grad‖" in nodes[one(nodes, "layers.1: Sigmoid")]["label"]


def test_ops_carry_their_module_path_as_tooltip():
    model = MLP()
    x, _ = mnist_batch()
    nodes, _, _ = parse(viz.draw_graph(model(x).sum(), model))
    assert nodes[by_label(nodes, "MatMul")[0]]["tooltip"] in {"MLP / fc1", "MLP / fc2", "MLP / fc3"}


# ----------------------------------------------------------------------------- size and limits ----
def chain(n):
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    return x, y


def test_draw_graph_max_nodes_truncates_with_more_node():
    _, y = chain(100)
    nodes, edges, _ = parse(viz.draw_graph(y, max_nodes=10))
    g = graph_nodes(nodes)
    assert len(g) == 11
    assert g["more"]["label"] == "… 191 more nodes"  # 101 tensors + 100 ops - 10 drawn
    assert [s for s, d, _ in edges if s == "more"] == ["more"]
    nodes, _, _ = parse(viz.draw_graph(y, max_nodes=1000))
    assert "more" not in nodes and len(graph_nodes(nodes)) == 201
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph(y, max_nodes=0)


def test_draw_graph_ten_thousand_op_chain_is_iterative_and_fast():
    _, y = chain(10_000)
    limit = sys.getrecursionlimit()
    start = time.perf_counter()
    g = viz.draw_graph(y)
    source = g.source
    elapsed = time.perf_counter() - start
    assert sys.getrecursionlimit() == limit
    assert source.count(" -> ") == 20_000
    assert len(by_label(parse(g)[0], "Mul")) == 10_000
    assert elapsed < 10.0, f"drawing a 10,000-op chain took {elapsed:.1f} s"


# ----------------------------------------------------------------------------------- rendering ----
@needs_dot
def test_save_svg_png_pdf(tmp_path):
    v = micrograd_expression()
    svg = viz.save(v["g"], tmp_path / "g.svg", params=v, show_data=True)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "Div" in ET.tostring(root, encoding="unicode")
    png = viz.save(viz.draw_graph(v["g"]), tmp_path / "sub" / "g", format="png")
    assert png.endswith("g.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    pdf = viz.save(v["g"], tmp_path / "g.pdf")
    with open(pdf, "rb") as f:
        assert f.read(5) == b"%PDF-"


@needs_dot
def test_digraph_render_writes_svg(tmp_path):
    x = tg.Tensor(1.0, requires_grad=True)
    out = viz.draw_graph(x.exp()).render(tmp_path / "graph", format="svg", cleanup=True)
    assert ET.parse(out).getroot().tag.endswith("svg")


def test_save_without_dot_explains_how_to_install(tmp_path, monkeypatch):
    x = tg.Tensor(1.0, requires_grad=True)
    g = viz.draw_graph(x.exp())
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    for render in (lambda: viz.save(g, tmp_path / "g.svg"), lambda: g.pipe(format="svg"),
                   lambda: g.render(tmp_path / "g", format="png")):
        with pytest.raises(viz.GraphvizNotFoundError) as info:
            render()
        message = str(info.value)
        assert "apt-get install graphviz" in message and "brew install graphviz" in message
        assert isinstance(info.value.__cause__, graphviz.ExecutableNotFound)
    assert "digraph" in g.source  # building and .source still work


def test_save_without_dot_on_plain_digraph(tmp_path, monkeypatch):
    plain = graphviz.Digraph()
    plain.node("a")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(viz.GraphvizNotFoundError, match="conda install"):
        viz.save(plain, tmp_path / "a.png")


def test_draw_graph_without_graphviz_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now fails
    viz._digraph_class.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install graphviz"):
            viz.draw_graph(tg.Tensor(1.0, requires_grad=True).exp())
    finally:
        viz._digraph_class.cache_clear()


def test_import_tinygrad_lite_does_not_need_graphviz():
    code = ("import sys; sys.modules['graphviz'] = None; import tinygrad_lite as tg; "
            "from tinygrad_lite import viz; print(hasattr(viz, 'draw_graph'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# ----------------------------------------------------------------------------------- bad input ----
def test_draw_graph_rejects_bad_arguments():
    x = tg.Tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or a list of Tensors"):
        viz.draw_graph(np.ones(3))
    with pytest.raises(TypeError, match="list of Tensors"):
        viz.draw_graph([x, 3.0])
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(x, rankdir="XY")
    with pytest.raises(ValueError, match="collapse_modules"):
        viz.draw_graph(x, collapse_modules="boxes")
    with pytest.raises(TypeError, match="params"):
        viz.draw_graph(x, params=[x])
    with pytest.raises(TypeError, match="maps names to Tensors"):
        viz.draw_graph(x, params={"x": 1.0})


def test_save_rejects_bad_arguments(tmp_path):
    x = tg.Tensor(1.0, requires_grad=True)
    g = viz.draw_graph(x.exp())
    with pytest.raises(TypeError, match="drawing options"):
        viz.save(g, tmp_path / "g.svg", show_data=True)
    with pytest.raises(ValueError, match="unknown output format"):
        viz.save(g, tmp_path / "g.docx")


def test_draw_graph_of_a_leaf_or_constant():
    nodes, edges, _ = parse(viz.draw_graph(tg.Tensor([1.0, 2.0])))
    (key,) = graph_nodes(nodes)
    assert nodes[key]["fillcolor"] == viz.COLORS["output"] and edges == []


# ------------------------------------------------------------------------------------- real nn ----
def test_draw_graph_with_real_nn_sequential():
    try:
        from tinygrad_lite import nn
        nn.Sequential, nn.Linear, nn.Sigmoid  # noqa: B018
    except (ImportError, AttributeError):
        pytest.skip("tinygrad_lite.nn is not there yet")
    model = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                          nn.Linear(16, 10))
    x, y = mnist_batch()
    loss = cross_entropy(model(x), y)
    nodes, edges, _ = parse(viz.draw_graph(loss, model))
    names = [n for n, _ in model.named_parameters()]
    for name in names:
        assert one(nodes, name + " |")
    nodes, edges, _ = parse(viz.draw_graph(loss, model, collapse_modules=True, grad_flow=True))
    assert len(module_boxes(nodes)) == 5
    assert is_acyclic(edges)
    assert math.isfinite(loss.item())


def test_draw_graph_with_real_nn_module_class_reads_as_three_boxes_and_a_loss():
    try:
        from tinygrad_lite import nn
        nn.Module, nn.Linear, nn.CrossEntropyLoss  # noqa: B018
    except (ImportError, AttributeError):
        pytest.skip("tinygrad_lite.nn is not there yet")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(784, 16), nn.Linear(16, 16), nn.Linear(16, 10)

        def forward(self, x):
            return self.fc3(self.fc2(self.fc1(x).sigmoid()).sigmoid())

    model = Net()
    x, y = mnist_batch()
    loss = nn.CrossEntropyLoss()(model(x), y)
    nodes, edges, _ = parse(viz.draw_graph(loss, model, collapse_modules=True))
    titles = sorted(v["label"].split("\\n")[0] for v in module_boxes(nodes).values())
    assert [t.split("(")[0] for t in titles] == ["CrossEntropyLoss", "fc1: Linear", "fc2: Linear",
                                                 "fc3: Linear"]
    assert "weight (16, 784) float32" in nodes[one(nodes, "fc1: Linear")]["label"]
    assert len(by_label(nodes, "Sigmoid")) == 2
    assert is_acyclic(edges)
