"""The autograd engine: Function (the base of every op), grad mode, versions, the backward pass.

This file imports nothing from the package. It knows tensors only through `Node`, the graph-node base
class that `Tensor` extends; new tensors are made with `node._from_op(array, ctx)`, which `tensor.py`
provides, so the engine never has to reach "up" for the Tensor class.

Read it in this order: the per-thread switches (grad mode, anomaly mode, module scope), `Function`
(how an op records itself and what its backward sees), versions (the one rule for changing a
tensor's values), and `run_backward` (ordering plus accumulation; the rest are named helpers).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import operator
import os
import threading
import traceback
import weakref
from heapq import heappop, heappush

import numpy as np


# ------------------------------------------------------------------------------ per-thread state ----
class _Switches:
    """The autograd switches of one thread (PyTorch keeps them per thread too): one thread's
    `no_grad()` or `backward()` never changes what another thread records."""

    __slots__ = ("grad_enabled", "anomaly", "backward_of", "keep_graphs", "scope", "_recorder")

    def __init__(self):
        self.grad_enabled = True  # record graphs?
        self.anomaly = False  # check every forward/backward for NaN/inf?
        self.backward_of = None  # under detect_anomaly: the op whose backward is running
        self.keep_graphs = False  # under keep_graphs(): every backward acts as retain_graph=True
        self.scope = None  # tuple of the Modules running now, outermost first (for graph drawing)
        self._recorder = None

    @property
    def recorder(self):
        """tg.jit's recorder while it traces a step in this thread (jit.py), else None."""
        return self._recorder

    @recorder.setter
    def recorder(self, value):
        global _TRACING
        with _TRACING_LOCK:
            _TRACING += (value is not None) - (self._recorder is not None)
            self._recorder = value


# NOTE: how many threads are tracing with tg.jit right now. Code that runs for every parameter of
# every step (`.grad = None`, version bumps) reads this global first and looks at its own thread's
# recorder only when some thread traces: a per-thread lookup costs 5x a global's (70 vs 14 ns).
_TRACING = 0
_TRACING_LOCK = threading.Lock()


class _PerThread(threading.local):
    """Holds each thread's `_Switches`. (Every attribute read of a threading.local looks up the
    thread's own dict first, so a function fetches the switches once, `_PER_THREAD.switches`, and
    then reads plain slots.)"""

    def __init__(self):
        self.switches = _Switches()


_PER_THREAD = _PerThread()


class _CurrentSwitches:
    """`STATE`: reads and writes the running thread's switches (`STATE.grad_enabled = False` in one
    thread leaves every other thread's alone)."""

    __slots__ = ()

    def __getattr__(self, name):
        return getattr(_PER_THREAD.switches, name)

    def __setattr__(self, name, value):
        setattr(_PER_THREAD.switches, name, value)


STATE = _CurrentSwitches()


class _Switch:
    """A context manager and decorator that sets one attribute of STATE for its duration (on
    generator functions too: the setting holds whenever the generator's own code runs)."""

    _attribute = ""

    def __init__(self, value):
        self._value = value
        self._prev = []

    def __enter__(self):
        switches = _PER_THREAD.switches
        self._prev.append(getattr(switches, self._attribute))
        setattr(switches, self._attribute, self._value)
        return self

    def __exit__(self, *exc):
        setattr(_PER_THREAD.switches, self._attribute, self._prev.pop())
        return False

    def _fresh(self):
        """A new manager with the same setting (a decorated function may run in several threads
        or recursively at once, so each call gets its own stack of previous values)."""
        clone = type(self).__new__(type(self))
        _Switch.__init__(clone, self._value)
        return clone

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args, **kwargs):
                # NOTE: a generator's body runs at each next(), after the call has returned, so
                # the setting is applied around every resumption, not around the call
                gen = fn(*args, **kwargs)
                try:
                    with self._fresh():
                        request = next(gen)
                    while True:
                        try:
                            response = yield request
                        except GeneratorExit:
                            with self._fresh():
                                gen.close()
                            raise
                        except BaseException as error:
                            with self._fresh():
                                request = gen.throw(error)
                        else:
                            with self._fresh():
                                request = gen.send(response)
                except StopIteration as stop:
                    return stop.value
            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_Switch):  # noqa: N801 (PyTorch's name)
    """Set graph recording on or off in this thread: `with set_grad_enabled(False): ...`."""

    _attribute = "grad_enabled"

    def __init__(self, mode: bool):
        super().__init__(bool(mode))


