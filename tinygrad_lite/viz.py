"""The computation graph as a graphviz.Digraph: tensors, ops, parameters, modules, gradient flow.

`draw_graph(loss)` walks the recorded graph back from `loss` through every op's inputs and returns a
`graphviz.Digraph`; `save(loss, "graph.svg")` renders it to a file. The `graphviz` Python package is
imported only inside these functions, so `import tinygrad_lite` never needs it; building a graph and
reading its `.source` need no Graphviz binaries, rendering does (`dot`).

What is drawn:
- tensor nodes (records): parameter name if known, shape and dtype; with `show_data`/`show_grad`
  small tensors (<= 8 elements) show their values, larger ones mean and std;
- op nodes (ellipses): the primitive's name, its Python-scalar operands as an expression
  (`· × 2.0`, where `·` stands for the tensor inputs) and its settings (axis, shape, index, ...);
- colours: inputs (leaves without grad), parameters (leaves with grad), ops, the output(s), and a
  legend. With `grad_flow=True` parameters and ops are coloured by gradient norm on a log scale.

Draw before or after `backward()`: backward frees the values ops saved but keeps the graph's
structure (ops, shapes, settings, module scopes, the leaves with their `.grad`), so the drawing is
the same either way, and after backward `show_grad` shows the parameters' gradients. What backward
freed is said, not guessed: an intermediate result shows "data freed" and "grad not kept", unless
it is a root or named in `params` (then its value, and its `.grad` if it called `retain_grad()`
before backward). While the graph is alive (before backward, or after
`backward(retain_graph=True)`), gradients that `.grad` does not hold are computed by the drawing
itself (one extra backward pass with retain_graph=True, see `trace_gradients`), which never touches
`.grad`; `grad_flow` needs that pass, so it needs the graph alive and says so otherwise.
"""

from __future__ import annotations

import functools
import math
import os
from collections import deque
from collections.abc import Mapping

import numpy as np

from .autograd import GraphInput
from .tensor import Tensor

__all__ = ["GraphvizNotFoundError", "draw_graph", "save", "trace_gradients"]

