"""tg.jit: run a training step once eagerly while recording it, then replay the recording as plain numpy.

    step = tg.jit(train_step)        # or @tg.jit above the def
    loss = step(x, y)                # calls 1 and 2: eager, recorded and compared; then: replayed

How the tape is made. While `fn` runs eagerly, a per-thread recorder (`autograd.STATE.recorder`)
sees every primitive op (`Function.apply`), the backward pass (`run_backward`, run here by the same
algorithm as the engine's, step by step), every optimizer update (`increment_version` from
`Optimizer.step`), in-place rebinding (`mark_modified`) and `.grad` assignments (`zero_grad`). Each
array is known by where it comes from: an argument of `fn`, a leaf tensor read when used (parameters),
the output of an earlier entry, or a constant. Arrays computed inside `fn` are marked (a zero-copy
ndarray subclass, `_Traced`), so numpy work on tensor values outside the ops (`labels != -100`,
dropout's mask) is recorded too, and what the tape cannot replay is caught while tracing:

- a value leaving the tape for Python (`.item()`, `float(t)`, `.tolist()`, `.numpy()`, printing) is
  refused with a `JitError` that says what to move out of `fn`;
- `bool(t)` (an `if` on a tensor value) becomes a guard: the replay checks the branch goes the same
  way and otherwise runs that call eagerly, with a warning (or raises, once the call changed state);
- a value computed inside `fn` that outlives it (kept in a list, a module attribute, BatchNorm's
  running statistics), a parameter changed in place by code the tape did not see (raw
  `p.data -= ...`), or a constant that differs between the first two calls (random numbers from a
  private generator, values read from raw `.data`) is refused with a `JitError`.

How it is replayed. The tape is a list of small closures over a list of slots: each primitive's own
`forward` and `backward` run on the slots' arrays (the same numpy calls as eager, so the results are
bitwise equal), gradients are summed and accumulated into `.grad` with the engine's own helpers, and
optimizer updates call the optimizer's `update` (its Python state, like Adam's step count, moves on
as in eager). No Tensor, graph or heap is made; a slot is cleared after its last use. Random draws
from the package's generator (dropout) are redone at every replay, from the same stream as eager.

The cache: one tape per signature of the arguments (shapes, dtypes, requires_grad; other arguments
by value), the grad mode and the train/eval mode of the modules that ran, at most `max_cache` (8)
per jitted function; a new signature traces again (two eager calls), the least recently used is
dropped. A replay first checks that the parameters it reads still have their shapes, dtypes and
requires_grad and that the optimizers still hold the same parameters; otherwise it traces again.

Limits: Python side effects in `fn` (printing, appending, counters) happen only while tracing;
tensors created outside `fn` that do not require grad are read when used, but numpy arrays and
`.data` read through raw numpy are constants; `create_graph`, `tg.grad` and user-defined Functions
that need a gradient are refused inside `fn`.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
import traceback
import warnings
import weakref
from collections import OrderedDict
from heapq import heappop, heappush

import numpy as np

from . import rng, threads
from .autograd import (
    _SECOND_BACKWARD,
    STATE,
    Node,
    _call_backward,
    _release,
    _Sink,
    increment_version,
    mark_modified,
    set_grad_enabled,
    unbroadcast,
)
from .ops import Primitive
from .optim.optimizer import Optimizer
from .tensor import Tensor

__all__ = ["JitError", "jit"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class JitError(RuntimeError):
    """tg.jit cannot replay what the function does; the message says what to move out of it."""


def _where():
    """The innermost line of user code (outside this package) running now."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not frame.filename.startswith(_PACKAGE_DIR):
            return f"{os.path.basename(frame.filename)}:{frame.lineno}"
    return "?"


# --------------------------------------------------------------------------- traced arrays ----
class _Traced(np.ndarray):
    """A zero-copy view marking an array computed inside the traced function. Outside the ops
    (recorder set), numpy calls on it are recorded, and values escaping to Python are refused;
    inside an op (the recorder steps aside) it computes as a plain ndarray."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = STATE.recorder
        if rec is not None and ("out" in kwargs or method == "at"):
            rec.refuse_write()
        plain = [_plain(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        func = getattr(ufunc, method)
        result = func(*plain, **kwargs)
        if rec is None:
            return result
        return rec.numpy_call(func, inputs, kwargs, result, f"np.{ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        result = func(*_unwrap(args), **_unwrap(kwargs))
        rec = STATE.recorder
        if rec is None:
            return result
        return rec.numpy_call(func, args, kwargs, result, f"np.{func.__name__}")

    def __bool__(self):
        rec = STATE.recorder
        value = bool(_plain(self))
        if rec is not None:
            rec.guard(self, value)
        return value

    def _escape(name):  # noqa: N805
        def method(self, *args, **kwargs):
            if STATE.recorder is not None:
                STATE.recorder.refuse_escape(name)
            return getattr(np.ndarray, name)(self, *args, **kwargs)
        method.__name__ = name
        return method

    def _recorded(name):  # noqa: N805
        def method(self, *args, **kwargs):
            rec = STATE.recorder
            if rec is None:
                return getattr(np.ndarray, name)(self, *args, **kwargs)
            func = getattr(np.ndarray, name)
            result = func(_plain(self), *_unwrap(args), **_unwrap(kwargs))
            return rec.numpy_call(func, (self, *args), kwargs, result, f"ndarray.{name}")
        method.__name__ = name
        return method

    for _name in ("item", "tolist", "tobytes", "__float__", "__int__", "__index__", "__complex__",
                  "__repr__", "__str__", "__format__", "__setitem__", "fill", "sort", "resize",
                  "__iter__"):
        locals()[_name] = _escape(_name)
    for _name in ("reshape", "astype", "copy", "__getitem__", "transpose", "swapaxes", "ravel",
                  "flatten", "squeeze", "sum", "mean", "max", "min", "any", "all", "prod",
                  "argmax", "argmin", "clip", "round", "cumsum", "dot", "nonzero"):
        locals()[_name] = _recorded(_name)
    del _name

    def view(self, *args, **kwargs):
        if STATE.recorder is not None and not args and not kwargs:
            STATE.recorder.refuse_escape(".numpy() / np.asarray(tensor)")
        return np.ndarray.view(self, *args, **kwargs)

    @property
    def T(self):  # noqa: N802 (numpy's name)
        return self.transpose()


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, _Traced) else x


def _unwrap(obj):
    """`obj` with every _Traced array (inside tuples, lists and dicts too) as a plain ndarray."""
    if isinstance(obj, _Traced):
        return obj.view(np.ndarray)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unwrap(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


class _Slot:
    """A reference to a slot in a tape's settings or arguments (built into the value at replay)."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return f"%{self.i}"