class no_grad(set_grad_enabled):  # noqa: N801 (PyTorch's name)
    """Turn graph recording off in this thread: `with no_grad(): ...` or `@no_grad()`."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):  # noqa: N801 (PyTorch's name)
    """Turn graph recording back on inside a `no_grad` block."""

    def __init__(self):
        super().__init__(True)


def is_grad_enabled() -> bool:
    """True while this thread's operations are being recorded for backward."""
    return _PER_THREAD.switches.grad_enabled


class detect_anomaly(_Switch):  # noqa: N801 (PyTorch's name)
    """Raise at the first op whose forward or backward produces NaN or inf, naming the op and where
    it was created. Opt-in because it checks every array (slow). Context manager and decorator."""

    _attribute = "anomaly"

    def __init__(self, enabled: bool = True):
        super().__init__(bool(enabled))


class keep_graphs(_Switch):  # noqa: N801
    """Make every backward inside act as if retain_graph=True. Newton's method runs the user's
    closure under it, so a closure that calls loss.backward() (PyTorch's habit) leaves the graph
    for Newton to differentiate twice."""

    _attribute = "keep_graphs"

    def __init__(self):
        super().__init__(True)


def module_call(owner, *args, **kwargs):
    """`owner.forward(*args, **kwargs)`, with the ops it records tagged with `owner` (inside the
    modules running now, outermost first), so a drawing of the graph can box each module's ops
    together. nn.Module uses this function as its `__call__` (so can any class with a `forward`).

    NOTE: used as the method itself, so a layer call is two Python calls (this and forward): with
    a context manager it was five, with an enter/exit pair four (a W1 step's seven module calls
    make 14 calls fewer)."""
    switches = _PER_THREAD.switches
    outer = switches.scope
    switches.scope = (owner,) if outer is None else outer + (owner,)
    try:
        return owner.forward(*args, **kwargs)
    finally:
        switches.scope = outer


class AnomalyError(RuntimeError):
    """Raised under `detect_anomaly()` when an op produces NaN or inf."""


_SEQUENCE = itertools.count(1)  # creation order of recorded ops (the engine's priority)


# ------------------------------------------------------------------------------------------- node ----
class Node:
    """What the engine needs of a tensor: its array, gradient, flags and the op that made it.

    `_version` is the clock value (see `increment_version`) when the tensor's value was last changed
    in place (0: never). An op records the clock when it runs, so backward can tell, with one
    comparison in the common case, whether anything it used changed after it used it.
    """

    __slots__ = ("data", "_grad", "requires_grad", "_ctx", "_version", "_retains_grad", "__weakref__")

    def _from_op(self, data, ctx):  # provided by Tensor: wrap an op's output array
        raise NotImplementedError

    def _set_grad(self, value):
        # NOTE: checked here, where the user assigns, as PyTorch does: `p.grad = 0` (micrograd's
        # habit) or an ndarray would otherwise fail far away, inside the next backward or step()
        if value is not None:
            if not isinstance(value, Node):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}"
                                f"; wrap an array with Tensor(...), or use zero_grad() to clear it")
            if value.data.shape != self.data.shape:
                raise ValueError(f"a tensor of shape {self.data.shape} was assigned a grad of shape "
                                 f"{value.data.shape}; a gradient must have its tensor's shape")
            if value.data.dtype.kind not in "fc":
                raise TypeError(f"assigned grad must be floating point, got dtype {value.data.dtype}")
        self._grad = value
        if _TRACING:  # some thread traces with tg.jit: is it this one? (e.g. zero_grad() in a step)
            recorder = _PER_THREAD.switches.recorder
            if recorder is not None:
                recorder.set_grad(self, value)

    # NOTE: the getter is C-level (no Python frame): every optimizer step reads each .grad
    grad = property(operator.attrgetter("_grad"), _set_grad,
                    doc="The accumulated gradient (a tensor of this tensor's shape), or None.")