COLORS = {
    "input": "#cfe2f3",  # leaves that do not require grad (data, constants)
    "parameter": "#d9ead3",  # leaves that require grad
    "op": "#fff2cc",
    "tensor": "#ffffff",  # intermediate results
    "output": "#f4cccc",  # the root(s)
    "module": "#e4d7f5",  # a collapsed module call
    "none": "#d9d9d9",  # grad_flow: no gradient reaches it
}
# grad_flow colour map, from vanishing (dark red) to large (bright yellow), on log10 of the norm
GRAD_COLORMAP = ("#3b0000", "#8c0000", "#d7301f", "#f46d43", "#fdae61", "#fee08b", "#ffffbf")
SMALL = 8  # tensors with at most this many elements show their values
_LEGEND = ("input", "parameter", "op", "tensor", "output")
_SYMBOLS = {"Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Pow": "**", "MatMul": "@"}
# ops whose input order matters: their edges are labelled 0, 1, ...
_ORDERED = {"Sub", "Div", "Pow", "MatMul", "Where", "SetItem", "Concatenate", "Maximum"}
_INSTALL = (
    "Rendering needs the Graphviz programs (`dot`), which were not found on PATH. Install them "
    "with `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install -c conda-forge graphviz` or from https://graphviz.org/download/; the Python "
    "package alone (`pip install graphviz`) is not enough. Building the graph and reading its "
    "`.source` works without them."
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering was asked for but the Graphviz programs (`dot`) are not installed."""


# ------------------------------------------------------------------------------------ graphviz ----
def _import_graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "tinygrad_lite.viz needs the graphviz Python package: `pip install graphviz` (and, to "
            "render images, the Graphviz programs: `apt-get install graphviz` / `brew install "
            "graphviz`)"
        ) from None
    return graphviz


@functools.cache
def _digraph_class():
    """graphviz.Digraph whose pipe/render (and so view and Jupyter display) explain how to install
    Graphviz when `dot` is missing, instead of graphviz's bare ExecutableNotFound."""
    graphviz = _import_graphviz()

    class Digraph(graphviz.Digraph):
        def pipe(self, *args, **kwargs):
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as err:
                raise GraphvizNotFoundError(_INSTALL) from err

        def render(self, *args, **kwargs):
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as err:
                raise GraphvizNotFoundError(_INSTALL) from err

    Digraph.__module__ = __name__
    Digraph.__qualname__ = "Digraph"
    Digraph.__doc__ = _digraph_class.__doc__
    return Digraph


# ----------------------------------------------------------------------------------- the graph ----
# NOTE: after backward() (without retain_graph) an op is released: its saved arrays are gone and
# `fn.parents()` gives `GraphInput` stand-ins (shape, dtype, grad_fn, the leaf, the constant). The
# walk treats a tensor and its stand-in as one node: an op's output is known by the op that made
# it, a leaf by the leaf itself, so a graph drawn after backward has the same nodes as before.

_RELEASED = (
    "trace_gradients needs the values the graph saved, and backward() freed them. Call it before "
    "backward(), or call backward(retain_graph=True). (draw_graph after backward() still draws the "
    "graph, and show_grad=True shows the leaves' .grad.)"
)
_RELEASED_FLOW = (
    "draw_graph(grad_flow=True) colours every op by the gradient reaching it, which backward() does "
    "not keep (it freed this graph). Draw with grad_flow=True before backward() (the drawing "
    "computes the gradients itself), or call backward(retain_graph=True); after backward(), "
    "show_grad=True shows the parameters' .grad."
)


def _roots(root) -> list:
    roots = [root] if isinstance(root, Tensor) else list(root)
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError(
            f"draw_graph needs a Tensor or a list of Tensors, got {type(root).__name__}"
            + ("" if isinstance(root, Tensor) else f" of {[type(r).__name__ for r in roots]}")
        )
    return roots


def _is_tensor(x) -> bool:
    """An op's tensor input (live, or a released op's stand-in for one), not a constant operand."""
    if isinstance(x, GraphInput):
        return x.grad_fn is not None or x.tensor is not None
    return isinstance(x, Tensor)


def _identity(x) -> int:
    """One id per drawn tensor, the same for a tensor and its stand-in: the op that made it, or the
    leaf itself."""
    fn = x.grad_fn
    if fn is not None:
        return id(fn)
    return id(x.tensor) if isinstance(x, GraphInput) else id(x)


class _Walk:
    """Breadth-first walk back from the roots (iterative: any depth), at most `max_nodes` nodes.

    tensors: [Tensor, or GraphInput where no live tensor is known], ops: [fn]; parents: op key ->
    the op's inputs; edges: [(src, dst, label)]; producer: tensor key -> op key; consumers: tensor
    key -> [op key]; cut: keys whose inputs were not drawn (linked to the "... N more" node);
    released: some op's saved values were freed by backward. `live` maps `_identity` to tensors
    known to be alive (the roots, tensors named in `params`), drawn in place of stand-ins.
    """

    def __init__(self, roots, max_nodes, live=None):
        self.tensors, self.ops, self.edges, self.cut = [], [], [], []
        self.tkeys, self.okeys, self.parents, self.producer, self.consumers = {}, {}, {}, {}, {}
        self.released = False
        self.live = {_identity(r): r for r in roots}
        self.live.update(live or {})
        budget = math.inf if max_nodes is None else max_nodes
        if budget < 1:
            raise ValueError(f"max_nodes must be at least 1, got {max_nodes}")
        queue = deque()
        for r in roots:
            if _identity(r) not in self.tkeys and self.size < budget:
                self._add_tensor(r, queue)
        while queue:
            t = queue.popleft()
            tkey = self.key(t)
            fn = t.grad_fn
            if fn is None:
                continue
            okey = self.okeys.get(id(fn))
            if okey is None:
                if self.size >= budget:
                    self.cut.append(tkey)
                    continue
                okey = self.okeys[id(fn)] = f"op{len(self.ops)}"
                self.ops.append(fn)
                self.released = self.released or fn.released
                # NOTE: parents() resolves in-place changes: in `c += c + 1` the Add of `c + 1`
                # gets `c` as it was then (a snapshot), so the picture has no false cycle
                inputs = self.parents[okey] = fn.parents()
                ordered = fn.name in _ORDERED
                tensor_inputs = [i for i, x in enumerate(inputs) if _is_tensor(x)]
                for i in tensor_inputs:
                    inp = inputs[i]
                    ikey = self.tkeys.get(_identity(inp))
                    if ikey is None:
                        if self.size >= budget:
                            if okey not in self.cut:
                                self.cut.append(okey)
                            continue
                        ikey = self._add_tensor(inp, queue)
                    label = str(i) if ordered and len(tensor_inputs) > 1 else ""
                    self.edges.append((ikey, okey, label))
                    self.consumers.setdefault(ikey, []).append(okey)
            self.edges.append((okey, tkey, ""))
            self.producer[tkey] = okey

    @property
    def size(self) -> int:
        """Tensor and op nodes found so far."""
        return len(self.tkeys) + len(self.okeys)

    def key(self, t) -> str:
        return self.tkeys[_identity(t)]

    def _add_tensor(self, t, queue):
        ident = _identity(t)
        if isinstance(t, GraphInput):  # a released op's input: draw the tensor if it is alive
            alive = self.live.get(ident, t.tensor)
            t = t if alive is None else alive
        key = self.tkeys[ident] = f"t{len(self.tensors)}"
        self.tensors.append(t)
        queue.append(t)
        return key


# ----------------------------------------------------------------------------------- gradients ----
def trace_gradients(root, tensors=None) -> dict:
    """The gradient of `root` (summed, if not scalar) with respect to every tensor of its graph that
    requires grad, or to `tensors`: a dict Tensor -> gradient Tensor (None where unused).

    Runs one backward pass with `retain_graph=True` through `tinygrad_lite.grad`, so `.grad` is not
    touched and the graph stays usable; intermediate results get gradients too, without
    `retain_grad()`. Used by `draw_graph(show_grad=True)` and `draw_graph(grad_flow=True)`. It
    needs the graph's saved values: after a backward() that freed them it refuses, saying what to do.

    >>> x = Tensor(3.0, requires_grad=True)
    >>> y = x * x
    >>> grads = trace_gradients(y + 1.0)
    >>> float(grads[x]), float(grads[y])
    (6.0, 1.0)
    """
    roots = [r for r in _roots(root) if r.requires_grad]
    walk = _Walk(roots, None)
    if walk.released:
        raise RuntimeError(_RELEASED)
    return _traced(roots, walk.tensors if tensors is None else tensors)


def _traced(roots, tensors) -> dict:
    """trace_gradients on a graph known to be alive."""
    from .functional import grad

    roots = [r for r in roots if r.requires_grad]
    wanted = [t for t in tensors if t.requires_grad]
    if not roots or not wanted:
        return {t: None for t in tensors}
    seeds = [Tensor(np.ones(r.shape, dtype=r.dtype)) for r in roots]
    grads = grad(roots, wanted, grad_outputs=seeds, retain_graph=True, allow_unused=True)
    # NOTE: Tensor hashes by identity (== is elementwise, but dict lookups compare identity first
    # and distinct live objects never share an identity hash), so tensors work as keys here.
    out = {t: None for t in tensors}
    out.update(zip(wanted, grads))
    return out


def _norm(g) -> float | None:
    if g is None:
        return None
    return float(np.sqrt(np.sum(np.square(g.data, dtype=np.float64))))


def _grad_range(norms) -> tuple:
    """A log-scale range covering the norms, whole decades, at least four of them."""
    good = [n for n in norms if n is not None and n > 0 and math.isfinite(n)]
    if not good:
        return 1e-4, 1.0
    hi = 10.0 ** math.ceil(math.log10(max(good)))
    lo = min(10.0 ** math.floor(math.log10(min(good))), hi * 1e-4)
    return lo, hi


def _grad_color(norm, lo, hi) -> tuple:
    """(fill, font colour) for a gradient norm on the log scale lo..hi."""
    if norm is None or not math.isfinite(norm):
        return COLORS["none"], "black"
    span = math.log10(hi) - math.log10(lo)
    x = 0.0 if norm <= 0 else (math.log10(norm) - math.log10(lo)) / span
    x = min(max(x, 0.0), 1.0) * (len(GRAD_COLORMAP) - 1)
    i = min(int(x), len(GRAD_COLORMAP) - 2)
    c0, c1 = (tuple(int(c[j:j + 2], 16) for j in (1, 3, 5)) for c in GRAD_COLORMAP[i:i + 2])
    rgb = [round(a + (b - a) * (x - i)) for a, b in zip(c0, c1)]
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("white" if luminance < 0.5 else "black")


# -------------------------------------------------------------------------------------- labels ----
def _num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    s = f"{float(v):.6g}"
    return s + ".0" if s.lstrip("-").isdigit() else s


def _fmt(v, limit=40) -> str:
    """A short text for an op setting or constant operand."""
    if isinstance(v, Tensor):
        s = f"tensor{tuple(v.shape)}"
    elif isinstance(v, np.ndarray):
        s = (_array_text(v) if v.size <= SMALL else
             f"{v.dtype}[{', '.join(str(n) for n in v.shape)}]")
    elif isinstance(v, (bool, int, float, np.generic)):
        s = _num(v)
    elif isinstance(v, slice):
        parts = ["" if p is None else _num(p) for p in (v.start, v.stop, v.step)]
        s = ":".join(parts[:2] if v.step is None else parts)
    elif v is Ellipsis:
        s = "..."
    elif isinstance(v, (tuple, list)):
        inner = ", ".join(_fmt(x, limit) for x in v)
        s = f"({inner},)" if isinstance(v, tuple) and len(v) == 1 else (
            f"({inner})" if isinstance(v, tuple) else f"[{inner}]")
    elif isinstance(v, (np.dtype, type)):
        try:
            s = np.dtype(v).name
        except TypeError:
            s = getattr(v, "__name__", repr(v))
    else:
        s = repr(v)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _array_text(a) -> str:
    a = np.asarray(a)
    if a.size == 1 and a.ndim <= 1:
        return _value(a.reshape(()).item(), a.dtype)
    text = np.array2string(a, precision=4, separator=", ", floatmode="fixed", max_line_width=10_000)
    return " ".join(text.split())


def _value(x, dtype) -> str:
    return f"{x:.4f}" if np.dtype(dtype).kind in "fc" else str(x)


def _data_text(a: np.ndarray) -> str:
    """Values of a small array, mean and std of a larger one."""
    if a.size <= SMALL:
        return _array_text(a)
    if a.dtype.kind not in "fciu":
        return f"{int(np.count_nonzero(a))} of {a.size} true"
    a64 = a.astype(np.float64)
    return f"mean {a64.mean():.4g}, std {a64.std():.4g}"


def _grad_text(t, traced, released) -> str:
    """The gradient a node shows: `.grad` if the tensor has one, else the one traced for the
    drawing; after backward released the graph, "not kept" for a tensor it did not keep it for (an
    intermediate without retain_grad(), whose gradient backward passed on and dropped)."""
    grad = t.grad if isinstance(t, Tensor) else None
    if grad is None:
        grad = traced
    if grad is not None:
        return _data_text(grad.data)
    if released and t.grad_fn is not None:
        return "not kept"
    return "None"


def _shape_text(t) -> str:
    return f"{tuple(t.shape)} {t.dtype}" if len(t.shape) else str(t.dtype)


def _record(fields, rankdir) -> str:
    esc = [str(f).replace("\\", "\\\\") for f in fields]
    for ch in "{}|<>\"":
        esc = [f.replace(ch, "\\" + ch) for f in esc]
    body = " | ".join(esc)
    return "{" + body + "}" if rankdir in ("LR", "RL") else body


def _lines(lines) -> str:
    return "\\n".join(str(x).replace("\\", "\\\\") for x in lines)


def _op_lines(fn, inputs, show_attrs) -> list:
    name = fn.name
    lines = [name]
    if not all(_is_tensor(x) for x in inputs):
        args = ["·" if _is_tensor(x) else _constant_text(x) for x in inputs]
        sym = _SYMBOLS.get(name)
        lines.append(f" {sym} ".join(args) if sym and len(args) == 2 else
                     f"{name.lower()}({', '.join(args)})")
    if show_attrs:
        for key, value in fn.settings.items():
            if value is None or value is False:
                continue
            text = _index_text(value) if key == "index" else _fmt(value)
            lines.append(f"{key}={text}")
    return lines


def _constant_text(x) -> str:
    """A constant operand, or a released op's stand-in for one."""
    return _fmt(x.value if isinstance(x, GraphInput) else x, 24)


def _index_text(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    return _fmt_trunc("[" + ", ".join(_fmt(i, 24) for i in items) + "]")


def _fmt_trunc(s, limit=40):
    return s if len(s) <= limit else s[:limit - 1] + "…"


# ------------------------------------------------------------------------------------- modules ----
def _names(params) -> tuple:
    """(tensor names by `_identity`, module names by id, the root module, the named tensors by
    `_identity`) from a Module or a name -> Tensor mapping."""
    if params is None:
        return {}, {}, None, {}
    if hasattr(params, "named_parameters"):
        named = dict(params.named_parameters())
        module_names = {}
        if hasattr(params, "named_modules"):
            module_names = {id(m): n for n, m in params.named_modules()}
        root_module = params
    elif isinstance(params, Mapping):
        for n, t in params.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"params maps names to Tensors; {n!r} maps to {type(t).__name__}")
        named, module_names, root_module = {str(n): t for n, t in params.items()}, {}, None
    else:
        raise TypeError(
            "params must be a Module (anything with named_parameters()) or a dict name -> Tensor, "
            f"got {type(params).__name__}"
        )
    return ({_identity(t): n for n, t in named.items()}, module_names, root_module,
            {_identity(t): t for t in named.values()})


def _units(ops, root_module) -> list:
    """For each op, the module call it is collapsed into (None: drawn as an op).

    The rule: boxes are the modules called directly by the model (the root module: `params` when it
    is a Module, else each outermost module that calls other modules). Ops a model runs itself
    (activations written as Tensor methods in its forward) stay ops; a module called on its own
    with no sub-modules (a loss module, a lone layer) is one box.
    """
    scopes = [fn.scope or () for fn in ops]
    containers = {id(s[0]) for s in scopes if len(s) > 1}  # outermost modules that call others
    units = []
    for scope in scopes:
        if not scope:
            units.append(None)
            continue
        if root_module is not None:
            pos = next((i for i, m in enumerate(scope) if m is root_module), None)
        else:
            pos = 0 if id(scope[0]) in containers else None
        if pos is None:  # a module called outside the model (a loss, a lone layer): one box
            units.append(scope[0])
        else:  # the model's direct child, or None for ops the model runs itself
            units.append(scope[pos + 1] if pos + 1 < len(scope) else None)
    return units


def _module_title(m, name) -> str:
    cls = type(m).__name__
    extra = m.extra_repr() if callable(getattr(m, "extra_repr", None)) else ""
    title = f"{cls}({extra})" if extra else cls
    title = _fmt_trunc(title, 64)
    return f"{name}: {title}" if name and name != title else title


# ------------------------------------------------------------------------------------- drawing ----
def draw_graph(root, params=None, *, show_data: bool = False, show_grad: bool = False,
               show_attrs: bool = True, collapse_modules: bool | str = False, rankdir: str = "LR",
               max_nodes: int | None = None, grad_flow: bool = False,
               grad_range: tuple | None = None, legend: bool = True):
    """The graph that computed `root` (a Tensor or a list of Tensors) as a graphviz.Digraph.

    - `params`: a Module (anything with `named_parameters()`) or a dict name -> Tensor; named
      tensors show their names ("fc1.weight"). Any tensor of the graph may be named this way.
    - `show_attrs`: op settings (axis, shape, index, ...; long arrays summarized as dtype[shape]).
    - `show_data` / `show_grad`: values of tensors with at most 8 elements (mean and std of larger
      ones). The gradient shown is the tensor's `.grad` if it has one, else d(root)/d(tensor)
      computed for the drawing (`trace_gradients`): after one backward() both are the same. After
      a backward() that freed the graph, an intermediate result shows "data freed" and "grad not
      kept", unless it is a root or named in `params` (then its value, and its `.grad` if it
      called `retain_grad()` before backward).
    - `grad_flow`: colour parameters and ops by the norm of the gradient reaching them (for an op:
      into its output) on a log scale from dark red to bright yellow, shown in the legend;
      `grad_range=(low, high)` fixes the scale (default: whole decades around the norms found,
      at least four). The gradients are computed here; `.grad` is neither read nor changed, so
      the graph must be alive (refused after a backward() that freed it).
    - `collapse_modules=True`: one box per module call, with the parameters only it uses folded
      into its label. Boxes are the modules called directly by the model (the root module:
      `params` when it is a Module, else each outermost module that calls other modules), so an
      MLP class with fc1/fc2/fc3 Linear layers reads as three boxes plus the activations and the
      loss it computes itself, and a Sequential as one box per layer. A module called on its own
      with no sub-modules (a loss module, a lone layer) is one box. `"clusters"`: every op still
      drawn, inside a labelled frame per module.
    - `max_nodes`: stop after that many tensor and op nodes; a "... N more nodes" node stands for
      the rest. `rankdir`: "LR" (default), "TB", "RL" or "BT". `legend`: draw the legend.

    Draw before or after backward(): the picture is the same (backward keeps the structure).

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> g = draw_graph((x * 2.0).sum(), params={"x": x}, legend=False)
    >>> print(g.source)  # doctest: +ELLIPSIS
    digraph tinygrad_lite {
    ...
        t0 [label="{float32}" fillcolor="#f4cccc" fontcolor=black shape=record]
        t1 [label="{(2,) float32}" fillcolor="#ffffff" fontcolor=black shape=record]
        t2 [label="{x | (2,) float32}" fillcolor="#d9ead3" fontcolor=black shape=record]
        op0 [label=Sum fillcolor="#fff2cc" fontcolor=black shape=ellipse]
        op1 [label="Mul\\n· × 2.0" fillcolor="#fff2cc" fontcolor=black shape=ellipse]
        t1 -> op0
        op0 -> t0
        t2 -> op1
        op1 -> t1
    }
    <BLANKLINE>
    """
    graphviz_digraph = _digraph_class()
    roots = _roots(root)
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    if collapse_modules not in (False, True, "clusters"):
        raise ValueError(
            f"collapse_modules must be True, False or 'clusters', got {collapse_modules!r}"
        )
    tensor_names, module_names, root_module, named = _names(params)
    walk = _Walk(roots, max_nodes, live=named)
    root_ids = {_identity(r) for r in roots}
    released = walk.released
    if walk.cut and (grad_flow or show_grad) and not released:
        released = _Walk(roots, None).released  # the gradient pass goes beyond what is drawn
    if grad_flow and released:
        raise RuntimeError(_RELEASED_FLOW)

    # gradients, computed once for everything drawn that needs them (only while the graph is
    # alive: after backward the drawing shows what .grad holds and says what was not kept)
    grads = {}
    if (grad_flow or show_grad) and not released:
        need = walk.tensors if grad_flow else [
            t for t in walk.tensors if t.grad is None and t.requires_grad]
        if need:
            grads = {_identity(t): g for t, g in _traced(roots, need).items()}
    norms = {walk.key(t): _norm(grads.get(_identity(t))) for t in walk.tensors} if grad_flow \
        else {}
    lo, hi = grad_range if grad_range is not None else _grad_range(norms.values())
    if grad_flow and not 0 < lo < hi:
        raise ValueError(f"grad_range must be (low, high) with 0 < low < high, got {grad_range}")

    g = graphviz_digraph(
        name="tinygrad_lite",
        graph_attr={"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.35",
                    "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled", "height": "0.3"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8", "arrowsize": "0.7"},
    )

    # one spec per drawn node: key -> (attrs, cluster)
    specs = {}

    def kind_of(t):
        if _identity(t) in root_ids:
            return "output"
        if t.grad_fn is not None:
            return "tensor"
        return "parameter" if t.requires_grad else "input"

    for t in walk.tensors:
        key = walk.key(t)
        kind = kind_of(t)
        alive = isinstance(t, Tensor)  # else an op's output that backward freed
        fields = []
        name = tensor_names.get(_identity(t))
        if name:
            fields.append(name)
        if not (show_data and alive and t.ndim == 0 and t.dtype == np.float32):  # value says all
            fields.append(_shape_text(t))
        if show_data:
            fields.append("data " + (_data_text(t.data) if alive else "freed"))
        if show_grad and t.requires_grad:
            fields.append("grad " + _grad_text(t, grads.get(_identity(t)), released))
        fill, font = COLORS[kind], "black"
        if grad_flow and kind == "parameter":
            n = norms.get(key)
            fields.append("‖grad‖ " + ("None" if n is None else f"{n:.2e}"))
            fill, font = _grad_color(n, lo, hi)
        specs[key] = {"label": _record(fields, rankdir), "shape": "record", "fillcolor": fill,
                      "fontcolor": font}

    output_of = {}  # op key -> the tensor it made
    for tkey, okey in walk.producer.items():
        output_of.setdefault(okey, tkey)
    for fn in walk.ops:
        key = walk.okeys[id(fn)]
        lines = _op_lines(fn, walk.parents[key], show_attrs)
        fill, font = COLORS["op"], "black"
        if grad_flow:
            n = norms.get(output_of[key])
            lines.append("‖grad‖ " + ("None" if n is None else f"{n:.2e}"))
            fill, font = _grad_color(n, lo, hi)
        attrs = {"label": _lines(lines), "shape": "ellipse", "fillcolor": fill, "fontcolor": font}
        scope = fn.scope
        if scope:
            attrs["tooltip"] = " / ".join(
                module_names.get(id(m)) or type(m).__name__ for m in scope)
        specs[key] = attrs

    edges = list(walk.edges)
    clusters = {}  # key -> cluster key
    cluster_labels = {}
    if collapse_modules and walk.ops:
        edges = _collapse(walk, specs, edges, clusters, cluster_labels, root_module, module_names,
                          tensor_names, root_ids, collapse_modules == "clusters", grad_flow, norms,
                          lo, hi, rankdir)

    if walk.cut:
        more = _Walk(roots, None, live=named).size - walk.size
        specs["more"] = {"label": f"… {more} more nodes", "shape": "note", "style": "dashed,filled",
                         "fillcolor": "#f3f3f3"}
        edges += [("more", key, "") for key in dict.fromkeys(walk.cut)]

    # emit: plain nodes, then one subgraph per cluster, then edges
    for key, attrs in specs.items():
        if key not in clusters:
            g.node(key, **attrs)
    for ckey in dict.fromkeys(clusters.values()):
        with g.subgraph(name=f"cluster_{ckey}") as sub:
            sub.attr(label=cluster_labels[ckey], style="rounded,dashed", color="#7f6aa8",
                     fontname="Helvetica", fontsize="10")
            for key, c in clusters.items():
                if c == ckey:
                    sub.node(key, **specs[key])
    for src, dst, label in edges:  # NOTE: x * x draws two edges x -> Mul: one per operand
        if label:
            g.edge(src, dst, label=label)
        else:
            g.edge(src, dst)

    if legend:
        _legend(g, collapse_modules is True, grad_flow, lo, hi, rankdir)
    return g


def _collapse(walk, specs, edges, clusters, cluster_labels, root_module, module_names,
              tensor_names, root_ids, as_clusters, grad_flow, norms, lo, hi, rankdir):
    """Group ops by module call: boxes (one node each) or clusters (frames around the ops)."""
    units = _units(walk.ops, root_module)
    unit_of = {}  # node key -> module
    box_key = {}  # id(module) -> box key
    for fn, m in zip(walk.ops, units):
        if m is not None:
            unit_of[walk.okeys[id(fn)]] = m
            box_key.setdefault(id(m), f"mod{len(box_key)}")
    if not box_key:
        return edges
    modules = {box_key[id(m)]: m for m in unit_of.values()}
    titles, used = {}, {}
    for bkey, m in modules.items():
        title = _module_title(m, module_names.get(id(m)))
        used[title] = used.get(title, 0) + 1
        titles[bkey] = title if used[title] == 1 else f"{title} #{used[title]}"

    def box(key):  # the box a node belongs to (None: outside every box)
        m = unit_of.get(key)
        return None if m is None else box_key[id(m)]

    # a tensor belongs to a box if made there and only used there (or a parameter only used
    # there); in cluster mode everything made in a box is drawn inside its frame
    member = {}
    for t in walk.tensors:
        tkey = walk.key(t)
        made = box(walk.producer[tkey]) if tkey in walk.producer else None
        if _identity(t) in root_ids or tkey in walk.cut:
            continue
        if as_clusters and made is not None:
            member[tkey] = made
            continue
        users = {box(c) for c in walk.consumers.get(tkey, [])}
        if len(users) != 1:
            continue
        (b,) = users
        if b is not None and (made == b or (t.grad_fn is None and t.requires_grad)):
            member[tkey] = b

    if as_clusters:
        for key in list(specs):
            b = box(key) or member.get(key)
            if b is not None:
                clusters[key] = b
        cluster_labels.update(titles)
        return edges

    # one node per box, its parameters listed inside; with grad_flow it is coloured by the norm of
    # its parameters' gradients (all of them together), or, without parameters, of its output's
    folded = {bkey: [] for bkey in modules}
    output = {}
    for t in walk.tensors:
        tkey = walk.key(t)
        if t.grad_fn is None and tkey in member:
            folded[member[tkey]].append(t)
        elif tkey not in member and tkey in walk.producer and box(walk.producer[tkey]):
            output.setdefault(box(walk.producer[tkey]), t)
    order = {key: i for i, key in enumerate(tensor_names)}  # named_parameters order: weight, bias
    for bkey, m in modules.items():
        lines = [titles[bkey]]
        prefix = module_names.get(id(m))
        for t in sorted(folded[bkey], key=lambda t: order.get(_identity(t), len(order))):
            name = tensor_names.get(_identity(t), "")
            if prefix and name.startswith(prefix + "."):
                name = name[len(prefix) + 1:]
            line = f"{name} {_shape_text(t)}".strip()
            if grad_flow:
                n = norms.get(walk.key(t))
                line += "  ‖grad‖ " + ("None" if n is None else f"{n:.2e}")
            lines.append(line)
        fill, font = COLORS["module"], "black"
        if grad_flow:
            known = [norms.get(walk.key(t)) for t in folded[bkey]]
            known = [n for n in known if n is not None]
            if known:
                total = math.sqrt(sum(n * n for n in known))
            else:
                total = norms.get(walk.key(output[bkey])) if bkey in output else None
                lines.append("output ‖grad‖ " + ("None" if total is None else f"{total:.2e}"))
            fill, font = _grad_color(total, lo, hi)
        specs[bkey] = {"label": _lines(lines), "shape": "box", "style": "rounded,filled,bold",
                       "peripheries": "2", "fillcolor": fill, "fontcolor": font}
    for key in list(specs):
        if key in unit_of or key in member:
            del specs[key]

    def where(key):
        return box(key) or member.get(key) or key

    out = []
    for src, dst, label in edges:
        s, d = where(src), where(dst)
        if s == d:
            continue
        if src in walk.producer and box(walk.producer[src]) is not None and \
                box(walk.producer[src]) == box(dst):
            continue  # a box's own output used again inside the box
        out.append((s, d, label if d == dst and s == src else ""))
    return list(dict.fromkeys(out))  # many edges into one box are drawn once


def _legend(g, with_modules, grad_flow, lo, hi, rankdir):
    kinds = list(_LEGEND) + (["module"] if with_modules else [])
    texts = {"input": "input (no grad)", "parameter": "parameter (grad)", "op": "op",
             "tensor": "intermediate", "output": "output", "module": "module call"}
    samples = [(f"legend_{kind}", {
        "label": texts[kind], "shape": "ellipse" if kind == "op" else "box",
        "fillcolor": COLORS[kind], "style": "rounded,filled" if kind == "module" else "filled",
    }) for kind in kinds]
    if grad_flow:
        decades = range(round(math.log10(lo)), round(math.log10(hi)) + 1)
        cells = "".join(
            '<td bgcolor="{}"><font color="{}">1e{}</font></td>'.format(
                *_grad_color(10.0**d, lo, hi), d)
            for d in decades
        )
        samples.append(("legend_grad", {
            "label": (f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
                      f'<tr><td colspan="{len(decades)}">‖grad‖ (log scale)</td></tr>'
                      f"<tr>{cells}</tr></table>>"),
            "shape": "plaintext", "style": ""}))
    if rankdir in ("TB", "BT"):  # NOTE: dot lays one rank out right to left: keep reading order
        samples.reverse()
    with g.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", style="rounded,dashed", color="#999999", fontname="Helvetica",
                 fontsize="10")
        for key, attrs in samples:
            leg.node(key, **attrs)


# --------------------------------------------------------------------------------------- files ----
def save(root_or_graph, path, format: str | None = None, **draw_kwargs) -> str:  # noqa: A002
    """Render the graph of a Tensor (drawn with `draw_graph(root, **draw_kwargs)`) or a Digraph to
    `path` as svg, png or pdf (from `format`, else the file's suffix, else svg). Needs Graphviz's
    `dot`; raises GraphvizNotFoundError with install instructions if it is missing. Returns the
    path.
    """
    graphviz = _import_graphviz()
    if isinstance(root_or_graph, graphviz.Digraph):
        if draw_kwargs:
            raise TypeError(f"save got a ready Digraph and drawing options {sorted(draw_kwargs)}; "
                            "pass the options to draw_graph instead")
        graph = root_or_graph
    else:
        graph = draw_graph(root_or_graph, **draw_kwargs)
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if format is None:
        format = suffix or "svg"  # noqa: A001
    if format not in graphviz.FORMATS:
        raise ValueError(f"unknown output format {format!r}; use 'svg', 'png' or 'pdf'")
    if not suffix:
        path = f"{path}.{format}"
    try:
        data = graph.pipe(format=format)
    except graphviz.ExecutableNotFound as err:  # a plain graphviz.Digraph
        raise GraphvizNotFoundError(_INSTALL) from err
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path