def _builder(template):
    """A function slots -> the value, for a template that may hold _Slot references."""
    if isinstance(template, _Slot):
        i = template.i
        if isinstance(template, _TensorSlot):
            return lambda v: _Returned(v[i])
        return lambda v: v[i]
    if isinstance(template, (tuple, list)) and _has_slot(template):
        parts = [_builder(t) for t in template]
        kind = type(template)
        return lambda v: kind(p(v) for p in parts)
    if isinstance(template, dict) and _has_slot(template):
        parts = {k: _builder(t) for k, t in template.items()}
        return lambda v: {k: p(v) for k, p in parts.items()}
    return lambda v: template


def _has_slot(template):
    if isinstance(template, _Slot):
        return True
    if isinstance(template, (tuple, list)):
        return any(_has_slot(t) for t in template)
    if isinstance(template, dict):
        return any(_has_slot(t) for t in template.values())
    return False


class _Meta:
    """What a replayed backward needs of an input: shape and dtype (as `.data`, for the engine's
    `_as_input_grad`)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    @property
    def data(self):
        return self


def _show(template):
    """A template as the tape prints it: slots as %i, arrays as their shape and dtype."""
    if isinstance(template, np.ndarray):
        return f"const{list(template.shape)}:{template.dtype}"
    if isinstance(template, tuple):
        return "(" + ", ".join(_show(t) for t in template) + ("," if len(template) == 1 else "") + ")"
    if isinstance(template, list):
        return "[" + ", ".join(_show(t) for t in template) + "]"
    if isinstance(template, dict):
        return ", ".join(f"{k}={_show(t)}" for k, t in template.items())
    return repr(template)


def _input_grad(ig, meta, name):
    """A gradient as the engine hands it to an input: an ndarray of the input's shape and dtype
    (the replay's copy of what `autograd._as_input_grad` does on the array path)."""
    if isinstance(ig, Node):
        ig = ig.data
    elif type(ig) is not np.ndarray:
        ig = np.asarray(ig)
    if ig.shape != meta.shape:
        ig = unbroadcast(ig, meta.shape, name)
    if ig.dtype != meta.dtype:
        ig = ig.astype(meta.dtype)
    return ig


class _BranchChanged(Exception):
    def __init__(self, where, mutated):
        super().__init__(where)
        self.where, self.mutated = where, mutated


class _RecordingGenerator:
    """Stands in for the package's generator while tracing: each draw is made (so the trace is an
    ordinary eager call) and recorded, so the replay draws fresh numbers from the same stream."""

    def __init__(self, real, recorder):
        self._real, self._recorder = real, recorder

    def __getattr__(self, name):
        method = getattr(self._real, name)
        if not callable(method):
            return method

        def draw(*args, **kwargs):
            result = method(*args, **kwargs)
            return self._recorder.random_draw(name, args, kwargs, result)
        return draw


# ------------------------------------------------------------------------------ the tape ----
class Tape:
    """A recorded step: printable entries and the replay program compiled from them."""

    def __init__(self):
        self.entries = []  # (kind, line, data): data is what compile() needs
        self.nslots = 0
        self.constants = []  # constant arrays, in the order met (compared between two traces)
        self.leaves = {}  # id(tensor) -> (tensor, shape, dtype, requires_grad): checked per replay
        self.optimizers = {}  # id(optimizer) -> (optimizer, ids of its parameters)
        self.modules = {}  # id(module) -> module (their train/eval mode is part of the cache key)
        self.args = []  # (slot, position of the argument)
        self.output = None  # template of fn's return value
        self.program = None
        self.small_products = None  # True: matrix products, all below threads.SMALL_PRODUCT

    def __repr__(self):
        return "\n".join([f"Tape: {len(self.entries)} entries, {self.nslots} slots"]
                         + [line for _, line, _ in self.entries])

    @property
    def lines(self) -> list:
        return [line for _, line, _ in self.entries]

    def same_as(self, other) -> str | None:
        """None if `other` (a second trace) recorded the same step, else where they differ."""
        if self.lines != other.lines:
            for a, b in zip(self.lines + ["(end)"], other.lines + ["(end)"]):
                if a != b:
                    return f"the first call recorded `{a.strip()}`, the second `{b.strip()}`"
        for (where, a), (_, b) in zip(self.constants, other.constants):
            if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=True):
                return (f"a constant used at {where} differs between the first two calls (random "
                        "numbers from a generator passed explicitly, or values read from a "
                        "tensor's raw .data or through np.asarray)")
        return None

    def valid(self) -> bool:
        """The checks before each replay: the leaves and optimizers are as traced."""
        for t, shape, dtype, requires_grad in self.leaves.values():
            d = t.data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != requires_grad:
                return False
        for opt, ids in self.optimizers.values():
            if [id(p) for g in opt.param_groups for p in g["params"]] != ids:
                return False
        return True

    # -------------------------------------------------------------------------- compile ----
    def compile(self):
        """The replay program: one closure per entry; a slot is cleared after its last read."""
        last = {}
        for n, (_, _, data) in enumerate(self.entries):
            for i in data["reads"]:
                last[i] = n
        keep = {t.i for t in _slots_in(self.output)}
        program = []
        mutated = False
        for n, (kind, line, data) in enumerate(self.entries):
            run = getattr(self, "_" + kind)(data, line, mutated)
            mutated = mutated or kind in ("acc", "update", "rebind", "setgrad", "rng")
            drops = tuple(i for i in data["reads"] if last.get(i) == n and i not in keep)
            drops += tuple(i for i in data["writes"] if i not in last and i not in keep)
            if drops:
                run = _then_drop(run, drops)
            program.append(run)
        self.program = program
        self.output_builder = _builder(self.output)

    def replay(self, args):
        v = [None] * self.nslots
        for slot, pos in self.args:
            a = args[pos]
            v[slot] = a.data if isinstance(a, Tensor) else a
        # NOTE: eager runs each small product on one BLAS thread, switching the count around
        # every product (threads.matmul); when all of them are small the replay switches once
        one_thread = bool(self.small_products) and threads._fixed is None
        with set_grad_enabled(False), threads.num_threads(1 if one_thread else 0):
            for run in self.program:
                run(v)
        return _as_tensors(self.output_builder(v))

    # One builder per kind of entry.
    @staticmethod
    def _load(d, line, mutated):
        s, t = d["writes"][0], d["tensor"]
        if t is None:  # a tensor made inside fn that did not outlive it: a constant
            value = d["value"]

            def run(v):
                v[s] = value
        else:
            def run(v):
                v[s] = t.data
        return run

    @staticmethod
    def _fwd(d, line, mutated):
        cls, fwd, o, c = d["cls"], d["cls"].forward, d["writes"][0], d["ctx_slot"]
        settings, metas, needs = d["settings"], d["metas"], d["needs"]
        make_settings = _builder(settings) if _has_slot(settings) else None
        new = object.__new__
        slots = [t.i if isinstance(t, _Slot) else None for t in d["inputs"]]
        consts = list(d["inputs"])
        simple = make_settings is None and all(i is not None for i in slots)

        def run(v):
            ctx = new(cls)
            st = settings if make_settings is None else make_settings(v)
            ctx.settings = st
            if simple:
                out = fwd(ctx, *[v[i] for i in slots], **st)
            else:
                out = fwd(ctx, *[v[i] if i is not None else k for i, k in zip(slots, consts)], **st)
            v[o] = out if type(out) is np.ndarray else np.asarray(out)
            if c is not None:
                ctx.inputs, ctx.needs_input_grad = metas, needs
                v[c] = ctx
        return run

    @staticmethod
    def _np(d, line, mutated):
        func, outs = d["func"], d["writes"]
        make_args, make_kwargs = _builder(d["args"]), _builder(d["kwargs"])

        def run(v):
            result = func(*make_args(v), **make_kwargs(v))
            if len(outs) == 1:
                v[outs[0]] = result
            else:
                for s, r in zip(outs, result):
                    v[s] = r
        return run

    @staticmethod
    def _rng(d, line, mutated):
        name, s = d["name"], d["writes"][0]
        make_args, make_kwargs = _builder(d["args"]), _builder(d["kwargs"])

        def run(v):
            v[s] = getattr(rng.default_generator(), name)(*make_args(v), **make_kwargs(v))
        return run

    @staticmethod
    def _guard(d, line, mutated):
        s, value, where = d["reads"][0], d["value"], d["where"]

        def run(v):
            if bool(v[s]) != value:
                raise _BranchChanged(where, mutated)
        return run

    @staticmethod
    def _begin(d, line, mutated):
        s, seeds, holder = d["writes"][0], d["reads"], _Holder()

        def run(v):
            sink = _Sink(holder, None, True)
            for i in seeds:
                sink.handed.add(id(v[i]))
            v[s] = sink
        return run

    @staticmethod
    def _bwd(d, line, mutated):
        c, g = d["reads"][:2]
        outs, metas, needs, name = d["writes"], d["metas"], d["needs"], d["name"]
        bwd = d["cls"].backward
        pairs = [(k, m) for k, (m, need) in enumerate(zip(metas, needs)) if need]

        def run(v):
            ctx = v[c]
            in_grads = bwd(ctx, v[g])
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            n = 0
            for k, meta in pairs:
                ig = in_grads[k]
                if ig is not None:
                    v[outs[n]] = _input_grad(ig, meta, name)
                    n += 1
            if n != len(outs):
                raise JitError(f"{name}.backward sent gradients to other inputs than when traced")
        return run

    @staticmethod
    def _add(d, line, mutated):
        a, b = d["reads"]
        o = d["writes"][0]

        def run(v):
            v[o] = v[a] + v[b]
        return run

    @staticmethod
    def _acc(d, line, mutated):
        sink_slot, g = d["reads"]
        o, leaf = d["writes"][0], d["leaf"]

        def run(v):
            t = leaf(v)
            v[sink_slot].accumulate(t, v[g])
            v[o] = t._grad.data
        return run

    @staticmethod
    def _update(d, line, mutated):
        opt, group, leaf = d["optimizer"], d["group"], d["leaf"]

        def run(v):
            p = leaf(v)
            grad = p._grad
            if grad is not None:
                opt.update(p, grad.data, opt.state[p], group)
                increment_version(p)
        return run

    @staticmethod
    def _rebind(d, line, mutated):
        s, leaf = d["reads"][0], d["leaf"]

        def run(v):
            t = leaf(v)
            t.data = v[s]
            mark_modified(t)
        return run

    @staticmethod
    def _setgrad(d, line, mutated):
        leaf, value = d["leaf"], d["value"]

        def run(v):
            t = leaf(v)
            t._grad = None if value is None else Tensor(value.copy())
        return run


