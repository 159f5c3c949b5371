"""The autograd engine: Function/Context, grad mode, the iterative backward pass, unbroadcast.

This file imports nothing from the package. It knows tensors only through `Node`, the graph-node base
class that `Tensor` extends; new tensors are made with `node._from_op(array, ctx)`, which `tensor.py`
provides, so the engine never has to reach "up" for the Tensor class.
"""

from __future__ import annotations

import functools
import itertools
import os
import traceback
import weakref
from heapq import heappop, heappush

import numpy as np


# ------------------------------------------------------------------------------------------ state ----
class _State:
    """Process-wide autograd switches (one object, so hot paths read one global)."""

    __slots__ = ("grad_enabled", "anomaly", "scope", "epoch", "backward_of", "keep_graphs")

    def __init__(self):
        self.grad_enabled = True  # record graphs?
        self.epoch = 0  # bumped by every in-place change of a tensor (see Node._version)
        self.anomaly = False  # check every forward/backward for NaN/inf?
        self.backward_of = None  # under detect_anomaly: the op whose backward is running
        self.keep_graphs = False  # under keep_graphs(): every backward acts as retain_graph=True
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
            with _GradMode(self._enabled):
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


class keep_graphs:  # noqa: N801
    """Make every backward inside act as if retain_graph=True. Newton's method runs the user's
    closure under it, so a closure that calls loss.backward() (PyTorch's habit) leaves the graph
    for Newton to differentiate twice."""

    def __enter__(self):
        self._prev, STATE.keep_graphs = STATE.keep_graphs, True
        return self

    def __exit__(self, *exc):
        STATE.keep_graphs = self._prev
        return False


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


_SEQUENCE = itertools.count(1)  # creation order of recorded ops (the engine's priority)


# ------------------------------------------------------------------------------------------- node ----
class Node:
    """What the engine needs of a tensor: its array, gradient, flags and the op that made it.

    `_version` is the value of STATE.epoch when the tensor was last changed in place (0: never). An
    op records the epoch it was created in, so backward can tell, with one comparison in the common
    case, whether any of its inputs changed after it used them.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "_retains_grad", "__weakref__")

    def _from_op(self, data, ctx):  # provided by Tensor: wrap an op's output array
        raise NotImplementedError


# --------------------------------------------------------------------------------------- Function ----
class Function:
    """Base of every primitive. Subclasses write two static methods:

    - `forward(ctx, *arrays, **settings)`: numpy arrays (or Python scalars) in, one array out;
    - `backward(ctx, grad)`: Tensors in, one gradient Tensor (or None) per input out, written with
      Tensor operations so that gradients of gradients work.

    Call an op with `MyOp.apply(*inputs, **settings)`; inputs may be Tensors, arrays or scalars
    (with no Tensor among them, apply just returns forward's array: there is nothing to record). The
    instance is the `ctx`: it holds `inputs` (what apply got), `needs_input_grad`, the keyword
    settings in `settings`, and anything forward stores on it (`ctx.save_for_backward(...)` or plain
    attributes).
    """

    # NOTE: no __slots__ here so user Functions and primitives can stash anything on ctx.

    # True when backward also works on plain ndarrays (grad and inputs as arrays, results as
    # arrays): the built-in primitives do, so a backward pass that records nothing runs as plain
    # numpy. A user Function keeps the default and always gets Tensors.
    array_backward = False

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
        # NOTE: this is the hottest function of the library (every op of every step runs it), hence
        # one plain loop instead of several comprehensions.
        arrays = []
        needs = []
        first = None
        for x in inputs:
            if isinstance(x, Node):
                arrays.append(x.data)
                needs.append(x.requires_grad)
                if first is None:
                    first = x
            else:
                arrays.append(x)
                needs.append(False)
        ctx = cls.__new__(cls)
        ctx.settings = settings
        if first is None:  # only arrays: just compute (how backward passes run without recording)
            out = cls.forward(ctx, *arrays, **settings) if settings else cls.forward(ctx, *arrays)
            return out if type(out) is np.ndarray else np.asarray(out)
        try:
            out = cls.forward(ctx, *arrays, **settings) if settings else cls.forward(ctx, *arrays)
        except ValueError as e:
            if "could not be broadcast" not in str(e):
                raise
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(
                f"{cls.__name__}: shapes {shapes} cannot be broadcast together (numpy rules: "
                "aligned from the right, each pair of dimensions must be equal or one of them 1)"
            ) from None
        if STATE.anomaly:
            running = STATE.backward_of  # an op inside a backward: blame that backward
            if running is None:
                _check_finite(out, cls.__name__, "forward", None)
            else:
                _check_finite(out, running.name, f"backward (in its {cls.__name__})", running)
        if not (STATE.grad_enabled and True in needs):
            return first._from_op(out, None)
        ctx.inputs = inputs
        ctx.needs_input_grad = needs
        ctx.epoch = STATE.epoch
        ctx.seq = next(_SEQUENCE)
        ctx.scope = STATE.scope
        ctx.released = False
        if STATE.anomaly:
            ctx.created_at = _user_stack()
        return first._from_op(out, ctx)

    @property
    def name(self) -> str:
        """The op's name as shown in graphs and errors, e.g. `Mul`."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stack(limit=6):
    """The innermost frames outside this package: where the user's code created an op."""
    frames = [f for f in traceback.extract_stack()[:-2] if not f.filename.startswith(_PACKAGE_DIR)]
    return "".join(traceback.format_list(frames[-limit:]))


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
            raise RuntimeError(_SECOND_BACKWARD)
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
        ones = tuple(i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1)
        if ones:
            grad = grad.sum(axis=tuple(range(extra)) + ones, keepdims=True)
            if extra:
                grad = grad.reshape(shape)
        elif extra:  # only new leading axes (a bias added to a batch): one plain sum
            grad = grad.sum(axis=tuple(range(extra)))
    if grad.shape != shape:
        raise RuntimeError(
            f"{op_name}.backward returned a gradient of shape {gshape} for an input of shape "
            f"{shape}; it cannot be summed back to the input's shape. Fix {op_name}.backward."
        )
    return grad


def _fresh(data, handed):
    """`data` as an array no other .grad shares: copied only if its memory was handed out already
    (the same array, or a view of it, given to another tensor) or is read-only (a broadcast view, a
    cached seed, a numpy scalar). Views of a fresh temporary are handed out as they are."""
    owner = getattr(data, "base", None)
    owner = data if owner is None else owner  # numpy points .base at the memory's owner
    if id(owner) in handed or id(data) in handed or not data.flags.writeable:
        return np.array(data, copy=True)
    handed.add(id(owner))
    handed.add(id(data))
    return data


_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or to use tensors after the graph was "
    "freed). The saved intermediate values are released after backward(); pass retain_graph=True "
    "to the first backward() (or grad()) if you need to backward through the graph again."
)


