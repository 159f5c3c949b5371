"""Export a model to ONNX by tracing one forward pass through the recorded graph.

`export(model, example_input, path)` runs the model (in eval mode, with recording on), walks the
graph it recorded from the outputs back to the inputs through the public surface (`grad_fn`,
`.name`, `.inputs`, `.settings`, `is_leaf`), and writes one ONNX node (or a few) per primitive. The
layers are not written a second time: whatever the forward pass did is what the file says. The
parameters become initializers under their `named_parameters()` names.

Values the recorded graph does not carry are found by running the forward pass a few more times:

- on other random inputs of the same shape: a value that changes with the input but was computed
  outside the graph (a comparison on `.data`, a `.detach()`) must be explained, or the export is
  refused. Two such values are recognised, each checked on every run: `u > 0` as the condition of a
  `Where` (leaky ReLU, PReLU, ELU) and the max of `u` kept as a constant shift (softmax);
- with `dynamic_batch`, at two other batch sizes: every shape that changes with the batch size must
  be a * batch + c (it is then computed from the input's shape at run time), and every constant
  that changes with it must be one value repeated (an all-zeros initial state); anything else is
  refused with a message saying to export with `dynamic_batch=False`.

`onnx` is an optional dependency: `pip install "tinygrad-lite[onnx]"` (it brings `onnxruntime`
too, to run the exported file).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .autograd import enable_grad
from .tensor import Tensor

__all__ = ["ExportError", "export"]

MIN_OPSET = 13  # Squeeze, Unsqueeze and ReduceSum take their axes as inputs from opset 13 on
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min

# primitives that map to the ONNX operator of the same meaning, inputs cast to the output's dtype
_ELEMENTWISE = {
    "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sin": "Sin", "Cos": "Cos", "Sqrt": "Sqrt",
    "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu", "Softplus": "Softplus",
    "Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max",
}
_COMPARISONS = {"Greater": np.greater, "GreaterOrEqual": np.greater_equal, "Less": np.less,
                "LessOrEqual": np.less_equal}


class ExportError(ValueError):
    """The model cannot be written as ONNX as it is; the message names the op and what to do."""


# ------------------------------------------------------------------------------------ tracing ----
class _Step:
    """One recorded op of one run: its name, settings, input references and output tensor."""

    __slots__ = ("name", "settings", "refs", "out")

    def __init__(self, name, settings, refs, out):
        self.name, self.settings, self.refs, self.out = name, settings, refs, out


class _Trace:
    """One forward pass: the ops in topological order and where the outputs come from.

    A reference is ("step", i), ("input", i), ("param", name) or ("const", value), where value is
    a leaf Tensor, an array or a Python number that the op got.
    """

    def __init__(self, model, arrays, params):
        self.batch = arrays[0].shape[0] if arrays[0].ndim else None
        self.inputs = [Tensor(a, requires_grad=True) for a in arrays]
        with enable_grad():
            result = model(*self.inputs)
        outputs = _flatten_outputs(result)
        if not outputs:
            raise ExportError("the model returned no Tensor to export")
        input_ids = {id(t): i for i, t in enumerate(self.inputs)}
        self.steps: list[_Step] = []
        index: dict[int, int] = {}

        def ref(x):
            if isinstance(x, Tensor):
                if id(x) in input_ids:
                    return ("input", input_ids[id(x)])
                if id(x) in index:
                    return ("step", index[id(x)])
                if id(x) in params:
                    return ("param", params[id(x)])
                return ("const", x)
            return ("const", x)

        # NOTE: an iterative post-order walk (a deep graph, e.g. an unrolled LSTM, must not recurse)
        stack = [(t, False) for t in reversed(outputs)]
        while stack:
            t, expanded = stack.pop()
            if id(t) in index or not isinstance(t, Tensor) or t.is_leaf:
                continue
            fn = t.grad_fn
            if expanded:
                index[id(t)] = len(self.steps)
                self.steps.append(_Step(fn.name, dict(fn.settings), [ref(x) for x in fn.inputs], t))
                continue
            stack.append((t, True))
            for x in reversed(fn.inputs):
                if isinstance(x, Tensor) and not x.is_leaf and id(x) not in index:
                    stack.append((x, False))
        self.outputs = [ref(t) for t in outputs]
        self.output_arrays = [t.data for t in outputs]

    def signature(self):
        """What must be the same in every run: the ops, their inputs' kinds and settings' names."""
        return [(s.name, tuple(sorted(s.settings)), tuple(r[0] if r[0] != "param" else r for r in s.refs))
                for s in self.steps], [r[0] if r[0] != "param" else r for r in self.outputs]

    def value(self, r):
        """The array a reference stood for in this run."""
        kind, what = r
        if kind == "step":
            return self.steps[what].out.data
        if kind == "input":
            return self.inputs[what].data
        if kind == "param":
            raise AssertionError("parameters are looked up by name")
        return what.data if isinstance(what, Tensor) else np.asarray(what)


def _flatten_outputs(result):
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in _flatten_outputs(item)]
    raise ExportError(f"the model returned a {type(result).__name__}; export needs a Tensor or a "
                      "(nested) tuple or list of Tensors")


def _same(a, b) -> bool:
    """Equal settings or constants (arrays by shape, dtype and value; NaN equals NaN)."""
    if isinstance(a, (Tensor, np.ndarray)) or isinstance(b, (Tensor, np.ndarray)):
        a = a.data if isinstance(a, Tensor) else np.asarray(a)
        b = b.data if isinstance(b, Tensor) else np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _uniform(a) -> bool:
    a = np.asarray(a)
    return a.size == 0 or bool((a == a.flat[0]).all())


def _linear(values, batches):
    """(a, c) with value = a * batch + c for every run, or None."""
    (v0, b0), (v1, b1) = (values[0], batches[0]), next(
        (v, b) for v, b in zip(values, batches) if b != batches[0])
    a, rest = divmod(v1 - v0, b1 - b0)
    if rest:
        return None
    c = v0 - a * b0
    return (a, c) if all(v == a * b + c for v, b in zip(values, batches)) else None


# ------------------------------------------------------------------------------------ writing ----
class _Builder:
    """Collects ONNX nodes and initializers while the reference run is translated."""

    def __init__(self, onnx, traces, input_names, opset, param_arrays):
        self.onnx, self.helper = onnx, onnx.helper
        self.traces, self.ref = traces, traces[0]
        self.input_names, self.opset, self.param_arrays = input_names, opset, param_arrays
        self.nodes, self.initializers, self.names = [], [], set(input_names)
        self.values: dict = {}  # (reference key, dtype) -> ONNX value name
        self.outputs: set = set()
        self.renamed: dict = {}
        self.same_batch = [t for t in traces if t.batch == self.ref.batch]
        self.batches = [t.batch for t in traces]
        self.dynamic = len(set(self.batches)) > 1

    # -- names, nodes, initializers --
    def fresh(self, base):
        name, k = base, 1
        while name in self.names or name in self.param_arrays:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def node(self, op, inputs, base=None, **attrs):
        out = self.fresh(base or op)
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=f"{op}_{len(self.nodes)}",
                                                **attrs))
        return out

    def initializer(self, array, base="const"):
        name = self.fresh(base)
        array = np.array(array, order="C", copy=None)  # (np.ascontiguousarray makes 0-d arrays 1-d)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, values):
        return self.initializer(np.asarray(values, dtype=np.int64), "shape")

    def param(self, name):
        """A parameter as an initializer under its own name (written once)."""
        if ("param", name) not in self.values:
            self.values[("param", name)] = name
            self.initializers.append(self.onnx.numpy_helper.from_array(
                np.array(self.param_arrays[name], order="C", copy=None), name))
        return name

    def output(self, source, name):
        """Make value `source` the graph output `name`: renamed where a node of ours makes it (and
        no other output is it), else copied by an Identity node."""
        source = self.renamed.get(source, source)
        maker = next((n for n in self.nodes if source in n.output), None)
        if maker is None or source in self.outputs:
            self.nodes.append(self.helper.make_node("Identity", [source], [name], name=f"output_{name}"))
        else:
            for n in self.nodes:
                n.input[:] = [name if v == source else v for v in n.input]
            maker.output[:] = [name if v == source else v for v in maker.output]
            self.values = {k: (name if v == source else v) for k, v in self.values.items()}
            self.renamed[source] = name
        self.outputs.add(name)

    def cast(self, name, have, want):
        if have == want:
            return name
        return self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(want)))

    # -- the batch size at run time, and shapes computed from it --
    def batch_size(self):
        if "batch" not in self.values:
            shape = self.node("Shape", [self.input_names[0]], "input_shape")
            self.values["batch"] = self.node("Gather", [shape, self.ints([0])], "batch_size")
        return self.values["batch"]

    def shape(self, shapes, what):
        """An int64 shape input: a constant, or computed from the batch size where it varies."""
        shapes = [tuple(int(n) for n in s) for s in shapes]
        if len(set(shapes)) == 1:
            return self.ints(shapes[0])
        if len({len(s) for s in shapes}) != 1:
            raise self.batch_error(what, f"its rank changes with the batch size: {shapes}")
        pieces = []
        for dims in zip(*shapes):
            if len(set(dims)) == 1:
                pieces.append(self.ints([dims[0]]))
                continue
            fit = _linear(list(dims), self.batches)
            if fit is None:
                raise self.batch_error(what, f"a dimension is not a * batch + c: {shapes}")
            a, c = fit
            piece = self.batch_size()
            if a != 1:
                piece = self.node("Mul", [piece, self.ints([a])])
            if c != 0:
                piece = self.node("Add", [piece, self.ints([c])])
            pieces.append(piece)
        return self.node("Concat", pieces, "shape", axis=0)

    def batch_error(self, what, detail):
        return ExportError(f"{what} depends on the batch size in a way ONNX cannot follow here "
                           f"({detail}); export with dynamic_batch=False to fix the batch size to "
                           f"{self.ref.batch}")

    # -- operands --
    def operand(self, i, j, dtype):
        """ONNX name of input j of step i (the reference run's), as `dtype`."""
        r = self.ref.steps[i].refs[j]
        kind, what = r
        if kind == "input":
            return self.cast(self.input_names[what], self.ref.inputs[what].data.dtype, dtype)
        if kind == "step":
            return self.cast(self.values[("step", what)], self.ref.steps[what].out.data.dtype, dtype)
        if kind == "param":
            return self.cast(self.param(what), self.param_arrays[what].dtype, dtype)
        key = ("const", id(what) if isinstance(what, (Tensor, np.ndarray)) else (i, j), np.dtype(dtype))
        if key not in self.values:
            self.values[key] = self.constant(i, j, dtype)
        return self.values[key]

    def run_value(self, t, i, j):
        """The array that input j of step i was in run t."""
        r = t.steps[i].refs[j]
        return self.param_arrays[r[1]] if r[0] == "param" else t.value(r)

    def constant(self, i, j, dtype):
        """A value that the op got from outside the graph: fixed, batch-shaped, or explained."""
        step = self.ref.steps[i]
        runs = [self.run_value(t, i, j) for t in self.traces]
        if all(_same(runs[0], v) for v in runs[1:]):
            return self.initializer(np.asarray(runs[0]).astype(dtype, copy=False))
        explained = self.explain(i, j, dtype)
        if explained is not None:
            return explained
        if not all(_same(runs[0], self.run_value(t, i, j)) for t in self.same_batch[1:]):
            raise ExportError(
                f"{step.name} (op {i} of {len(self.ref.steps)}) uses a value of shape "
                f"{np.shape(runs[0])} that was computed from the input outside the recorded graph "
                "(a comparison on .data, a .detach(), a numpy call), so the exported model could not "
                "recompute it. Write that part with Tensor operations, or file an issue naming the "
                "layer.")
        firsts = {np.asarray(v).flat[0].item() for v in runs if np.size(v)}
        if len(firsts) <= 1 and all(_uniform(v) for v in runs):
            fill = self.initializer(np.full((), firsts.pop() if firsts else 0, dtype=dtype))
            shape = self.shape([np.shape(v) for v in runs], f"a constant used by {step.name}")
            return self.node("Expand", [fill, shape])
        raise self.batch_error(f"a constant of shape {np.shape(runs[0])} used by {step.name}",
                               "its values change with the batch size")

    def explain(self, i, j, dtype):
        """A value computed from the input outside the graph, as one of the known forms (or None)."""
        step = self.ref.steps[i]
        value = self.run_value(self.ref, i, j)

        def holds(source, form):
            return all(_same(self.run_value(t, i, j), form(self.run_value(t, i, source)))
                       for t in self.traces)

        if step.name == "Where" and j in (1, 2):  # clip's branch: only the entries picked matter
            picked = set()
            for t in self.traces:
                cond = self.run_value(t, i, 0).astype(bool)
                shape = np.broadcast_shapes(cond.shape, *(np.shape(self.run_value(t, i, k))
                                                          for k in (1, 2)))
                mask = np.broadcast_to(cond if j == 1 else ~cond, shape)
                picked.update(np.broadcast_to(self.run_value(t, i, j), shape)[mask].tolist())
            if len(picked) <= 1:
                return self.initializer(np.full((), picked.pop() if picked else 0, dtype=dtype))
        for source, r in enumerate(step.refs):
            if source == j or r[0] == "const":
                continue
            u = self.run_value(self.ref, i, source)
            if step.name == "Where" and j == 0:  # leaky ReLU, PReLU, ELU: where(x.data > 0, ...)
                for op, compare in _COMPARISONS.items():
                    if holds(source, lambda v, compare=compare: compare(v, 0)):
                        zero = self.initializer(np.zeros((), u.dtype))
                        out = self.node(op, [self.operand(i, source, u.dtype), zero])
                        return self.cast(out, np.bool_, dtype)
            if value.ndim == u.ndim and value.ndim:  # softmax's shift: x.max(axis, keepdims).detach()
                axes = tuple(a for a in range(u.ndim) if value.shape[a] == 1 and u.shape[a] != 1)
                if axes and holds(source, lambda v, axes=axes: np.max(v, axis=axes, keepdims=True)):
                    out = self.reduce("ReduceMax", self.operand(i, source, u.dtype), axes, True)
                    return self.cast(out, u.dtype, dtype)
        return None

    def source_dtype(self, r):
        return self.source_value(r).dtype

    def source_value(self, r):
        return self.param_arrays[r[1]] if r[0] == "param" else self.ref.value(r)

    def reduce(self, op, x, axes, keepdims):
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op, [x], keepdims=keep)
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.ints(list(axes))], keepdims=keep)
        return self.node(op, [x], axes=list(axes), keepdims=keep)

    def setting(self, i, key, default=None):
        """A setting of step i that must be the same in every run."""
        values = [t.steps[i].settings.get(key, default) for t in self.traces]
        if not all(_same(values[0], v) for v in values[1:]):
            raise self.batch_error(f"{self.ref.steps[i].name}'s setting {key}",
                                   f"{values[0]!r} at batch {self.batches[0]}")
        return values[0]