class _Holder:
    """What _Sink needs of a root: a way to make Tensors."""

    _from_op = staticmethod(lambda data, ctx: Tensor._from_op(_HOLDER_TENSOR, data, ctx))


_HOLDER_TENSOR = Tensor(np.zeros(()))


def _then_drop(run, drops):
    def run_and_drop(v):
        run(v)
        for i in drops:
            v[i] = None
    return run_and_drop


def _slots_in(template):
    if isinstance(template, _Slot):
        yield template
    elif isinstance(template, (tuple, list)):
        for t in template:
            yield from _slots_in(t)
    elif isinstance(template, dict):
        for t in template.values():
            yield from _slots_in(t)


class _TensorSlot(_Slot):
    """A slot returned to the caller as a Tensor."""

    __slots__ = ()


def _as_tensors(value):
    if isinstance(value, _Returned):
        return Tensor(value.array)
    if isinstance(value, (tuple, list)):
        return type(value)(_as_tensors(x) for x in value)
    if isinstance(value, dict):
        return {k: _as_tensors(x) for k, x in value.items()}
    return value


class _Returned:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


# ------------------------------------------------------------------------------ recording ----
_SHAPE_ONLY = {"shape", "ndim", "size", "result_type", "can_cast", "min_scalar_type",
               "may_share_memory", "shares_memory", "iscomplexobj", "isrealobj"}