def clear_grads(tensors) -> None:
    """Set every tensor's `.grad` to None: `zero_grad()`'s job (nn.Module, optimizers).

    NOTE: one call for all parameters instead of the `.grad` setter's call for each (its checks
    are for values, and None needs none): 1% of a W1 step at batch 10."""
    for t in tensors:
        t._grad = None
    if _TRACING:  # some thread traces with tg.jit: is it this one?
        recorder = _PER_THREAD.switches.recorder
        if recorder is not None:
            for t in tensors:
                recorder.set_grad(t, None)


# --------------------------------------------------------------------------------------- Function ----
class Function:
    """Base of every op: built-in primitives (ops.py) and user-defined ones. Subclasses write two
    static methods:

    - `forward(ctx, *arrays, **settings)`: numpy arrays (or Python scalars) in, one array out; it
      keeps what backward needs with `ctx.save_for_backward(...)` (arrays of its inputs, its
      output, or anything else) and static facts (shapes, axes, masks) as plain ctx attributes;
    - `backward(ctx, grad)`: the gradient of the output in, one gradient (or None) per input out,
      shaped like the output (the engine sums broadcast dimensions back). It is written with
      Tensor operations and reads its values with `ctx.saved_tensors`.

    What backward sees (the one contract): when the backward pass records a graph
    (`create_graph=True`: gradients of gradients), `grad` is a Tensor and `ctx.saved_tensors` gives
    back the saved inputs as the input *Tensors* (and a saved output as the op re-applied to them),
    so the gradient is differentiable again. Otherwise, `grad` and the saved values are whatever
    the op declared with `array_backward`: plain ndarrays for the built-in primitives (their
    Tensor-op code also runs on arrays, so a training step's backward is plain numpy), Tensors
    that record nothing for everyone else (user Functions). Either way, backward's arithmetic is the
    same code.

    Call an op with `MyOp.apply(*inputs, **settings)`; inputs may be Tensors, arrays or scalars
    (with no Tensor among them, apply just returns forward's array: there is nothing to record). The
    instance is the `ctx`: it holds `inputs` (what apply got), `needs_input_grad`, the keyword
    settings in `settings`, and what forward stored.
    """

    # Slots: the fields the engine keeps on every op, declared in one place; and a __dict__, so
    # user Functions and primitives can stash anything else on ctx.
    __slots__ = ("settings", "saved_tensors", "inputs", "needs_input_grad", "edges", "output",
                 "epoch", "seq", "scope", "released", "shape", "dtype", "__dict__")

    # The array fast path, declared once: True on ops.Primitive (see there), False for user ops.
    array_backward = False

    # Whether forward may keep arrays as plain ctx attributes (masks, say) rather than through
    # save_for_backward: the backward that releases the op then drops them with the rest. User
    # Functions may keep anything; ops.Primitive says False, and the primitives that keep masks True.
    # NOTE: clearing the attributes of an op that kept none first makes its attribute dict (an
    # allocation and a free per op): 2% of W4's time.
    arrays_on_ctx = True

    def save_for_backward(self, *values):
        """Keep values (arrays or Tensors) for backward; read them back as `ctx.saved_tensors`.

        NOTE: `saved_tensors` is a plain slot, not a property: a primitive's backward in a pass
        that records nothing reads the arrays straight from it (a property's call per read cost W1
        at batch 10 2% of its instructions). A backward that works on Tensors is handed a copy of
        the op whose slot holds Tensors instead (`_tensor_view`), so the op itself never changes
        and other threads' backward passes through it are unaffected. (The built-in primitives
        assign the slot themselves: a call fewer per op.)"""
        self.saved_tensors = values

    def _as_tensor(self, value):
        """A saved value as a Tensor: an input's array is that input (so gradients of gradients
        reach it), the output's array is the op re-applied to the inputs (recorded, so it is
        differentiable too), anything else a constant."""
        maker = None
        for inp in self.inputs:
            if isinstance(inp, Node):
                if inp.data is value:
                    return inp
                maker = inp
        if isinstance(value, Node) or maker is None:
            return value
        if value is self.output and _PER_THREAD.switches.grad_enabled:
            return type(self).apply(*self.inputs, **self.settings)
        return maker._from_op(value if type(value) is np.ndarray else np.asarray(value), None)

    @staticmethod
    def forward(ctx, *args, **settings):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **settings):
        """Run forward on the inputs' arrays and, if any input needs a gradient, record the op."""
        for first in inputs:  # the first Tensor input (it makes the output Tensor)
            if isinstance(first, Node):
                break
        else:  # only arrays: just compute (how ops run inside a backward pass that records nothing)
            ctx = cls.__new__(cls)
            ctx.settings = settings
            ctx.saved_tensors = ()
            out = cls.forward(ctx, *inputs, **settings) if settings else cls.forward(ctx, *inputs)
            return out if type(out) is np.ndarray else np.asarray(out)
        # NOTE: tg.jit's trace takes over before the op and its lists are made here: it runs the
        # op again inside, and what this frame made would stay alive through the op's own peak
        if _TRACING and _PER_THREAD.switches.recorder is not None:  # it records, then calls back
            return _PER_THREAD.switches.recorder.apply(cls, inputs, settings)
        ctx = cls.__new__(cls)
        ctx.settings = settings
        ctx.saved_tensors = ()  # what forward passes to save_for_backward
        # NOTE: this is the hottest code of the library (every op of every step runs it), hence one
        # plain loop instead of several comprehensions.
        arrays = []
        needs = []
        edges = []  # what the graph keeps of each input once the op is released (see _release)
        for x in inputs:
            if isinstance(x, Node):
                arrays.append(x.data)
                needs.append(x.requires_grad)
                edges.append(x._ctx or x)
            else:
                arrays.append(x)
                needs.append(False)
                edges.append(x)
        state = _PER_THREAD.switches
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
        if state.anomaly:
            running = state.backward_of  # an op inside a backward: blame that backward
            if running is None:
                _check_finite(out, cls.__name__, "forward", None)
            else:
                _check_finite(out, running.name, f"backward (in its {cls.__name__})", running)
        if not (state.grad_enabled and True in needs):
            return first._from_op(out, None)
        ctx.inputs = inputs
        ctx.needs_input_grad = needs
        ctx.edges = edges
        ctx.output = out
        ctx.released = False  # True once a backward freed what the op saved
        ctx.epoch = _CLOCK.now
        ctx.seq = next(_SEQUENCE)
        ctx.scope = state.scope
        if state.anomaly:
            ctx.created_at = _user_stack()
        return first._from_op(out, ctx)

    @property
    def name(self) -> str:
        """The op's name as shown in graphs and errors, e.g. `Mul`."""
        return type(self).__name__

    def parents(self) -> tuple:
        """The op's inputs as it used them (for drawing and export): an input rebound in place
        since is given as its snapshot (its old value and place in the graph). After a backward
        released the op, `GraphInput` stand-ins, which keep the structure but hold no arrays."""
        if self.released:
            return tuple(GraphInput(x) for x in self.inputs)
        if self.epoch != _CLOCK.now:
            _check_versions(self, refuse=False)
        return self.inputs

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