# ------------------------------------------------------------------------------ translations ----
def _translate(b: _Builder, i: int) -> str:
    """Write step i of the reference run; returns the ONNX name of its output."""
    step = b.ref.steps[i]
    name, out = step.name, step.out.data
    dtype = out.dtype

    def args(dt=dtype, which=None):
        return [b.operand(i, j, dt) for j in (range(len(step.refs)) if which is None else which)]

    if name in _ELEMENTWISE:
        return b.node(_ELEMENTWISE[name], args())
    if name == "Cast":
        src = b.source_dtype(step.refs[0]) if step.refs[0][0] != "const" else dtype
        return b.cast(args(src)[0], src, dtype) if src != dtype else b.node("Identity", args())
    if name == "LogSoftmax":
        return b.node("LogSoftmax", args(), axis=int(b.setting(i, "axis", -1)))
    if name == "Where":
        return b.node("Where", [b.operand(i, 0, np.bool_), *args(which=(1, 2))])
    if name in ("Sum", "Max"):
        axis = b.setting(i, "axis")
        ndim = b.ref.value(step.refs[0]).ndim if step.refs[0][0] != "param" else None
        axes = None if axis is None else _axes(axis, ndim if ndim is not None else out.ndim)
        return b.reduce("ReduceSum" if name == "Sum" else "ReduceMax", args()[0], axes,
                        b.setting(i, "keepdims", False))
    if name == "Reshape":
        shape = b.shape([t.steps[i].settings["shape"] for t in b.traces], "a Reshape")
        return b.node("Reshape", [args()[0], shape])
    if name == "Permute":
        return b.node("Transpose", args(), perm=[int(a) for a in b.setting(i, "axes")])
    if name == "Expand":
        shape = b.shape([t.steps[i].settings["shape"] for t in b.traces], "an Expand")
        return b.node("Expand", [args()[0], shape])
    if name == "Concatenate":
        return b.node("Concat", args(), axis=int(b.setting(i, "axis", 0)))
    if name == "Pad":
        widths = b.setting(i, "pad_width")
        pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
        value = b.initializer(np.asarray(b.setting(i, "value", 0.0)).astype(dtype))
        return b.node("Pad", [args()[0], b.ints(pads), value], mode="constant")
    if name == "MatMul":
        return _matmul(b, i, args())
    if name == "GetItem":
        return _getitem(b, i, args()[0], b.source_value(step.refs[0]).shape)
    if name == "SlidingWindow":
        return _sliding_window(b, i, args()[0], b.source_value(step.refs[0]).shape)
    if name == "Conv2d":  # ONNX's Conv is the same cross-correlation (one group, zero padding)
        (ph, pw) = b.setting(i, "padding")
        return b.node("Conv", args(), strides=[int(v) for v in b.setting(i, "stride")],
                      pads=[int(ph), int(pw), int(ph), int(pw)],
                      dilations=[int(v) for v in b.setting(i, "dilation")], group=1)
    raise ExportError(f"the op {name} (op {i} of {len(b.ref.steps)}) has no ONNX translation here "
                      "(supported: " + ", ".join(sorted(SUPPORTED_OPS)) + ")")


