"""The autograd engine: Function/Context, grad mode, the iterative backward pass, unbroadcast.

This file imports nothing from the package. It knows tensors only through `Node`, the graph-node base
class that `Tensor` extends; new tensors are made with `node._from_op(array, ctx)`, which `tensor.py`
provides, so the engine never has to reach "up" for the Tensor class.
"""

from __future__ import annotations

import functools
import traceback

import numpy as np


# ------------------------------------------------------------------------------------------ state ----
class _State:
    """Process-wide autograd switches (one object, so hot paths read one global)."""

    __slots__ = ("grad_enabled", "anomaly", "scope")

    def __init__(self):
        self.grad_enabled = True  # record graphs?
        self.anomaly = False  # check every forward/backward for NaN/inf?
        self.scope = None  # tuple of the Modules running now, outermost first (for graph drawing)


STATE = _State()


class _GradMode:
    """Context manager and decorator that sets grad recording on or off for its duration."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._prev = []

    def __enter__(self):
        self._prev.append(STATE.grad_enabled)
        STATE.grad_enabled = self._enabled
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)(self._enabled):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Turn graph recording off: `with no_grad(): ...` or `@no_grad()`."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Turn graph recording back on inside a `no_grad` block."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):  # noqa: N801 (PyTorch's name)
    """Set graph recording on or off: `with set_grad_enabled(False): ...`."""


def is_grad_enabled() -> bool:
    """True while operations are being recorded for backward."""
    return STATE.grad_enabled


class detect_anomaly:  # noqa: N801 (PyTorch's name)
    """Raise at the first op whose forward or backward produces NaN or inf, naming the op and where
    it was created. Opt-in because it checks every array (slow). Context manager and decorator."""

    def __init__(self, enabled: bool = True):
        self._enabled = enabled
        self._prev = []

    def __enter__(self):
        self._prev.append(STATE.anomaly)
        STATE.anomaly = self._enabled
        return self

    def __exit__(self, *exc):
        STATE.anomaly = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self._enabled):
                return fn(*args, **kwargs)

        return wrapper


class AnomalyError(RuntimeError):
    """Raised under `detect_anomaly()` when an op produces NaN or inf."""


class module_scope:  # noqa: N801
    """Tag the ops recorded inside with the objects entered so far (outermost first). nn.Module
    enters one per call, so a drawing of the graph can box each module's ops together."""

    __slots__ = ("_owner", "_prev")

    def __init__(self, owner):
        self._owner = owner

    def __enter__(self):
        self._prev = STATE.scope
        STATE.scope = (self._owner,) if self._prev is None else self._prev + (self._owner,)
        return self

    def __exit__(self, *exc):
        STATE.scope = self._prev
        return False


# ------------------------------------------------------------------------------------------- node ----
class Node:
    """What the engine needs of a tensor: its array, gradient, flags and the op that made it."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "_retains_grad", "__weakref__")

    def _from_op(self, data, ctx):  # provided by Tensor: wrap an op's output array
        raise NotImplementedError


# --------------------------------------------------------------------------------------- Function ----
class Function:
    """Base of every primitive. Subclasses write two static methods:

    - `forward(ctx, *arrays, **settings)`: numpy arrays (or Python scalars) in, one array out;
    - `backward(ctx, grad)`: Tensors in, one gradient Tensor (or None) per input out, written with
      Tensor operations so that gradients of gradients work.

    Call an op with `MyOp.apply(*inputs, **settings)`; inputs may be Tensors, arrays or scalars. The
    instance is the `ctx`: it holds `inputs` (what apply got), `needs_input_grad`, the keyword
    settings in `settings`, and anything forward stores on it (`ctx.save_for_backward(...)` or plain
    attributes).
    """

    # NOTE: no __slots__ here so user Functions and primitives can stash anything on ctx.

    def save_for_backward(self, *values):
        """Keep values (arrays or Tensors) for backward; read them back as `ctx.saved_tensors`."""
        self.saved_tensors = values

    @staticmethod
    def forward(ctx, *args, **settings):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **settings):
        """Run forward on the inputs' arrays and, if any input needs a gradient, record the op."""
        arrays = [x.data if isinstance(x, Node) else x for x in inputs]
        ctx = cls.__new__(cls)
        ctx.settings = settings
        out = cls.forward(ctx, *arrays, **settings)
        if STATE.anomaly:
            _check_finite(out, cls.__name__, "forward", None)
        if STATE.grad_enabled:
            needs = tuple(isinstance(x, Node) and x.requires_grad for x in inputs)
            if True in needs:
                ctx.inputs = inputs
                ctx.needs_input_grad = needs
                ctx.versions = tuple(x._version if isinstance(x, Node) else 0 for x in inputs)
                ctx.scope = STATE.scope
                ctx.released = False
                if STATE.anomaly:
                    ctx.created_at = "".join(traceback.format_stack(limit=8)[:-1])
                node = next(x for x in inputs if isinstance(x, Node))
                return node._from_op(out, ctx)
        node = next(x for x in inputs if isinstance(x, Node))
        return node._from_op(out, None)

    @property
    def name(self) -> str:
        """The op's name as shown in graphs and errors, e.g. `Mul`."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


def _check_finite(array, op_name, phase, ctx):
    a = np.asarray(array)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        where = getattr(ctx, "created_at", None) if ctx is not None else None
        bad = "NaN" if np.isnan(a).any() else "inf"
        msg = f"detect_anomaly: {op_name} {phase} produced {bad} (output shape {a.shape})."
        if where:
            msg += f"\nThe op was created at:\n{where}"
        raise AnomalyError(msg)


# ------------------------------------------------------------------------------------------ engine ----
def toposort(roots):
    """Every tensor reachable from `roots` through recorded ops, inputs before the ops that use them
    (so walking the list backwards visits each node after all its consumers). Iterative: a graph of
    any depth works without touching Python's recursion limit."""
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:  # all of node's inputs are in `order` already
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is None:
            continue
        if ctx.released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or to use tensors after "
                "the graph was freed). The saved intermediate values are released after "
                "backward(); pass retain_graph=True to the first backward() (or grad()) if you "
                "need to backward through the graph again."
            )
        for inp, needs in zip(ctx.inputs, ctx.needs_input_grad):
            if needs and id(inp) not in visited:
                stack.append((inp, False))
    return order