class _Recorder:
    """Watches one eager call of fn (installed as `autograd.STATE.recorder`) and writes its tape."""

    def __init__(self):
        self.tape = Tape()
        self.ids = {}  # id(array) -> slot of the value it holds
        self.alive = []  # arrays known by id stay alive while tracing (ids are never reused)
        self.traced = []  # (weak reference, where) of each _Traced array made
        self.ctxs = {}  # id(op) -> (slot of the replayed op, op)
        self.first = {}  # id(leaf) -> (tensor, its array and a copy of it when first read)
        self.written = set()  # ids of leaves changed by a recorded update or rebinding
        self.args = ()  # fn's arguments
        self.arg_views = {}  # id(tensor argument) -> the traced view of its array fn got

    # ----------------------------------------------------------------------------- slots ----
    def slot(self):
        self.tape.nslots += 1
        return self.tape.nslots - 1

    def emit(self, kind, line, reads=(), writes=(), **data):
        data["reads"], data["writes"] = tuple(reads), tuple(writes)
        self.tape.entries.append((kind, "  " + line, data))

    def register(self, array, where):
        """Know `array` (an entry's result) as a new slot; return it marked as traced."""
        if type(array) is not _Traced:
            array = (array if isinstance(array, np.ndarray) else np.asarray(array)).view(_Traced)
        s = self.slot()
        self.ids[id(array)] = s
        self.alive.append(array)
        self.traced.append((weakref.ref(array), where))
        return array, s

    def leaf(self, t):
        """A leaf tensor (a parameter, or a tensor made before it was used) read when used."""
        s = self.slot()
        key = id(t)
        if key not in self.first:
            self.first[key] = (t, t.data, np.array(t.data, copy=True))
            self.tape.leaves[key] = (weakref.ref(t), t.data.shape, t.data.dtype, t.requires_grad)
        self.emit("load", f"%{s} = load tensor{list(t.shape)}:{t.dtype}", writes=[s],
                  tensor=weakref.ref(t), value=t.data)
        self.ids[id(t.data)] = s
        self.alive.append(t.data)
        return s

    def leaf_ref(self, t):
        """How a replay finds the leaf tensor `t`: an argument by position, else the object."""
        for pos, a in enumerate(self.args):
            if a is t:
                tape = self.tape
                return lambda v: tape.call_args[pos]
        return lambda v: t

    def template(self, value, where):
        """An op's input or setting as a template: known arrays become slot references, other
        arrays constants; values derived from tensors in ways the tape cannot replay refuse."""
        if isinstance(value, Node):
            s = self.ids.get(id(value.data))
            if s is not None:
                return _Slot(s)
            if value._ctx is not None:
                raise JitError(
                    f"tg.jit: at {where} the function uses a tensor computed before it was called, "
                    "with its graph; the replay cannot backpropagate into that graph. Pass the "
                    "tensor as an argument (detached), or compute it inside the function.")
            return _Slot(self.leaf(value))
        if isinstance(value, np.ndarray):
            s = self.ids.get(id(value))
            if s is not None:
                return _Slot(s)
            base = value.base
            while isinstance(base, np.ndarray):
                if isinstance(base, _Traced) or id(base) in self.ids:
                    break
                base = base.base
            if isinstance(value, _Traced) or isinstance(base, np.ndarray):
                raise JitError(
                    f"tg.jit: at {where} an array made from a tensor's values by numpy code the "
                    "tape cannot record is used; write that computation with Tensor "
                    "operations, or move it out of the jitted function.")
            self.tape.constants.append((where, value))
            return value
        if isinstance(value, np.generic):
            self.tape.constants.append((where, np.asarray(value)))
            return value
        if isinstance(value, (tuple, list)):
            return type(value)(self.template(x, where) for x in value)
        if isinstance(value, dict):
            return {k: self.template(x, where) for k, x in value.items()}
        return value

    # --------------------------------------------------------------------- hooks (autograd) ----
    def apply(self, cls, inputs, settings):
        """An op: record it, then run it as eager would (with the recorder stepped aside)."""
        where = f"{cls.__name__} ({_where()})"
        ins = [self.template(x, where) for x in inputs]
        st = self.template(settings, where)
        STATE.recorder = None
        try:
            out = cls.apply(*inputs, **settings)
        finally:
            STATE.recorder = self
        out.data, s = self.register(out.data, where)
        if cls.__name__ == "MatMul" and self.tape.small_products is not False:
            a, b = np.shape(_plain(_data(inputs[0]))), np.shape(_plain(_data(inputs[1])))
            self.tape.small_products = (a[-1] * (a[-2] if len(a) > 1 else 1)
                                        * (b[-1] if len(b) > 1 else 1) < threads.SMALL_PRODUCT)
        ctx = out._ctx
        c = None
        metas = needs = None
        if ctx is not None:
            if not isinstance(ctx, Primitive):
                raise JitError(f"tg.jit: {where}: the user-defined Function {cls.__name__} needs "
                               "a gradient; tg.jit replays only the built-in primitives. Run "
                               "this step without tg.jit.")
            c = self.slot()
            self.ctxs[id(ctx)] = (c, ctx)
            metas = tuple(_Meta(np.shape(_plain(x.data if isinstance(x, Node) else x)),
                                _dtype(x)) for x in inputs)
            needs = tuple(ctx.needs_input_grad)
        for m in STATE.scope or ():
            self.tape.modules[id(m)] = m
        shown = ", ".join(_show(t) for t in ins) + (", " + _show(st) if st else "")
        self.emit("fwd", f"%{s} = {cls.__name__}({shown})",
                  reads=[t.i for t in _slots_in(ins)] + [t.i for t in _slots_in(st)],
                  writes=[s] + ([c] if c is not None else []), cls=cls, inputs=ins, settings=st,
                  ctx_slot=c, metas=metas, needs=needs)
        return out

    def run_backward(self, roots, root_grads, *, retain_graph, create_graph, inputs):
        """The engine's backward pass (autograd.run_backward, array path), run and recorded."""
        if create_graph or inputs is not None:
            raise JitError(f"tg.jit: at {_where()} the function calls backward with "
                           "create_graph=True or tg.grad(); only plain backward() is replayed. "
                           "Run this step without tg.jit.")
        retain_graph = retain_graph or STATE.keep_graphs
        where = f"backward ({_where()})"
        seeds = [self.template(g.data, where) for g in root_grads]
        seed_slots = []
        for t in seeds:  # constants (the seed 1) get a slot too
            if isinstance(t, _Slot):
                seed_slots.append(t.i)
            else:
                s = self.slot()
                self.emit("load", f"%{s} = {_show(t)}", writes=[s], tensor=None, value=t)
                seed_slots.append(s)
        sink = _Sink(roots[0], None, True)
        for g in root_grads:
            sink.handed.add(id(g.data))
        sink_slot = self.slot()
        self.emit("begin", f"%{sink_slot} = backward from %{seed_slots}", reads=seed_slots,
                  writes=[sink_slot])
        pending = {}
        heap = []
        STATE.recorder = None
        try:
            with set_grad_enabled(False):
                arrivals = [(root, _plain(g.data), s) for root, g, s in
                            zip(roots, root_grads, seed_slots)]
                while True:
                    for node, g, gs in arrivals:
                        ctx = node._ctx
                        if ctx is None:
                            sink.accumulate(node, g)
                            o = self.slot()
                            self.emit("acc", f"%{o} = accumulate %{gs} into .grad of "
                                      f"tensor{list(node.shape)}", reads=[sink_slot, gs],
                                      writes=[o], leaf=self.leaf_ref(node))
                            self.ids[id(node._grad.data)] = o
                            self.alive.append(node._grad.data)
                            continue
                        key = id(node)
                        summed = pending.get(key)
                        if summed is None:
                            if ctx.released:
                                raise RuntimeError(_SECOND_BACKWARD)
                            pending[key] = (g, gs)
                            heappush(heap, (-ctx.seq, key, node))
                        else:
                            o = self.slot()
                            self.emit("add", f"%{o} = %{summed[1]} + %{gs}", reads=[summed[1], gs],
                                      writes=[o])
                            pending[key] = (summed[0] + g, o)
                    if not heap:
                        break
                    _, key, node = heappop(heap)
                    g, gs = pending.pop(key)
                    if node._retains_grad:
                        raise JitError("tg.jit: retain_grad() inside the jitted function is not "
                                       "replayed; move it out")
                    ctx = node._ctx
                    arrivals = self._backward_of(ctx, g, gs)
                    if not retain_graph:
                        _release(ctx)
        finally:
            STATE.recorder = self

    def _backward_of(self, ctx, g, gs):
        known = self.ctxs.get(id(ctx))
        if known is None:
            raise JitError(f"tg.jit: backward reached {ctx.name}, recorded before the jitted "
                           "function was called; the replay cannot backpropagate into it. Compute "
                           "that part inside the function, or detach it.")
        c, _ = known
        inputs = ctx.inputs
        pairs = _call_backward(ctx, g, True, True)  # (the recorder releases the op itself)
        outs = []
        arrivals = []
        for inp, ig in pairs:
            o = self.slot()
            outs.append(o)
            arrivals.append((inp, ig, o))
        self.emit("bwd", f"{', '.join(f'%{o}' for o in outs) or '(nothing)'} = "
                  f"{ctx.name}.backward(%{gs})", reads=[c, gs], writes=outs, cls=type(ctx),
                  metas=tuple(_Meta(x.data.shape, x.data.dtype) if isinstance(x, Node) else
                              _Meta(np.shape(x), _dtype(x)) for x in inputs),
                  needs=tuple(ctx.needs_input_grad), name=ctx.name)
        return arrivals

    def wrote(self, tensor):
        """increment_version(tensor): an optimizer's update (replayed by calling its update())."""
        frame = sys._getframe(2)
        for _ in range(4):
            if frame is None:
                break
            owner, group = frame.f_locals.get("self"), frame.f_locals.get("group")
            if (isinstance(owner, Optimizer) and type(owner).step is Optimizer.step
                    and isinstance(group, dict) and any(p is tensor for p in group["params"])):
                ids = [id(p) for g in owner.param_groups for p in g["params"]]
                self.tape.optimizers[id(owner)] = (owner, ids)
                self.emit("update", f"{type(owner).__name__}.update(tensor"
                          f"{list(tensor.shape)})", optimizer=owner, group=group,
                          leaf=self.leaf_ref(tensor))
                self.written.add(id(tensor))
                return
            frame = frame.f_back
        raise JitError(f"tg.jit: at {_where()} a tensor is changed in place (increment_version) "
                       "by code the tape cannot replay; only Optimizer.step()'s updates are "
                       "replayed. Move that change out of the jitted function.")

    def rebound(self, node):
        """mark_modified(node): an in-place Tensor operation (`p -= lr * p.grad`) rebinding a
        tensor to an op's result."""
        s = self.ids.get(id(node.data))
        if s is None:
            raise JitError(f"tg.jit: at {_where()} a tensor was rebound to a value the tape did "
                           "not record; move that assignment out of the jitted function.")
        if node._ctx is None and (id(node) in self.first or any(a is node for a in self.args)):
            self.emit("rebind", f"tensor{list(node.shape)} := %{s}", reads=[s],
                      leaf=self.leaf_ref(node))
            self.written.add(id(node))

    def set_grad(self, node, value):
        """`t.grad = None` (zero_grad) or a constant gradient."""
        if value is not None and (isinstance(value.data, _Traced) or id(value.data) in self.ids):
            raise JitError(f"tg.jit: at {_where()} a computed value is assigned to .grad; the "
                           "replay cannot follow it. Move the assignment out of the function.")
        const = None if value is None else np.array(value.data, copy=True)
        self.emit("setgrad", f".grad of tensor{list(node.shape)} := "
                  f"{'None' if value is None else _show(const)}", leaf=self.leaf_ref(node),
                  value=const)

    # -------------------------------------------------------------- hooks (numpy, random) ----
    def numpy_call(self, func, args, kwargs, result, name):
        """A numpy call on traced values outside the ops: recorded, its result traced."""
        if getattr(func, "__name__", "") in _SHAPE_ONLY:
            return result
        where = f"{name} ({_where()})"
        targs, tkwargs = self.template(tuple(args), where), self.template(dict(kwargs), where)
        results = result if isinstance(result, tuple) else (result,)
        outs, wrapped = [], []
        for r in results:
            if not isinstance(r, (np.ndarray, np.generic, bool, int, float)):
                self.refuse_escape(name)
            arr, s = self.register(r, where)
            outs.append(s)
            wrapped.append(arr)
        shown = ", ".join(_show(t) for t in targs) + (", " + _show(tkwargs) if tkwargs else "")
        self.emit("np", f"{', '.join(f'%{s}' for s in outs)} = {name}({shown})",
                  reads=[t.i for t in _slots_in((targs, tkwargs))], writes=outs, func=func,
                  args=targs, kwargs=tkwargs)
        return tuple(wrapped) if isinstance(result, tuple) else wrapped[0]

    def random_draw(self, name, args, kwargs, result):
        where = f"random.{name} ({_where()})"
        targs, tkwargs = self.template(tuple(args), where), self.template(dict(kwargs), where)
        if not isinstance(result, (np.ndarray, np.generic, float, int)):
            raise JitError(f"tg.jit: {where}: this draw cannot be replayed; move it out")
        arr, s = self.register(result, where)
        self.emit("rng", f"%{s} = random.{name}({_show(targs)[1:-1]})",
                  reads=[t.i for t in _slots_in((targs, tkwargs))], writes=[s], name=name,
                  args=targs, kwargs=tkwargs)
        return arr

    def guard(self, array, value):
        where = _where()
        s = self.ids.get(id(array))
        if s is None:
            raise JitError(f"tg.jit: at {where} an `if` depends on a value the tape cannot "
                           "recompute; move that check out of the jitted function.")
        self.emit("guard", f"guard bool(%{s}) is {value}  ({where})", reads=[s], value=value,
                  where=where)

    def refuse_escape(self, name):
        raise JitError(
            f"tg.jit: `{name}` at {_where()} reads a tensor's values into Python inside the "
            "jitted function; a replay does not run Python code, so the value would be frozen at "
            "the first call. Move it out of the function: return the tensor (e.g. the loss) "
            "and call .item() on what the step returns.")

    def refuse_write(self):
        raise JitError(
            f"tg.jit: at {_where()} numpy writes into a tensor's array in place (out=, x[i] = v, "
            "or -= on .data), which the tape cannot replay. Use Tensor operations (under "
            "no_grad(): p -= lr * p.grad) or an optimizer, or move it out of the jitted function.")