SUPPORTED_OPS = frozenset(_ELEMENTWISE) | {
    "Cast", "LogSoftmax", "Where", "Sum", "Max", "Reshape", "Permute", "Expand", "Concatenate",
    "Pad", "MatMul", "GetItem", "SlidingWindow", "Conv2d"}


def _axes(axis, ndim):
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return tuple(int(a) % max(ndim, 1) for a in axes)


def _matmul(b, i, names):
    step = b.ref.steps[i]
    ta, tb = (bool(b.setting(i, k, False)) for k in ("transpose_a", "transpose_b"))
    x, y = (b.source_value(r) for r in step.refs[:2])
    bias = b.source_value(step.refs[2]) if len(names) == 3 else None
    if x.ndim == 2 and y.ndim == 2 and (bias is None or bias.ndim <= 2):
        return b.node("Gemm", names, transA=int(ta), transB=int(tb))  # Linear's x @ W.T + b: one node
    a, w = names[0], names[1]
    if ta:
        a = b.node("Transpose", [a], perm=[*range(x.ndim - 2), x.ndim - 1, x.ndim - 2])
    if tb:
        w = b.node("Transpose", [w], perm=[*range(y.ndim - 2), y.ndim - 1, y.ndim - 2])
    out = b.node("MatMul", [a, w])
    return b.node("Add", [out, names[2]]) if bias is not None else out