def unbroadcast(grad, shape, op_name):
    """Sum `grad` back to `shape` (undo numpy broadcasting); the one place this happens."""
    gshape = grad.shape
    if gshape == shape:
        return grad
    extra = len(gshape) - len(shape)
    if extra >= 0:
        axes = tuple(range(extra)) + tuple(
            i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1
        )
        if axes:
            grad = grad.sum(axis=axes, keepdims=True)
        if extra:
            grad = grad.reshape(shape)
    if grad.shape != shape:
        raise RuntimeError(
            f"{op_name}.backward returned a gradient of shape {gshape} for an input of shape "
            f"{shape}; it cannot be summed back to the input's shape. Fix {op_name}.backward."
        )
    return grad


def _fresh(grad, handed):
    """The gradient as an array nobody else holds (copies views, shared and read-only arrays)."""
    data = grad.data
    if id(data) in handed or not data.flags.owndata or not data.flags.writeable:
        return grad._from_op(data.copy(), None)
    handed.add(id(data))
    return grad


def run_backward(roots, root_grads, *, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Reverse-mode pass from `roots` seeded with `root_grads` (Tensors shaped like the roots).

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires grad (and of
    non-leaves that called `retain_grad()`). With `inputs`, nothing is accumulated: the gradients with
    respect to those tensors are returned in order (None, or an error, where unused).
    """
    order = toposort(roots)
    grads = {}
    handed = set()  # ids of arrays already given out, so no two .grad share one array
    for root, g in zip(roots, root_grads):
        handed.add(id(g.data))
        grads[id(root)] = grads[id(root)] + g if id(root) in grads else g
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    captured = [None] * (len(inputs) if inputs is not None else 0)
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if wanted is not None:
                if id(node) in wanted:
                    captured[wanted[id(node)]] = g
            elif ctx is None or node._retains_grad:
                if node.grad is None:
                    node.grad = _fresh(g, handed) if not create_graph else g
                else:
                    node.grad = node.grad + g
            if ctx is None:
                continue
            _check_versions(ctx)
            in_grads = ctx.backward(ctx, g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if STATE.anomaly:
                for ig in in_grads:
                    if ig is not None:
                        _check_finite(ig.data, ctx.name, "backward", ctx)
            for inp, needs, ig in zip(ctx.inputs, ctx.needs_input_grad, in_grads):
                if not needs or ig is None:
                    continue
                if not isinstance(ig, Node):
                    raise TypeError(f"{ctx.name}.backward must return Tensors (or None), got {type(ig)}")
                ig = unbroadcast(ig, inp.data.shape, ctx.name)
                if ig.data.dtype != inp.data.dtype:  # e.g. float32 input used with a float64 one
                    ig = ig.astype(inp.data.dtype)
                key = id(inp)
                grads[key] = grads[key] + ig if key in grads else ig
            if not retain_graph:
                _release(ctx)
    finally:
        STATE.grad_enabled = prev_mode
    if inputs is not None:
        for i, t in enumerate(inputs):
            if captured[i] is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated tensors (input {i}, shape {t.shape}) does not "
                    "appear in the graph of the outputs. Pass allow_unused=True to get None for it."
                )
        return captured
    return None


def _check_versions(ctx):
    for inp, v in zip(ctx.inputs, ctx.versions):
        if isinstance(inp, Node) and inp._version != v:
            raise RuntimeError(
                f"One of the tensors needed by {ctx.name}.backward (shape {inp.shape}) was modified "
                f"by an in-place operation after {ctx.name} used it (version {v}, now "
                f"{inp._version}), so its gradient would be wrong. Use an out-of-place operation "
                "(x = x + y instead of x += y) or clone the tensor before modifying it."
            )


def _release(ctx):
    """Drop what the op saved for backward, so the graph's memory is freed right away."""
    ctx.released = True
    ctx.inputs = ()
    ctx.needs_input_grad = ()
    ctx.__dict__.pop("saved_tensors", None)
    for k in [k for k, v in ctx.__dict__.items() if isinstance(v, (np.ndarray, Node))]:
        del ctx.__dict__[k]