def run_backward(roots, root_grads, *, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Reverse-mode pass from `roots` seeded with `root_grads` (Tensors shaped like the roots).

    With `inputs=None`, gradients accumulate into the `.grad` of every leaf that requires grad (and of
    non-leaves that called `retain_grad()`). With `inputs`, nothing is accumulated: the gradients with
    respect to those tensors are returned in order (None, or an error, where unused).

    NOTE: no separate topological sort. Every recorded op carries a sequence number that grows with
    creation, and an op's inputs are always older than it, so processing ops from a max-heap on that
    number visits each op after all of its consumers (PyTorch orders its engine the same way). Leaf
    gradients are summed as they arrive. One pass, iterative, any depth.

    NOTE: without create_graph nothing is recorded, so gradients travel between ops as plain
    ndarrays: the built-in primitives' backward (Tensor-op code, which works on arrays too) then
    runs as plain numpy, with no Tensor objects for intermediate gradients. Functions that do not
    declare `array_backward` (user-defined ones) still get and return Tensors.
    """
    retain_graph = retain_graph or STATE.keep_graphs
    arrays = not create_graph
    wrap = roots[0]._from_op  # makes Tensors (for .grad, grad()'s results, user Functions)
    pending = {}  # id(tensor) -> gradient summed so far, for ops waiting in the heap
    heap = []
    handed = set()  # ids of arrays given to a .grad (and the seeds): no two .grad share one
    for g in root_grads:
        handed.add(id(g.data))
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    captured = [None] * (len(inputs) if inputs is not None else 0)
    epoch = STATE.epoch
    anomaly = STATE.anomaly
    push, pop = heappush, heappop
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        # the roots' gradients arrive "from outside"; after that, every op hands its inputs theirs
        arrivals = [(root, g.data if arrays else g) for root, g in zip(roots, root_grads)]
        while True:
            for node, g in arrivals:
                ctx = node._ctx
                if wanted is not None:
                    i = wanted.get(id(node))
                    if i is not None:
                        captured[i] = g if captured[i] is None else captured[i] + g
                elif ctx is None:  # a leaf: sum straight into .grad
                    _accumulate(node, g, handed, arrays, wrap)
                if ctx is None:
                    continue
                key = id(node)
                prev = pending.get(key)
                if prev is None:
                    if ctx.released:
                        raise RuntimeError(_SECOND_BACKWARD)
                    pending[key] = g
                    push(heap, (-ctx.seq, key, node))
                else:
                    pending[key] = prev + g
            if not heap:
                break
            _, key, node = pop(heap)
            g = pending.pop(key)
            ctx = node._ctx
            if node._retains_grad and wanted is None:
                _accumulate(node, g, handed, arrays, wrap)
            if ctx.epoch != epoch:  # something was modified in place since this op ran
                _resolve_inplace(ctx)
            as_tensors = arrays and not ctx.array_backward
            if as_tensors:  # a user Function: Tensors in, Tensors out
                g = wrap(xp_asarray(g), None)
            if anomaly:
                STATE.backward_of = ctx
                try:
                    in_grads = ctx.backward(ctx, g)
                finally:
                    STATE.backward_of = None
            else:
                in_grads = ctx.backward(ctx, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            arrivals = []
            for inp, needs, ig in zip(ctx.inputs, ctx.needs_input_grad, in_grads):
                if not needs or ig is None:
                    continue
                if isinstance(ig, Node):
                    if arrays:
                        ig = ig.data
                elif arrays and isinstance(ig, (np.ndarray, np.generic)) and not as_tensors:
                    pass
                else:
                    raise TypeError(f"{ctx.name}.backward must return Tensors (or None), got {type(ig)}")
                if anomaly:
                    _check_finite(ig.data if isinstance(ig, Node) else ig, ctx.name, "backward", ctx)
                data = inp.data
                if ig.shape != data.shape:
                    ig = unbroadcast(ig, data.shape, ctx.name)
                if ig.dtype != data.dtype:  # e.g. a float32 input used with a float64 one
                    ig = ig.astype(data.dtype)
                arrivals.append((inp, ig))
            if not retain_graph:  # free what the op saved: the graph's memory goes right away
                ctx.__dict__.clear()
                ctx.released = True
    finally:
        STATE.grad_enabled = prev_mode
    if inputs is not None:
        for i, t in enumerate(inputs):
            if captured[i] is None:
                if not allow_unused:
                    raise RuntimeError(
                        f"One of the differentiated tensors (input {i}, shape {t.shape}) does not "
                        "appear in the graph of the outputs. Pass allow_unused=True to get None for it."
                    )
            elif arrays:
                captured[i] = wrap(_fresh(xp_asarray(captured[i]), handed), None)
        return captured
    return None


def xp_asarray(a):
    """A gradient as an ndarray (array-mode arithmetic on 0-d arrays gives numpy scalars)."""
    return a if type(a) is np.ndarray else np.asarray(a)


def _accumulate(node, g, handed, arrays, wrap):
    """Add g into node.grad (a fresh array the first time, so no two .grad share memory)."""
    grad = node.grad
    if not arrays:  # create_graph: g is a Tensor in the new graph
        node.grad = g if grad is None else grad + g
    elif grad is None:
        node.grad = wrap(_fresh(xp_asarray(g), handed), None)
    elif grad.requires_grad:  # a differentiable .grad from an earlier create_graph pass
        node.grad = grad + wrap(xp_asarray(g), None)
    else:
        grad.data = grad.data + g  # NOTE: the common case: a plain numpy add


# In-place changes. Tensor's in-place operations never write into an existing array: they compute
# the new value out of place and rebind the tensor to it. When that happens to a tensor inside a
# recorded graph, a snapshot (a Tensor holding the old array and the old op) is kept here, so an op
# recorded earlier still sees exactly the value and the graph position it used.
# Keyed by id(tensor); a finalizer drops the entry when the tensor dies. (Not a WeakKeyDictionary:
# that compares keys with ==, which is elementwise for tensors.)
_SNAPSHOTS: dict = {}


def mark_modified(node, snapshot=None):
    """Record that `node` was changed in place; `snapshot` (a Tensor with its previous array and
    op) lets earlier ops keep backpropagating correctly through the old value."""
    STATE.epoch += 1
    node._version = STATE.epoch
    if snapshot is not None:
        if id(node) not in _SNAPSHOTS:
            _SNAPSHOTS[id(node)] = []
            weakref.finalize(node, _SNAPSHOTS.pop, id(node), None)
        _SNAPSHOTS[id(node)].append((STATE.epoch, snapshot))


def _resolve_inplace(ctx):
    """Point an op's inputs that were changed in place after it ran back at their old states
    (snapshots), or refuse if no snapshot was kept (a change made outside graph recording)."""
    resolved = list(ctx.inputs)
    for i, inp in enumerate(resolved):
        if not isinstance(inp, Node) or inp._version <= ctx.epoch:
            continue
        history = _SNAPSHOTS.get(id(inp), ())
        snapshot = next((snap for when, snap in history if when > ctx.epoch), None)
        if snapshot is None:
            raise RuntimeError(
                f"One of the tensors needed by {ctx.name}.backward (shape {inp.data.shape}) was "
                f"modified in place (under no_grad() or through .data) after {ctx.name} used it, so "
                "its gradient would be wrong. Modify a clone() instead, or do the change before "
                "building the graph."
            )
        resolved[i] = snapshot
    ctx.inputs = tuple(resolved)