def _getitem(b, i, x, shape):
    index = b.setting(i, "index")
    items = list(index) if isinstance(index, tuple) else [index]
    arrays = [k for k, it in enumerate(items) if isinstance(it, (np.ndarray, list, Tensor))]
    consumed = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in [it if it is Ellipsis else None for it in items]:
        at = next(k for k, it in enumerate(items) if it is Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - consumed)
    items += [slice(None)] * (len(shape) - sum(1 for it in items if it is not None))
    if arrays:
        idx = np.asarray(items[arrays[0]].data if isinstance(items[arrays[0]], Tensor) else items[arrays[0]])
        others = [it for k, it in enumerate(items) if k != arrays[0]]
        if (len(arrays) > 1 or idx.dtype.kind not in "iu"
                or any(not (isinstance(it, slice) and it == slice(None)) for it in others)):
            raise ExportError(f"GetItem (op {i}) with index {index!r}: only basic indexing (ints, "
                              "slices, None, ...) or one integer array with full slices elsewhere "
                              "can be exported")
        return b.node("Gather", [x, b.initializer(idx.astype(np.int64), "indices")], axis=arrays[0])
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for it in items:
        if it is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(it, slice):
            if it != slice(None):
                step = 1 if it.step is None else int(it.step)
                lo = (0 if step > 0 else _INT64_MAX) if it.start is None else int(it.start)
                hi = (_INT64_MAX if step > 0 else _INT64_MIN) if it.stop is None else int(it.stop)
                starts.append(lo), ends.append(hi), axes.append(axis), steps.append(step)
            out_axis += 1
        else:  # an integer: a slice of one, then squeezed away
            k = int(it)
            starts.append(k), ends.append(k + 1 if k != -1 else _INT64_MAX)
            axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    if axes:
        x = b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        x = b.node("Squeeze", [x, b.ints(squeeze)])
    if unsqueeze:
        x = b.node("Unsqueeze", [x, b.ints(unsqueeze)])
    return x if (axes or squeeze or unsqueeze) else b.node("Identity", [x])