# --------------------------------------------------------------------------------------- versions ----
# The one rule for changing a tensor's values:
#  - Tensor operations never write into an existing array. "In-place" ones (`x += y`, `x[i] = v`)
#    compute the result out of place and rebind the tensor to it; inside a recorded graph the old
#    state is kept as a snapshot, so an op recorded earlier still backpropagates through exactly the
#    value and the graph position it used.
#  - The only writes into existing memory are in-place updates made for speed (optimizer steps),
#    and each is announced with `increment_version(tensor)`. That gives the tensor, and the memory
#    it owns (so `detach()`ed copies and views count), a new version; an op recorded before the
#    write then refuses to backward, naming itself and what to do, as PyTorch does.
#  - Arrays the library hands out (`Tensor.numpy()`, `np.asarray(t)`) are read-only views, so no
#    write can bypass the rule. (`t.data` is the raw array, for the library's own use.)
class _Clock:
    """A process-wide counter of value changes (threads share tensors, so it is not per thread)."""

    __slots__ = ("now", "lock")

    def __init__(self):
        self.now = 0
        self.lock = threading.Lock()

    def tick(self) -> int:
        with self.lock:
            self.now += 1
            return self.now


_CLOCK = _Clock()
_SNAPSHOTS: dict = {}  # id(tensor) -> [(clock, snapshot Tensor)], dropped when the tensor dies
_MEMORY_WRITES: dict = {}  # id(array owning memory) -> clock of its last in-place write
# (keyed by id, with finalizers: a WeakKeyDictionary would compare tensors with ==, elementwise)