def _data(x):
    return x.data if isinstance(x, Node) else np.asarray(x)


def _dtype(x):
    if isinstance(x, Node):
        return x.data.dtype
    return np.asarray(x).dtype if not isinstance(x, (int, float)) else np.result_type(x)


def _key_of(value):
    """What part of an argument the tape depends on (its cache key)."""
    if isinstance(value, Tensor):
        return ("T", value.data.shape, value.data.dtype.str, value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("A", value.shape, value.dtype.str)
    if isinstance(value, (int, float, bool, str, type(None))):
        return ("S", type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        return ("L", tuple(_key_of(x) for x in value))
    return ("O", id(value))


def _trace(fn, args, kwargs):
    """Call fn eagerly with a recorder installed; return (its result, the tape)."""
    if any(isinstance(v, (Tensor, np.ndarray)) for v in kwargs.values()):
        raise JitError("tg.jit: pass tensors and arrays to a jitted function positionally (they "
                       "become the tape's inputs); keyword arguments are taken as constants")
    rec = _Recorder()
    rec.args = args
    tape = rec.tape
    call_args, restore = list(args), []
    for pos, a in enumerate(args):
        if isinstance(a, Tensor):
            restore.append((a, a.data))
            a.data, s = rec.register(a.data, f"argument {pos}")
            rec.arg_views[id(a)] = a.data
            tape.args.append((s, pos))
        elif isinstance(a, np.ndarray):
            call_args[pos], s = rec.register(a, f"argument {pos}")
            tape.args.append((s, pos))
    real = rng.default_generator()
    rng._generator = _RecordingGenerator(real, rec)
    prev, STATE.recorder = STATE.recorder, rec
    try:
        result = fn(*call_args, **kwargs)
    finally:
        STATE.recorder = prev
        if isinstance(rng._generator, _RecordingGenerator):
            rng._generator = real
        for a, data in restore:  # (an argument rebound inside fn keeps its new value)
            a.data = data if a.data is rec.arg_views.get(id(a)) else _plain_copy(a.data)
    del call_args
    _finish(rec, result)
    return result, tape


def _finish(rec, result):
    """After the traced call: the output template, plain arrays for what the caller keeps, and
    the checks that need fn to have returned."""
    tape = rec.tape
    tape.output = _output_template(rec, result)
    for t, _, _ in rec.first.values():  # rebound leaves keep a plain array
        if isinstance(t.data, _Traced):
            t.data = np.array(t.data, copy=True).view(np.ndarray)
    for t, data, copy in rec.first.values():  # a leaf changed by code the tape did not see
        if id(t) not in rec.written and (t.data is not data or not np.array_equal(
                t.data, copy, equal_nan=True)):
            raise JitError(
                f"tg.jit: a tensor of shape {t.shape} used by the function was changed in place "
                "by code the tape did not see (e.g. p.data -= lr * p.grad.data); the replay "
                "would not repeat it. Use an optimizer, or `with no_grad(): p -= lr * p.grad`, "
                "or move the update out of the jitted function.")
    leaves = [(kind, data) for kind, _, data in tape.entries if kind == "load" and
              data["tensor"] is not None]
    for _, ctx in rec.ctxs.values():  # the graph fn leaves behind (drawable) keeps plain copies
        ctx.settings = _plain_copy(ctx.settings)
        if getattr(ctx, "inputs", None) is not None:
            ctx.inputs = tuple(_plain_copy(x) for x in ctx.inputs)
            ctx.parents_ = [_plain_copy(x) for x in ctx.parents_]
            for x in ctx.inputs:
                if isinstance(x, Node) and isinstance(x.data, _Traced):
                    x.data = _plain_copy(x.data)
    rec.ids.clear()
    rec.arg_views.clear()
    rec.alive.clear()
    rec.ctxs.clear()
    rec.first.clear()
    gc.collect()
    for ref, where in rec.traced:
        if ref() is not None:
            raise JitError(
                f"tg.jit: a value computed inside the jitted function (by {where}) is still "
                "referenced after it returned (kept in a list or an attribute, e.g. BatchNorm's "
                "running statistics, or a tensor's .data); a replay would not update it. Return "
                "it instead, or run this step without tg.jit.")
    for _, data in leaves:  # leaves alive now are read at each replay, the others are constants
        data["tensor"] = data["tensor"]()
    tape.leaves = {k: (ref(), *rest) for k, (ref, *rest) in tape.leaves.items()
                   if ref() is not None}
    tape.compile()


def _plain_copy(obj):
    if isinstance(obj, _Traced):
        return np.array(obj, copy=True).view(np.ndarray)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_plain_copy(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _plain_copy(v) for k, v in obj.items()}
    return obj


def _output_template(rec, value):
    if isinstance(value, Tensor):
        if value.requires_grad and value._ctx is not None and not value._ctx.released:
            raise JitError(
                "tg.jit: the function returns a tensor that still has a graph (backward() was not "
                "called inside it); a replay returns tensors without a graph. Call backward() "
                "inside the function, return a detached value, or run it under no_grad().")
        s = rec.ids.get(id(value.data))
        if s is None:
            return value
        if isinstance(value.data, _Traced):
            value.data = np.array(value.data, copy=True).view(np.ndarray)
        return _TensorSlot(s)
    if isinstance(value, (tuple, list)):
        return type(value)(_output_template(rec, x) for x in value)
    if isinstance(value, dict):
        return {k: _output_template(rec, x) for k, x in value.items()}
    if isinstance(value, np.ndarray) and (isinstance(value, _Traced) or id(value) in rec.ids):
        raise JitError("tg.jit: return tensors from the jitted function, not their arrays")
    return value


class _Cached:
    __slots__ = ("first", "tape")

    def __init__(self, first):
        self.first, self.tape = first, None


class jit:  # noqa: N801 (a decorator, named like PyTorch's torch.jit / tinygrad's TinyJit)
    """Trace `fn` (a training or evaluation step) on its first calls, then replay it as plain numpy.

    Calls 1 and 2 with a new signature run `fn` eagerly, recording it; the two recordings must
    agree. Later calls replay the tape: the same results, `.grad`, parameters and optimizer
    state as eager, without building a graph. `step.tape` shows the recording. See the module
    docstring (and docs/performance.md) for what is refused and why.

    >>> import tinygrad_lite as tg
    >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> @tg.jit
    ... def step(x):
    ...     opt.zero_grad()
    ...     loss = ((w * x).sum() - 1.0) ** 2
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> [round(step(tg.Tensor([1.0, 1.0])).item(), 4) for _ in range(3)]
    [4.0, 0.64, 0.1024]
    """

    def __init__(self, fn, max_cache: int = 8):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.max_cache = int(max_cache)
        self.cache: OrderedDict = OrderedDict()
        self.modules: dict = {}  # id -> module seen in a trace (their modes join the key)
        self.tape = None  # the tape used last (print it)
        self.traces = 0  # eager, recorded calls so far
        self.replays = 0
        self._lock = threading.Lock()

    def __get__(self, obj, objtype=None):  # as a method decorator
        return self if obj is None else functools.partial(self.__call__, obj)

    def _key(self, args, kwargs):
        return (STATE.grad_enabled, tuple(_key_of(a) for a in args),
                tuple(sorted((k, _key_of(v)) for k, v in kwargs.items())),
                tuple(m.training for m in self.modules.values()))

    def __call__(self, *args, **kwargs):
        if STATE.recorder is not None or STATE.anomaly:  # inside another trace, or checking
            return self.fn(*args, **kwargs)
        key = self._key(args, kwargs)
        cached = self.cache.get(key)
        if cached is not None and cached.tape is not None:
            tape = cached.tape
            if tape.valid():
                self.cache.move_to_end(key)
                self.tape = tape
                return self._replay(tape, args, kwargs)
            warnings.warn("tg.jit: the parameters or optimizers changed since the trace; "
                          "tracing again", stacklevel=2)
            cached = None
        result, tape = _trace(self.fn, args, kwargs)
        self.traces += 1
        self.tape = tape
        for m in tape.modules.values():
            self.modules.setdefault(id(m), m)
        key = self._key(args, kwargs)  # modules seen now are part of it
        if cached is None or key not in self.cache:
            self.cache[key] = _Cached(tape)
            if len(self.cache) > self.max_cache:
                self.cache.popitem(last=False)
                warnings.warn(f"tg.jit: more than {self.max_cache} signatures (shapes, dtypes, "
                              "modes) of this function: the oldest tape was dropped. Pad or "
                              "bucket the inputs' shapes, or raise max_cache.", stacklevel=2)
            return result
        difference = cached.first.same_as(tape)
        if difference is not None:
            del self.cache[key]
            raise JitError(f"tg.jit: the function did not record the same step twice: "
                           f"{difference}. The tape would replay stale values; move that part "
                           "out of the jitted function.")
        cached.tape, cached.first = tape, None
        return result

    def _replay(self, tape, args, kwargs):
        tape.call_args = args
        try:
            result = tape.replay(args)
        except _BranchChanged as change:
            if change.mutated:
                raise JitError(
                    f"tg.jit: the branch at {change.where} (an `if` on a tensor value) went the "
                    "other way than when traced, after the step had already changed gradients "
                    "or parameters. Move that `if` out of the jitted function.") from None
            warnings.warn(f"tg.jit: the branch at {change.where} (an `if` on a tensor value) went "
                          "the other way than when traced; this call runs eagerly", stacklevel=3)
            return self.fn(*args, **kwargs)
        finally:
            tape.call_args = None
        self.replays += 1
        return result