def _sliding_window(b, i, x, shape):
    """(..., H, W) -> (..., out_h, out_w, kh, kw) as one Gather from the flattened H*W plane."""
    (kh, kw), (sh, sw) = (tuple(int(v) for v in b.setting(i, k)) for k in ("window", "stride"))
    dh, dw = (int(v) for v in b.setting(i, "dilation", (1, 1)))
    h, w = shape[-2:]
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    rows = (np.arange(oh) * sh)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None]
    cols = (np.arange(ow) * sw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :]
    flat = b.node("Reshape", [x, b.ints([0] * (len(shape) - 2) + [h * w])])
    return b.node("Gather", [flat, b.initializer((rows * w + cols).astype(np.int64), "windows")],
                  axis=len(shape) - 2)


# ------------------------------------------------------------------------------------- export ----
def export(model, example_input, path, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_batch: bool = True,
           opset: int = 17):
    """Write `model` as an ONNX file at `path`, traced on `example_input`; returns the ModelProto.

    `example_input` is a Tensor or array (or a tuple of them, one per argument of forward); with
    `dynamic_batch` the first dimension of every input and output is the symbolic `batch`. The
    model runs in eval mode (dropout off, batch norm's running statistics); each sub-module is
    put back in the mode it was in. Parameters are stored as initializers under their
    `named_parameters()` names.

    >>> import os, tempfile
    >>> from tinygrad_lite import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
    >>> proto = export(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), Tensor.zeros(2, 4), path)
    >>> [n.op_type for n in proto.graph.node]
    ['Gemm', 'Relu']
    """
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError:
        raise ImportError('tinygrad_lite.onnx.export needs the onnx package: pip install '
                          '"tinygrad-lite[onnx]" (or pip install onnx onnxruntime)') from None
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"opset {opset} is not supported: use {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} (the installed onnx's newest)")
    arrays = _example_arrays(example_input, dynamic_batch)
    input_names = _names(input_names, len(arrays), "input")
    params = {id(p): name for name, p in model.named_parameters()}
    param_arrays = {name: p.data for name, p in model.named_parameters()}
    frozen = [p for p in model.parameters() if not p.requires_grad]
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    for p in frozen:
        p.requires_grad = True  # NOTE: so the ops on frozen parameters are recorded too
    try:
        rng = np.random.default_rng(0)
        batch = arrays[0].shape[0] if arrays[0].ndim else 0
        runs = [arrays, _random_like(arrays, rng, batch), _random_like(arrays, rng, batch)]
        if dynamic_batch:
            runs += [_random_like(arrays, rng, batch + 1), _random_like(arrays, rng, batch + 3)]
        traces = [_Trace(model, run, params) for run in runs]
    finally:
        for p in frozen:
            p.requires_grad = False
        for m, mode in modes:
            object.__setattr__(m, "training", mode)  # NOTE: as Module.train sets it, per module
    signature = traces[0].signature()
    for t in traces[1:]:
        if t.signature() != signature:
            raise ExportError("the model recorded different ops on different inputs (control flow "
                              "that depends on the input's values or batch size): it cannot be "
                              "written as one ONNX graph" +
                              ("; try dynamic_batch=False" if dynamic_batch else ""))
    output_names = _names(output_names, len(traces[0].outputs), "output")

    clash = set(input_names + output_names) & set(param_arrays)
    if clash:
        raise ValueError(f"input/output name(s) {sorted(clash)} are also parameter names; choose others")
    b = _Builder(onnx, traces, input_names, opset, param_arrays)
    b.names.update(output_names)
    for i in range(len(traces[0].steps)):
        b.values[("step", i)] = _translate(b, i)
    graph_outputs = []
    for k, (r, name) in enumerate(zip(traces[0].outputs, output_names)):
        array = traces[0].output_arrays[k]
        if r[0] == "input":
            source = input_names[r[1]]
        elif r[0] == "step":
            source = b.values[("step", r[1])]
        elif r[0] == "param":
            source = b.param(r[1])
        else:
            source = b.initializer(array)
        b.output(source, name)
        graph_outputs.append(_value_info(onnx, name, array.dtype,
                                         [np.shape(t.output_arrays[k]) for t in traces], b.batches))
    graph_inputs = [_value_info(onnx, name, a.dtype, [np.shape(t.inputs[k].data) for t in traces],
                                b.batches) for k, (name, a) in enumerate(zip(input_names, arrays))]
    graph = onnx.helper.make_graph(b.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                   initializer=b.initializers)
    from . import __version__
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="tinygrad_lite",
                                   producer_version=__version__)
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto)
    from .safetensors_io import atomic_write
    atomic_write(Path(path), proto.SerializeToString())
    return proto