def _owner(array):
    """The array that owns `array`'s memory (numpy points a view's .base straight at it)."""
    base = array.base
    return base if type(base) is np.ndarray else array


def mark_modified(node, snapshot=None):
    """Record that `node` was rebound to a new value (tensor.py's in-place operations);
    `snapshot` (a Tensor with its previous array and op) lets earlier ops keep backpropagating."""
    now = _CLOCK.tick()
    node._version = now
    recorder = _PER_THREAD.switches.recorder if _TRACING else None
    if recorder is not None:  # tg.jit is tracing: a rebinding to replay
        recorder.rebound(node)
    if snapshot is not None:
        key = id(node)
        if key not in _SNAPSHOTS:
            _SNAPSHOTS[key] = []
            weakref.finalize(node, _SNAPSHOTS.pop, key, None)
        _SNAPSHOTS[key].append((now, snapshot))


def increment_version(*tensors) -> None:
    """Announce that each tensor's `.data` was written in place (PyTorch's name). Optimizers call
    it after each update; call it after any write of your own into a tensor's array. Ops recorded
    before the write that used the tensor, or any tensor sharing its memory, then refuse to
    backward instead of silently using the new values. (Several tensors written together, such as
    an optimizer's parameter group, take one call and share one new version.)"""
    with _CLOCK.lock:  # (tick, inlined: one per optimizer group and step)
        now = _CLOCK.now = _CLOCK.now + 1
    writes = _MEMORY_WRITES
    for tensor in tensors:
        tensor._version = now
        data = tensor.data
        base = data.base
        owner = base if type(base) is np.ndarray else data  # (_owner, inlined)
        key = id(owner)
        if key not in writes:
            weakref.finalize(owner, writes.pop, key, None)
        writes[key] = now
    if _TRACING:  # some thread traces with tg.jit: is it this one?
        recorder = _PER_THREAD.switches.recorder
        if recorder is not None:  # an optimizer update to replay
            for tensor in tensors:
                recorder.wrote(tensor)


def _check_versions(ctx, refuse=True):
    """Make an op's backward safe after in-place changes: point inputs that were rebound since the
    op ran at their snapshots; refuse if a value the op used was changed with no snapshot kept
    (under no_grad, by load_state_dict, or by an in-place write such as an optimizer step)."""
    resolved = list(ctx.inputs)
    for i, inp in enumerate(resolved):
        if isinstance(inp, Node) and inp._version > ctx.epoch:
            history = _SNAPSHOTS.get(id(inp), ())
            snapshot = next((snap for when, snap in history if when > ctx.epoch), None)
            if snapshot is None:
                if not refuse:
                    continue
                _refuse_stale(ctx, inp.data.shape)
            resolved[i] = snapshot
    ctx.inputs = tuple(resolved)
    if not refuse:
        return
    if _MEMORY_WRITES:
        used = [v for v in ctx.saved_tensors if isinstance(v, np.ndarray)]
        used += [inp.data for inp in resolved if isinstance(inp, Node)]
        for array in used:
            if _MEMORY_WRITES.get(id(_owner(array)), 0) > ctx.epoch:
                _refuse_stale(ctx, array.shape)
    ctx.epoch = _CLOCK.now  # checked: the next look is free until something else changes


def _refuse_stale(ctx, shape):
    raise RuntimeError(
        f"One of the tensors needed by {ctx.name}.backward (shape {shape}) was modified in place "
        f"after {ctx.name} used it (by an optimizer step, load_state_dict, a change under "
        "no_grad(), or increment_version()), so its gradient would be wrong. Call backward() "
        "before changing the values, or change a clone() instead."
    )


# ------------------------------------------------------------------------------------------ engine ----
def unbroadcast(grad, shape, op):
    """Sum `grad` back to `shape` (undo numpy broadcasting); the one place this happens. (`op`:
    the op whose backward made `grad`, or its name, for the error message.)"""
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
        op_name = getattr(op, "name", op)
        raise RuntimeError(
            f"{op_name}.backward returned a gradient of shape {gshape} for an input of shape "
            f"{shape}; it cannot be summed back to the input's shape. Fix {op_name}.backward."
        )
    return grad


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
    number visits each op after all of its consumers (PyTorch orders its engine the same way). One
    pass, iterative, any depth.
    """
    state = _PER_THREAD.switches
    if _TRACING and state.recorder is not None:  # tg.jit traces: it runs this pass and records it
        return state.recorder.run_backward(roots, root_grads, retain_graph=retain_graph,
                                           create_graph=create_graph, inputs=inputs)
    retain_graph = retain_graph or state.keep_graphs
    arrays = not create_graph  # the fast path: gradients travel as ndarrays (see Function)
    sink = _Sink(roots[0], inputs, arrays)
    wanted = sink.wanted
    arrivals = []  # (tensor, its gradient) pairs: first the roots' seeds, then each op's results
    for root, g in zip(roots, root_grads):
        sink.handed.add(id(g.data))
        arrivals.append((root, g.data if arrays else g))
    pending = {}  # id(tensor) -> its gradient summed so far, while its op waits in the heap
    heap = []
    outer_mode, state.grad_enabled = state.grad_enabled, create_graph  # (this thread only)
    try:
        while True:
            for node, g in arrivals:  # gradients arrive at tensors: leaves keep them, ops wait
                ctx = node._ctx
                if wanted is not None:  # grad(outputs, inputs): capture, accumulate nothing
                    if id(node) in wanted:
                        sink.capture(node, g)
                elif ctx is None:  # a leaf: sum into .grad
                    sink.accumulate(node, g)
                if ctx is None:
                    continue
                key = id(node)
                summed = pending.get(key)
                if summed is None:
                    if ctx.released:
                        raise RuntimeError(_SECOND_BACKWARD)
                    pending[key] = g
                    heappush(heap, (-ctx.seq, key, node))
                else:
                    pending[key] = summed + g
            if not heap:
                break
            _, key, node = heappop(heap)  # the newest op: every consumer of its output is done
            g = pending.pop(key)
            if node._retains_grad and wanted is None:
                sink.accumulate(node, g)
            arrivals = _call_backward(node._ctx, g, arrays, retain_graph, state)
    finally:
        state.grad_enabled = outer_mode
    return None if inputs is None else sink.result(allow_unused)


def _call_backward(ctx, g, arrays, retain_graph, state=None):
    """Run one op's backward: the (input, gradient) pairs it sends on, each gradient in the pass's
    currency (ndarray or Tensor) and summed back to its input's shape and dtype. Then, unless the
    graph is retained, free what the op saved (`_release`). (`state`: this thread's switches.)"""
    if ctx.epoch != _CLOCK.now:  # something changed in place since this op ran
        _check_versions(ctx)
    primitive = ctx.array_backward
    if arrays and primitive:  # the fast path: arrays in, arrays out (see Function)
        view = ctx
    else:  # backward works on Tensors
        if arrays:  # a user Function in a pass that records nothing
            g = ctx.inputs[ctx.needs_input_grad.index(True)]._from_op(_as_ndarray(g), None)
        view = _tensor_view(ctx)
    if state is None:
        state = _PER_THREAD.switches
    anomaly = state.anomaly
    if anomaly:
        state.backward_of = ctx
        try:
            in_grads = ctx.backward(view, g)
        finally:
            state.backward_of = None
    else:
        in_grads = ctx.backward(view, g)
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if not primitive and len(in_grads) != len(ctx.inputs):  # (primitives are tested)
        raise TypeError(f"{ctx.name}.backward returned {len(in_grads)} gradients for "
                        f"{len(ctx.inputs)} inputs; return one per input (None where there is none)")
    out = []
    for inp, needs, ig in zip(ctx.inputs, ctx.needs_input_grad, in_grads):
        if needs and ig is not None:
            data = inp.data
            if arrays and type(ig) is np.ndarray:  # the common case, checked inline
                if ig.shape != data.shape:
                    ig = unbroadcast(ig, data.shape, ctx)
                if ig.dtype != data.dtype:  # e.g. a float32 input used with a float64 one
                    ig = ig.astype(data.dtype)
            else:
                ig = _as_input_grad(ig, data, ctx, arrays)
            if anomaly:
                _check_finite(ig.data if isinstance(ig, Node) else ig, ctx.name, "backward", ctx)
            out.append((inp, ig))
    if not retain_graph:
        _release(ctx)
    return out


def _tensor_view(ctx):
    """The op as a backward that works on Tensors sees it: the same op (its attributes and settings
    shared) but with `saved_tensors` as Tensors (see `Function._as_tensor`). A copy, so the op itself
    keeps its arrays for the fast path."""
    view = object.__new__(type(ctx))
    for name in _FUNCTION_SLOTS:
        try:
            setattr(view, name, getattr(ctx, name))
        except AttributeError:  # a slot never set (e.g. settings of a user-made ctx)
            pass
    view.__dict__ = ctx.__dict__
    view.saved_tensors = tuple(ctx._as_tensor(v) for v in ctx.saved_tensors)
    return view


def _as_input_grad(ig, data, ctx, arrays):
    """An input's gradient in the pass's currency (ndarray or Tensor), shape and dtype."""
    if isinstance(ig, Node):
        if arrays:
            ig = ig.data
    elif not (arrays and isinstance(ig, (np.ndarray, np.generic))):
        raise TypeError(f"{ctx.name}.backward must return Tensors (or None), got {type(ig).__name__}")
    elif type(ig) is not np.ndarray:  # 0-d numpy arithmetic gives scalars: keep one type
        ig = np.asarray(ig)
    if ig.shape != data.shape:
        ig = unbroadcast(ig, data.shape, ctx)
    if ig.dtype != data.dtype:  # e.g. a float32 input used with a float64 one
        ig = ig.astype(data.dtype)
    return ig


def _release(ctx):
    """Free what an op saved once its backward ran (the graph's memory goes right away), keeping
    the graph's structure, so it can still be drawn: the op keeps its name, settings, and the shape
    and dtype of its output; each input becomes the op that made it (no arrays), or stays what it
    was for leaves and constants (the tensors the user passed in: parameters and data)."""
    output = ctx.output
    ctx.saved_tensors = _RELEASED
    ctx.output = None
    ctx.shape, ctx.dtype = output.shape, output.dtype
    ctx.inputs = ctx.edges  # made when the op was recorded: the op that made each input
    ctx.released = True
    if ctx.arrays_on_ctx:
        ctx.__dict__.clear()  # whatever else the op kept (masks)


class _Released:
    """What a released op's `saved_tensors` holds: unpacking it is the second-backward error.
    (Not a `__getattr__` on Function: a class with one loses CPython's specialized attribute reads,
    and every op's attributes are read on the hot path: W4 cost 1.4% more instructions.)"""

    __slots__ = ()

    def __iter__(self):
        raise RuntimeError(_SECOND_BACKWARD)

    def __repr__(self):
        return "<released>"


_RELEASED = _Released()


class GraphInput:
    """One input of an op that a backward released (see `Function.parents`): its shape and dtype,
    the op that made it (`grad_fn`, None for leaves and constants), whether it required grad, for
    a leaf tensor the tensor itself (`tensor`: its name and `.grad` can be drawn), and for a
    constant operand the constant (`value`: a drawing writes `Mul(·, 2.0)`)."""

    __slots__ = ("shape", "dtype", "_ctx", "requires_grad", "tensor", "value")

    def __init__(self, item):
        self.tensor = self.value = None
        if isinstance(item, Function):  # what _release keeps for an op's output
            self.shape, self.dtype, self._ctx, self.requires_grad = (
                item.shape, item.dtype, item, True)
        elif isinstance(item, Node):  # a leaf
            self.shape, self.dtype, self._ctx = item.data.shape, item.data.dtype, None
            self.requires_grad, self.tensor = item.requires_grad, item
        else:  # a constant
            data = np.asarray(item)
            self.shape, self.dtype, self._ctx, self.requires_grad = data.shape, data.dtype, None, False
            self.value = item

    @property
    def grad_fn(self):
        """The op that made this input (None for leaves and constants), as `Tensor.grad_fn`."""
        return self._ctx


class _Sink:
    """Where gradients end up: the `.grad` of leaves (and of tensors that `retain_grad()`), or, for
    `grad(outputs, inputs)`, a list returned to the caller. Also keeps `.grad` arrays unshared."""

    __slots__ = ("wrap", "wanted", "captured", "arrays", "handed")

    def __init__(self, root, inputs, arrays):
        self.wrap = root._from_op  # makes Tensors (for .grad, grad()'s results)
        self.wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
        self.captured = [None] * (0 if inputs is None else len(inputs))
        self.arrays = arrays
        self.handed = set()  # ids of arrays given to a .grad (and the seeds): no two .grad share one

    def capture(self, node, g):
        """A gradient arriving at a tensor grad() was asked about."""
        i = self.wanted[id(node)]
        self.captured[i] = g if self.captured[i] is None else self.captured[i] + g

    def accumulate(self, node, g):
        """Add g into node.grad (a fresh array the first time, so no two .grad share memory)."""
        grad = node._grad
        if not self.arrays:  # create_graph: g is a Tensor in the new graph
            node._grad = g if grad is None else grad + g
        elif grad is None:
            node._grad = self.wrap(self._unshared(g if type(g) is np.ndarray else np.asarray(g)),
                                   None)
        elif grad.requires_grad:  # a differentiable .grad from an earlier create_graph pass
            node._grad = grad + self.wrap(_as_ndarray(g), None)
        else:
            total = grad.data + g  # the common case: a plain numpy add (rebinds, never writes)
            grad.data = total if type(total) is np.ndarray else np.asarray(total)  # (0-d: a scalar)

    def _unshared(self, data):
        """`data` itself, unless its memory was handed out already (the same array, or a view of it,
        given to another .grad) or is read-only (a broadcast view, a cached seed): then a copy."""
        handed = self.handed
        base = data.base
        if base is None:  # the common case: an array that owns its memory (a fresh gradient)
            if id(data) in handed or not data.flags.writeable:
                return np.array(data, copy=True)
            handed.add(id(data))
            return data
        owner = base if type(base) is np.ndarray else data  # (_owner, inlined)
        if id(owner) in handed or id(data) in handed or not data.flags.writeable:
            return np.array(data, copy=True)
        handed.add(id(owner))
        handed.add(id(data))
        return data

    def result(self, allow_unused):
        """grad()'s answer: the captured gradients, in the order of its inputs."""
        for i, g in enumerate(self.captured):
            if g is None:
                if not allow_unused:
                    raise RuntimeError(
                        f"One of the differentiated tensors (input {i}) does not appear in the "
                        "graph of the outputs. Pass allow_unused=True to get None for it.")
            elif self.arrays:
                self.captured[i] = self.wrap(self._unshared(_as_ndarray(g)), None)
        return self.captured


_FUNCTION_SLOTS = tuple(n for n in Function.__slots__ if n not in ("saved_tensors", "__dict__"))


def _as_ndarray(a):
    """A gradient as an ndarray (array-mode arithmetic on 0-d arrays gives numpy scalars)."""
    return a if type(a) is np.ndarray else np.asarray(a)