def _example_arrays(example_input, dynamic_batch):
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    if not items:
        raise ValueError("export needs at least one example input")
    arrays = []
    for x in items:
        a = x.data if isinstance(x, Tensor) else np.asarray(x)
        if a.dtype.kind != "f":
            raise ExportError(f"example input of dtype {a.dtype}: export traces floating-point "
                              "inputs only (integer inputs such as token ids are not supported yet)")
        if dynamic_batch and a.ndim == 0:
            raise ValueError("dynamic_batch needs inputs with a batch dimension (axis 0); this one is "
                             "0-d: pass dynamic_batch=False")
        arrays.append(np.array(a))
    if dynamic_batch and len({a.shape[0] for a in arrays}) != 1:
        raise ValueError(f"dynamic_batch: the inputs' first dimensions differ "
                         f"({[a.shape[0] for a in arrays]}); they must all be the batch size")
    return arrays


def _random_like(arrays, rng, batch):
    out = []
    for a in arrays:
        shape = (batch, *a.shape[1:]) if a.ndim else ()
        scale = float(a.std()) if a.size and np.isfinite(a).all() and a.std() > 0 else 1.0
        center = float(a.mean()) if a.size and np.isfinite(a).all() else 0.0
        out.append((rng.standard_normal(shape) * scale + center).astype(a.dtype))
    return out


def _names(names, n, base):
    if names is None:
        return [base] if n == 1 else [f"{base}{k}" for k in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n or not all(isinstance(s, str) and s for s in names):
        raise ValueError(f"expected {n} distinct {base} name(s), got {names!r}")
    return names


def _value_info(onnx, name, dtype, shapes, batches):
    dims = []
    for k, sizes in enumerate(zip(*shapes)):
        if len(set(sizes)) == 1:
            dims.append(int(sizes[0]))
        else:
            dims.append("batch" if list(sizes) == list(batches) else f"{name}_dim{k}")
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(dtype), dims)
