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

How it is replayed. The tape is compiled into the source of one straight-line Python function
(`step.tape.source`, also printed by `print(step.tape)`; a long one as a chain of functions, each
compiled on its own: see _split): values are local variables; the common
primitives (Add, Sub, Mul, Neg, Sum, Reshape, basic indexing, MatMul, Sigmoid, Tanh, Relu) are
written inline as the very numpy calls their forward and backward make, with the engine's
unbroadcast worked out from the traced shapes; every other op calls its own `forward` and
`backward`. So the results are bitwise equal to eager. Gradients reach `.grad` as the engine puts
them there (written directly when `zero_grad` ran inside the step), optimizer updates call the
optimizer's `update` (its Python state, like Adam's step count, moves on as in eager) and bump
versions. No Tensor, graph or heap is made; each value is deleted after its last use. Random
draws from the package's generator (dropout) are redone at every replay, from the same stream as
eager.

The cache: one tape per signature of the arguments (shapes, dtypes, requires_grad; other arguments
by value), the grad mode and the train/eval mode of the modules that ran, at most `max_cache` (8)
per jitted function; a new signature traces again (two eager calls), the least recently used is
dropped. A replay first checks that the parameters it reads still have their shapes, dtypes and
requires_grad and that the optimizers still hold the same groups and parameters; otherwise it
traces again.
A result whose shape depends on values (indexing by a boolean mask) is checked like a branch.

Limits: Python side effects in `fn` (printing, appending, counters) happen only while tracing;
tensors created outside `fn` that do not require grad are read when used, but numpy arrays and
`.data` read through raw numpy are constants; `create_graph`, `tg.grad` and user-defined Functions
that need a gradient are refused inside `fn`.
"""

from __future__ import annotations

import functools
import gc
import math
import operator
import os
import re
import sys
import threading
import warnings
import weakref
import zlib
from collections import OrderedDict
from heapq import heappop, heappush

import numpy as np

from . import rng, threads
from .autograd import (
    _PER_THREAD,
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
from .optim.sgd import SGD
from .tensor import Tensor

__all__ = ["JitError", "jit"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class JitError(RuntimeError):
    """tg.jit cannot replay what the function does; the message says what to move out of it."""


def _where():
    """The innermost line of user code (outside this package) running now."""
    # NOTE: frames walked by hand: traceback.extract_stack reads the source lines (linecache
    # keeps whole files in memory) and costs far more than the file name and line number
    frame = sys._getframe(1)
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


# --------------------------------------------------------------------------- traced arrays ----
class _Traced(np.ndarray):
    """A zero-copy view marking an array computed inside the traced function. Outside the ops
    (recorder set), numpy calls on it are recorded, and values escaping to Python are refused;
    inside an op (the recorder steps aside) it computes as a plain ndarray. It carries its slot
    (see _Known)."""

    __slots__ = ("_slot", "_known")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = _PER_THREAD.switches.recorder
        if rec is not None and ("out" in kwargs or method == "at"):
            rec.refuse_write()
        plain = [_plain(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        func = getattr(ufunc, method)
        result = func(*plain, **kwargs)
        if rec is None:
            return result
        return rec.numpy_call(ufunc if method == "__call__" else func, inputs, kwargs, result,
                              f"np.{ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        result = func(*_unwrap(args), **_unwrap(kwargs))
        rec = _PER_THREAD.switches.recorder
        if rec is None:
            return result
        return rec.numpy_call(func, args, kwargs, result, f"np.{func.__name__}")

    def __bool__(self):
        rec = _PER_THREAD.switches.recorder
        value = bool(_plain(self))
        if rec is not None:
            rec.guard(self, value)
        return value

    def _escape(name):  # noqa: N805
        def method(self, *args, **kwargs):
            if _PER_THREAD.switches.recorder is not None:
                _PER_THREAD.switches.recorder.refuse_escape(name)
            return getattr(np.ndarray, name)(self, *args, **kwargs)
        method.__name__ = name
        return method

    def _recorded(name):  # noqa: N805
        def method(self, *args, **kwargs):
            rec = _PER_THREAD.switches.recorder
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
        if _PER_THREAD.switches.recorder is not None and not args and not kwargs:
            _PER_THREAD.switches.recorder.refuse_escape(".numpy() / np.asarray(tensor)")
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


@functools.lru_cache(maxsize=64)
def _name(dtype):
    """str(dtype), remembered (numpy builds it in Python code, a few microseconds each)."""
    return str(dtype)


def _show(template):
    """A template as the tape prints it: slots as %i, arrays as their shape and dtype."""
    if isinstance(template, np.ndarray):
        return f"const{list(template.shape)}:{_name(template.dtype)}"
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
    if ig is None:
        raise JitError(f"tg.jit: {name}.backward sent no gradient where it did when traced")
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

    __slots__ = ("_real", "_recorder")

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
class _Stale(Exception):
    """A replay's opening checks failed: a parameter or an optimizer changed since the trace."""


class Tape:
    """A recorded step: printable entries, and the straight-line Python function compiled from
    them that replays it (`source`)."""

    def __init__(self):
        self.entries = []  # (kind, line, data): data is what compile() needs (_Recorder.entries)
        self.nslots = 0
        self.info = []  # slot -> (shape, dtype, is an ndarray) of its value when traced, or None
        self.constants = []  # constant arrays, in the order met (compared between two traces)
        self.leaves = {}  # id(tensor) -> (tensor, shape, dtype, requires_grad): checked per replay
        self.optimizers = {}  # id(optimizer) -> (optimizer, [(group, ids of its parameters)])
        self.modules = {}  # id(module) -> module (their train/eval mode is part of the cache key)
        self.args = []  # (slot, position of the argument, is a Tensor)
        self.output = None  # template of fn's return value
        self.run = None  # the compiled replay: run(args) -> fn's result
        self.packed = None  # once compiled: its lines and source, compressed (see compile)
        self.small_products = None  # True: matrix products, all below threads.SMALL_PRODUCT

    def __repr__(self):
        return "\n".join([f"Tape: {len(self.lines)} entries, {self.nslots} slots"] + self.lines
                          + (["replayed by:", self.source] if self.source else []))

    @property
    def lines(self) -> list:
        """The entries, one line each (what `print(tape)` shows above the source)."""
        if self.entries is None:  # compiled (see compile)
            text = zlib.decompress(self.packed).decode().split("\0")[0]
            return text.split("\n") if text else []
        return [line for _, line, _ in self.entries]

    @property
    def source(self) -> str:
        """The Python source of the compiled replay ("" before it is compiled)."""
        return zlib.decompress(self.packed).decode().split("\0")[1] if self.packed else ""

    def same_as(self, other) -> str | None:
        """None if `other` (a second trace) recorded the same step, else where they differ."""
        if self.lines != other.lines:
            for a, b in zip(self.lines + ["(end)"], other.lines + ["(end)"]):
                if a != b:
                    return f"the first call recorded `{a.strip()}`, the second `{b.strip()}`"
        for (where, a), (_, b) in zip(self.constants, other.constants):
            if not _same_constant(a, b):
                return (f"a constant used at {where} differs between the first two calls (random "
                        "numbers from a generator passed explicitly, values read from a "
                        "tensor's raw .data or through np.asarray, or a tensor made inside the "
                        "function by numpy code on a tensor's values, e.g. indexing with them)")
        return None

    def compile(self):
        """Write the replay as Python functions (see _Writer and _split) and compile them.

        NOTE: the records are dropped (shrink) and the free lists they leave emptied before
        compile() runs, and each part of the replay is compiled on its own: Python's parser
        holds 2.6 KiB or more a statement until it is done (W2's replay in one piece: 0.48 MiB,
        the largest transient of a jitted run; in two: 0.32 MiB; see _PART)."""
        functions, namespace = _Writer(self).write()
        self.shrink("\n".join(functions))
        self.constants = []
        _empty_free_lists()
        for source in functions:
            exec(compile(source, "<tg.jit replay>", "exec"), namespace)  # noqa: S102
        self.run = namespace["replay"]

    def wait(self):
        """A first trace's tape, waiting for the second: only what same_as needs is kept, its
        lines (packed) and a fingerprint of each constant (NOTE: the constants are held through
        the second trace, the jitted run's peak: W2's 1 KiB of row indices)."""
        self.shrink()
        self.constants = [(where, _fingerprint(a)) for where, a in self.constants]

    def shrink(self, source=""):
        """Drop what only the writer needs; the lines (and the source) stay, compressed (a fifth
        of their size). NOTE: a jitted step should hold little more memory than an eager one: the
        first trace's tape is shrunk too while it waits for the second (same_as needs its lines
        and constants only)."""
        self.packed = zlib.compress(("\n".join(self.lines) + "\0" + source).encode())
        self.entries = self.leaves = self.optimizers = self.args = self.output = None
        self.modules = None  # (read once the trace ended: jit.__call__)
        self.info = []


class _Writer:
    """Writes a tape as the source of one straight-line function `replay(args)`.

    Each slot is a local variable `v<slot>`. The hot primitives (Add, Sub, Mul, Neg, Sum, MatMul,
    Sigmoid, Relu) are written inline as the very numpy calls their forward and backward make
    (so results stay bitwise equal to eager), with the engine's unbroadcast and cast worked out
    from the shapes and dtypes seen while tracing; every other op calls its own forward and
    backward. A few rewrites make fewer calls with provably equal numbers (plan_twins,
    plan_scalar_grads, plan_scatters, dead values; plan_quiet shares Sigmoid's errstate). Each
    value is deleted after its last use, so a replay holds less memory than eager. Opening
    checks (parameters' shapes, dtypes, requires_grad; optimizers' groups and parameter lists)
    raise _Stale before anything has changed."""

    def __init__(self, tape):
        self.tape = tape
        self.ns = {"ndarray": np.ndarray, "asarray": np.asarray, "add_reduce": np.add.reduce,
                   "maximum": np.maximum, "negative": np.negative, "exp": np.exp,
                   "reciprocal": np.reciprocal, "empty": np.empty, "zeros": np.zeros,
                   "tanh": np.tanh, "array": np.array, "broadcast_to": np.broadcast_to,
                   "errstate": np.errstate, "new": object.__new__, "input_grad": _input_grad,
                   "sink": _new_sink, "Stale": _Stale, "id": id, "bool": bool,
                   "BranchChanged": _BranchChanged, "JitError": JitError, "type": type,
                   "tuple": tuple, "incv": increment_version, "mark": mark_modified,
                   "blas_matmul": threads.matmul, "rng": rng, "Tensor": Tensor,
                   "wrap": _HOLDER_TENSOR._from_op}  # wrap(array, None): a Tensor, no graph
        self.names = {}  # id(object) -> its name in ns
        self.lines = []
        self.inline = {}  # ctx slot -> the fwd entry's data, for ops written inline
        self.fwd_code = {}  # id(fwd entry's data) -> its inline code, or None
        self.generic = False  # True once code that may run Tensor-level code is written
        self.unassigned = set()  # slots whose value nothing reads, left out (nothing to delete)
        self.indent = 0  # inside a `with errstate` block (see plan_quiet)
        self.twins, self.scalar_grads = {}, set()  # (see plan_twins, plan_scalar_grads)

    # ------------------------------------------------------------------------- helpers ----
    def const(self, value, hint="k"):
        key = id(value)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"{hint}{len(self.names)}"
            self.ns[name] = value
        return name

    def src(self, template):
        """Source that rebuilds a template: slots as their locals, the rest as constants."""
        if isinstance(template, _Slot):
            return f"v{template.i}"
        if isinstance(template, tuple) and _has_slot(template):
            return "(" + "".join(self.src(t) + ", " for t in template) + ")"
        if isinstance(template, list) and _has_slot(template):
            return "[" + ", ".join(self.src(t) for t in template) + "]"
        if isinstance(template, dict) and _has_slot(template):
            return "{" + ", ".join(f"{k!r}: {self.src(t)}" for k, t in template.items()) + "}"
        if template is None or isinstance(template, bool):
            return repr(template)
        return self.const(template)

    def leaf(self, ref):
        return f"args[{ref}]" if type(ref) is int else self.const(ref, "leaf")

    def emit(self, line):
        self.lines.append("    " * (1 + self.indent) + line)

    def shape(self, s):
        return self.tape.info[s][0]

    def dtype(self, s):
        return self.tape.info[s][1]

    # ------------------------------------------------------------------------- the body ----
    def write(self):
        tape = self.tape
        self.emit_checks()
        for slot, pos, is_tensor in tape.args:
            self.emit(f"v{slot} = args[{pos}]{'.data' if is_tensor else ''}")
        body_start = len(self.lines)
        # which ops are written inline (their backward then reads the forward's slots directly)
        reads = []
        seeds = ()
        for kind, _, data in tape.entries:
            extra = []
            if kind == "begin":
                seeds = data["reads"]
            elif kind == "acc":  # (an accumulation may make the sink, which marks the seeds)
                extra = list(seeds)
            elif kind == "fwd":
                kernel = _KERNELS.get(data["cls"])
                code = kernel[0](self, data) if kernel is not None else None
                self.fwd_code[id(data)] = code
                if code is not None and data["ctx_slot"] is not None:
                    self.inline[data["ctx_slot"]] = data
            elif kind == "bwd" and data["reads"][0] in self.inline:
                fwd = self.inline[data["reads"][0]]
                extra = [t.i for t in _slots_in(fwd["inputs"])] + [fwd["writes"][0]]
            reads.append(list(data["reads"]) + extra)
        self.plan_scatters(reads)
        self.plan_accumulation()
        self.plan_updates()
        keep = {t.i for t in _slots_in(tape.output)}
        # NOTE: values nothing uses are not computed (an LSTM's stacked outputs, when only its
        # final state is used): reads of dead entries do not count, from the end backwards
        needed, dead = set(keep), set()
        for n in range(len(tape.entries) - 1, -1, -1):
            kind, _, data = tape.entries[n]
            if (kind in ("fwd", "np", "load", "add", "bwd") and not data.get("check_shape")
                    and not any(w in needed for w in data["writes"])):
                dead.add(n)
                reads[n] = []
            else:
                needed.update(reads[n])
        last = {}
        for n, r in enumerate(reads):
            for i in r:
                last[i] = n
        self.needed = set(last) | keep
        readers = {}
        for n, r in enumerate(reads):
            for i in r:
                readers.setdefault(i, []).append(n)
        self.plan_twins(readers)
        self.plan_scalar_grads(readers, keep)
        self.plan_relu_in_place(readers, keep, dead)
        quiet_from, quiet_to = self.plan_quiet(dead)
        mutated = False
        for n, (kind, line, data) in enumerate(tape.entries):
            if n in quiet_from:
                self.emit("with errstate(over='ignore'):  # (for the sigmoids' exp; see plan_quiet)")
                self.indent += 1
            self.emit("#" + line.rstrip()[1:])
            if n in dead:
                self.lines[-1] += "  (not needed)"
                self.unassigned.update(data["writes"])
                continue
            # NOTE: interned: CPython's attribute cache keeps the last name looked up in each
            # of its slots, so a fresh "_" + kind string per entry stays allocated (2 KiB)
            getattr(self, sys.intern("_" + kind))(data, mutated)
            mutated = mutated or kind in ("acc", "update", "rebind", "setgrad", "rng")
            drops = [i for i in reads[n] if last.get(i) == n and i not in keep]
            drops += [i for i in data["writes"] if i not in last and i not in keep]
            # NOTE: every value is deleted after its last use, small ones too (a `del` is one
            # bytecode): the replay then holds less than eager, which keeps its graph objects
            drops = [i for i in drops if i not in self.inline and i not in self.unassigned]
            if drops:
                self.emit("del " + ", ".join(f"v{i}" for i in sorted(set(drops))))
            if n in quiet_to:
                self.indent -= 1
        self.emit(f"return {self.output_src(tape.output)}")
        body = self.lines[body_start:]
        del self.lines[body_start:]
        wraps = []
        if self.generic:  # ops' own forward/backward code runs as in a pass that records nothing
            wraps.append((["sw = PER_THREAD.switches; grad_mode = sw.grad_enabled; "
                           "sw.grad_enabled = False"], "sw.grad_enabled = grad_mode"))
            self.ns["PER_THREAD"] = _PER_THREAD
        # NOTE: eager runs a small product on one BLAS thread, and the switch is sticky (see
        # threads.matmul): when all products are small the replay's first one goes through
        # threads.matmul (which switches if needed) and the others are plain `@`
        if tape.small_products and threads._blas() is not None:
            self.ns["threads"] = threads
            first = [f"if threads._restore is None and threads._fixed is None: "
                     f"blas_matmul({self.const(_TINY)}, {self.const(_TINY)})"]
            body = ["    " + line for line in first] + body
        first, *rest = _split(body, self.lines)
        for enter, leave in reversed(wraps):  # (around the first part: the others run inside it)
            first = (["    " + line for line in enter] + ["    try:"]
                     + ["    " + line for line in first] + ["    finally:", "        " + leave])
        return (["\n".join(["def replay(args):"] + self.lines + first) + "\n"]
                + ["\n".join(part) + "\n" for part in rest]), self.ns

    def plan_scatters(self, reads):
        """Gradients of slices of one array summed together (an LSTM's gates): eager makes a
        zero array per slice (GetItem's adjoint) and adds them up; where the slices do not
        overlap, the replay writes every slice into one zero array instead, or into an empty one
        where the slices cover it all. The values are the same (x + 0 = x), except that a zero
        gradient entry may keep its sign (-0.0)."""
        from .ops import GetItem

        readers = {}
        for r in reads:
            for i in r:
                readers[i] = readers.get(i, 0) + 1
        parts = {}  # slot -> (shape, dtype, [(index, grad slot)]): a sum of slice gradients
        self.scatters, self.absorbed, self.covered = {}, set(), {}
        for n, (kind, _, data) in enumerate(self.tape.entries):
            if kind == "bwd" and data["writes"] and data["reads"][0] in self.inline:
                fwd = self.inline[data["reads"][0]]
                if fwd["cls"] is GetItem:
                    g = data["reads"][1]
                    parts[data["writes"][0]] = (self.shape(fwd["inputs"][0].i), self.dtype(g),
                                                [(fwd["settings"]["index"], g)])
            elif kind == "add":
                a, b = data["reads"]
                if (a in parts and b in parts and a != b and readers.get(a) == 1
                        and readers.get(b) == 1 and parts[a][:2] == parts[b][:2]):
                    shape, dtype = parts[a][:2]
                    both = parts[a][2] + parts[b][2]
                    marks = np.zeros(shape, np.int8)
                    for index, _ in both:
                        marks[index] += 1
                    if marks.max(initial=0) <= 1:  # disjoint slices
                        o = data["writes"][0]
                        parts[o] = (shape, dtype, both)
                        self.covered[o] = marks.min(initial=1) == 1  # every entry written
                        self.absorbed |= {a, b}
                        self.scatters[o] = parts[o]
                        reads[n] = [g for _, g in both]
        for o in self.absorbed:
            self.scatters.pop(o, None)

    def plan_accumulation(self):
        """Which backward passes can write each .grad directly: those whose every leaf had its
        .grad set to None earlier in the step (zero_grad inside it), each reached once. Eager's
        accumulation then always takes its first branch (a new .grad holding the gradient, or a
        copy of it where it was handed out already: known from the trace)."""
        none, accs = set(), {}
        for kind, _, data in self.tape.entries:
            if kind == "setgrad":
                key = _leaf_key(data["leaf"])
                if data["value"] is None:
                    none.add(key)
                else:
                    none.discard(key)
            elif kind == "acc":
                key, sink = _leaf_key(data["leaf"]), data["reads"][0]
                accs.setdefault(sink, []).append(key in none)
                none.discard(key)
        self.direct = {sink for sink, hits in accs.items() if all(hits)}

    def plan_updates(self):
        """Optimizer updates come in runs, one per increment_version call (a parameter group);
        the replay writes each run at its last entry, with one version bump for the run."""
        self.runs, run = {}, []
        entries = self.tape.entries
        for n, (kind, _, data) in enumerate(entries):
            if kind != "update":
                continue
            run.append(data)
            nxt = entries[n + 1] if n + 1 < len(entries) else None
            if nxt is None or nxt[0] != "update" or nxt[2]["bump"] != data["bump"]:
                self.runs[id(data)] = run
                run = []
        self.with_grad = set()  # leaves whose .grad is known to be set here (a tape's order)

    def plan_twins(self, readers):
        """x * x: Mul's backward makes g * x twice, and the engine adds the two. The replay
        makes it once and adds it to itself: the same numbers (a + a is exactly 2a)."""
        from .ops import Mul

        made_by = {}
        for n, (kind, _, data) in enumerate(self.tape.entries):
            for o in data.get("writes", ()):
                made_by[o] = n
            if kind != "add" or readers.get(data["writes"][0]) is None:
                continue
            a, b = data["reads"]
            m = made_by.get(a)
            if a == b or m is None or made_by.get(b) != m or readers.get(a) != [n] or \
                    readers.get(b) != [n]:
                continue
            bwd = self.tape.entries[m][2]
            fwd = self.inline.get(bwd["reads"][0]) if self.tape.entries[m][0] == "bwd" else None
            if fwd is not None and fwd["cls"] is Mul and isinstance(fwd["inputs"][0], _Slot) \
                    and fwd["inputs"][0].i == getattr(fwd["inputs"][1], "i", None):
                self.twins[b] = a

    def plan_scalar_grads(self, readers, keep):
        """Sum's backward broadcasts a 0-d gradient to the input's shape (an array of one
        value); where every use of it multiplies it with an array of that shape (Mul's, Sigmoid's,
        Tanh's, Relu's backward), the replay multiplies with the 0-d array instead: the same
        numbers, without making the array."""
        from .ops import Mul, Relu, Sigmoid, Sum, Tanh

        for kind, _, data in self.tape.entries:
            fwd = self.inline.get(data["reads"][0]) if kind == "bwd" else None
            if fwd is None or fwd["cls"] is not Sum or not data["writes"] or \
                    self.shape(data["reads"][1]) != () or data["writes"][0] in keep:
                continue
            o = data["writes"][0]
            full = self.shape(o)
            ok = bool(readers.get(o))
            for n in readers.get(o, ()):
                kind2, _, use = self.tape.entries[n]
                user = self.inline.get(use["reads"][0]) if kind2 == "bwd" else None
                if user is None or use["reads"][1] != o or user["cls"] not in (Mul, Sigmoid, Tanh, Relu) \
                        or o in [t.i for t in _slots_in(user["inputs"])]:
                    ok = False
                elif user["cls"] is Mul:
                    for k, need in enumerate(use["needs"]):
                        other = user["inputs"][1 - k]
                        if need and not (isinstance(other, _Slot) and self.shape(other.i) == full):
                            ok = False
            if ok:
                self.scalar_grads.add(o)

    def plan_relu_in_place(self, readers, keep, dead):
        """A ReLU of a product (nn.Linear -> ReLU) that nothing else reads is computed into the
        product's own array: its backward's mask `x > 0` reads relu(x) then, which is > 0
        exactly where x is (NaN and -0.0 included), and the product's backward never reads its
        output. The same numbers as eager with one activation fewer alive from the forward to
        the backward (W2: 192 KiB less at the replay's peak)."""
        from .ops import MatMul, Relu

        products = {d["writes"][0]: d for kind, _, d in self.tape.entries
                    if kind == "fwd" and d["cls"] is MatMul and self.fwd_code.get(id(d))}
        for n, (kind, _, d) in enumerate(self.tape.entries):
            if kind != "fwd" or d["cls"] is not Relu or n in dead or not self.fwd_code.get(id(d)):
                continue
            x = d["inputs"][0].i
            made = products.get(x)
            if made is None or x in keep:
                continue
            mine = (id(d), id(made))  # the ReLU's and the product's own entries
            if all(m == n or (self.tape.entries[m][0] == "bwd" and id(
                    self.inline.get(self.tape.entries[m][2]["reads"][0])) in mine)
                   for m in readers.get(x, ())):
                self.fwd_code[id(d)] = f"maximum(v{x}, 0, out=v{x})"

    def plan_quiet(self, dead):
        """Sigmoid's forward silences exp's overflow (its limit 0 is right) in a `with
        np.errstate` block, which costs as much as four small numpy calls. Sigmoids with only
        inline forward ops and loads between them share one block.
        NOTE: so an overflow in a product or sum between two sigmoids is not warned about (nor
        raised under np.seterr(over='raise')) in a replay; the numbers are the same as eager's.
        (Hand-written numpy does the same: one errstate around the whole step.)"""
        from .ops import Sigmoid

        starts, ends, run, last = set(), set(), None, None
        for n, (kind, _, data) in enumerate(self.tape.entries):
            if n in dead:
                continue
            inline = kind == "fwd" and self.fwd_code[id(data)] is not None
            if inline and data["cls"] is Sigmoid:
                run = n if run is None else run
                last = n
            elif not (inline or kind == "load") and run is not None:
                if last != run:
                    starts.add(run)
                    ends.add(last)
                run = None
        if run is not None and last != run:
            starts.add(run)
            ends.add(last)
        return starts, ends

    def output_src(self, template):
        if isinstance(template, _TensorSlot):
            return f"wrap(v{template.i}, None)"
        if isinstance(template, tuple):
            return "(" + "".join(self.output_src(t) + ", " for t in template) + ")"
        if isinstance(template, list):
            return "[" + ", ".join(self.output_src(t) for t in template) + "]"
        if isinstance(template, dict):
            return "{" + ", ".join(f"{k!r}: {self.output_src(t)}" for k, t in template.items()) + "}"
        return self.src(template)

    def emit_checks(self):
        """The leaves and optimizers must be as traced (else: trace again): the leaves' shapes,
        dtypes and requires_grad in one comparison; each optimizer's groups (the very dicts the
        updates below read) and their parameters, by identity."""
        now, then = [], []
        for t, shape, dtype, requires_grad in self.tape.leaves.values():
            name = self.const(t, "leaf")
            now.append(f"{name}.data.shape, {name}.data.dtype, {name}.requires_grad, ")
            then += [shape, dtype, requires_grad]
        if now:
            self.emit(f"if ({''.join(now)}) != {self.const(tuple(then), 'traced')}: raise Stale")
        for opt, groups in self.tape.optimizers.values():
            self.emit(f"if list(map(id, {self.const(opt, 'opt')}.param_groups)) != "
                      f"{self.const([id(g) for g, _ in groups], 'ids')}: raise Stale")
            for group, ids in groups:
                self.emit(f"if list(map(id, {self.const(group, 'group')}['params'])) != "
                          f"{self.const(ids, 'ids')}: raise Stale")

    # --------------------------------------------------------------------- entry kinds ----
    def _load(self, d, mutated):
        s, t = d["writes"][0], d["tensor"]
        if t is None:  # a tensor made inside fn that did not outlive it: a constant
            self.emit(f"v{s} = {self.const(d['value'])}")
        else:
            self.emit(f"v{s} = {self.const(t, 'leaf')}.data")

    def _np(self, d, mutated):
        self.generic = True
        outs = d["writes"]
        call = f"{self.const(d['func'], 'f')}(*{self.src(tuple(d['args']))}, **{self.src(d['kwargs'])})"
        if len(outs) == 1:
            self.emit(f"v{outs[0]} = {call}")
        else:
            self.emit(f"{''.join(f'v{s}, ' for s in outs)}= {call}")
        for s in outs:
            if d["check_shape"]:
                self.check_shape(s, d["where"], mutated)

    def check_shape(self, s, where, mutated):
        """A value whose shape depends on values (a boolean mask): the replay must see the shape
        it was traced with, or the shapes written into the code below would be wrong."""
        what = (f"the shape of what {where} made (it depends on values: a boolean mask) "
                "differs from when traced")
        self.emit(f"if asarray(v{s}).shape != {self.shape(s)!r}: raise BranchChanged("
                  f"{what!r}, {mutated})")

    def _rng(self, d, mutated):
        s = d["writes"][0]
        self.emit(f"v{s} = rng.default_generator().{d['name']}(*{self.src(tuple(d['args']))}, "
                  f"**{self.src(d['kwargs'])})")

    def _guard(self, d, mutated):
        s = d["reads"][0]
        what = (f"the branch at {d['where']} (an `if` on a tensor value) went the other way than "
                "when traced")
        self.emit(f"if bool(v{s}) is not {d['value']}: raise BranchChanged({what!r}, {mutated})")

    def _begin(self, d, mutated):
        # (made when a gradient first reaches a .grad that is None: the common accumulation
        # into an existing .grad needs no sink)
        self.emit(f"v{d['writes'][0]} = None")
        self.seeds = d["reads"]

    def _add(self, d, mutated):
        a, b = d["reads"]
        o = d["writes"][0]
        if o in self.absorbed:  # summed into a later scatter (see plan_scatters)
            self.unassigned.add(o)
        elif o in self.scatters:
            shape, _, parts = self.scatters[o]
            make = "empty" if self.covered[o] else "zeros"  # (covered: no entry is left unwritten)
            self.emit(f"v{o} = {make}({shape!r}, dtype=v{parts[0][1]}.dtype)")
            for index, g in parts:
                self.emit(f"v{o}[{self.const(index)}] = v{g}")
        else:
            self.emit(f"v{o} = v{a} + v{self.twins.get(b, b)}")

    def _acc(self, d, mutated):
        sink, g = d["reads"]
        leaf = self.leaf(d["leaf"])
        self.with_grad.add(_leaf_key(d["leaf"]))
        if sink in self.direct:  # (see plan_accumulation)
            value = f"v{g}" if self.tape.info[g][2] else f"asarray(v{g})"
            value = f"array({value}, copy=True)" if d["copied"] else value
            self.emit(f"{leaf}._grad = wrap({value}, None)")
            o = d["writes"][0]
            if o in self.needed:
                self.emit(f"v{o} = {leaf}._grad.data")
            else:
                self.unassigned.add(o)
            return
        self.emit(f"t = {leaf}; gr = t._grad")
        # (as the engine: a 0-d sum is a numpy scalar, kept an ndarray)
        self.emit(f"if gr is not None and not gr.requires_grad: gr.data = asarray(gr.data + v{g})")
        self.emit("else:")
        seeds = "".join(f"v{i}, " for i in self.seeds)
        self.emit(f"    if v{sink} is None: v{sink} = sink(({seeds}))")
        self.emit(f"    v{sink}.accumulate(t, v{g})")
        o = d["writes"][0]
        if o in self.needed:
            self.emit(f"v{o} = t._grad.data")
        else:
            self.unassigned.add(o)

    def _update(self, d, mutated):
        run = self.runs.get(id(d))
        if run is None:  # (written with the last update of its run)
            return
        opt, group = self.const(d["optimizer"], "opt"), self.const(d["group"], "group")
        leaves = [self.leaf(u["leaf"]) for u in run]
        known = all(_leaf_key(u["leaf"]) in self.with_grad for u in run)
        upd = self.const(d["optimizer"].update, "update")
        plain = type(d["optimizer"]).update is SGD.update
        # (not `generic`: Optimizer.step calls update in the caller's grad mode, so does the replay)
        if known:  # every .grad was set earlier in this step: no None checks, one bump
            if plain:  # SGD.update's plain descent, inline (its condition checked once)
                self.emit(f"if not ({group}['momentum'] or {group}['weight_decay'] or "
                          f"{group}['maximize']):")
                self.emit(f"    lr = {group}['lr']")
                for p in leaves:
                    self.emit(f"    {p}.data -= lr * {p}._grad.data")
                self.emit("else:")
                self.emit(f"    for p in ({''.join(p + ', ' for p in leaves)}):")
                self.emit(f"        {upd}(p, p._grad.data, {opt}.state[p], {group})")
            else:
                for p in leaves:
                    self.emit(f"{upd}({p}, {p}._grad.data, {opt}.state[{p}], {group})")
            self.emit(f"incv({', '.join(leaves)})")
            return
        self.emit("bumped = []")
        for p in leaves:
            self.emit(f"p = {p}; gr = p._grad")
            self.emit("if gr is not None:")
            if plain:
                self.emit(f"    if not ({group}['momentum'] or {group}['weight_decay'] or "
                          f"{group}['maximize']): p.data -= {group}['lr'] * gr.data")
                self.emit(f"    else: {upd}(p, gr.data, {opt}.state[p], {group})")
            else:
                self.emit(f"    {upd}(p, gr.data, {opt}.state[p], {group})")
            self.emit("    bumped.append(p)")
        self.emit("if bumped: incv(*bumped)")

    def _rebind(self, d, mutated):
        self.emit(f"t = {self.leaf(d['leaf'])}; t.data = v{d['reads'][0]}; mark(t)")

    def _setgrad(self, d, mutated):
        leaf = self.leaf(d["leaf"])
        (self.with_grad.discard if d["value"] is None else self.with_grad.add)(_leaf_key(d["leaf"]))
        if d["value"] is None:
            self.emit(f"{leaf}._grad = None")
        else:
            self.emit(f"{leaf}._grad = Tensor({self.const(d['value'])}.copy())")

    # -------------------------------------------------------------------------- the ops ----
    def _fwd(self, d, mutated):
        cls, o, c = d["cls"], d["writes"][0], d["ctx_slot"]
        code = self.fwd_code[id(d)]
        if code is not None:
            if self.indent and code[0].startswith("with errstate"):  # in a shared block already
                code = [line[4:] for line in code[1:]]
            for line in [f"OUT = {code}"] if isinstance(code, str) else code:
                self.emit(line.replace("OUT", f"v{o}"))
            return
        self.generic = True
        name = self.const(cls, "op")
        args = ", ".join(self.src(t) for t in d["inputs"])
        st = d["settings"]
        self.emit(f"c = new({name}); c.settings = st = {self.src(st)}; c.saved_tensors = (); "
                  "c.released = False")
        self.emit(f"v{o} = {self.const(cls.forward, 'fwd')}(c, {args}, **st)")
        self.emit(f"if type(v{o}) is not ndarray: v{o} = asarray(v{o})")
        if d["check_shape"]:
            self.check_shape(o, d["where"], mutated)
        if c is not None:
            self.emit(f"c.inputs = {self.const(d['metas'])}; c.needs_input_grad = "
                      f"{self.const(d['needs'])}; v{c} = c")
        self.emit("del c")  # (the op and what it saved live in v<ctx> only: deleted after use)

    def _bwd(self, d, mutated):
        c, g = d["reads"][:2]
        outs, metas, needs, name = d["writes"], d["metas"], d["needs"], d["name"]
        fwd = self.inline.get(c)
        if outs and outs[0] in self.absorbed:  # written by a later scatter (see plan_scatters)
            self.unassigned.add(outs[0])
            return
        if outs and outs[0] in self.scalar_grads:  # (see plan_scalar_grads)
            self.emit(f"v{outs[0]} = v{g}  # 0-d: broadcast where it is used")
            return
        if fwd is not None:
            grads = _KERNELS[fwd["cls"]][1](self, fwd, g)
            n = 0
            gshape = self.shape(g)
            for k, (meta, need) in enumerate(zip(metas, needs)):
                if need and grads[k] is not None:
                    expr, shape = grads[k] if isinstance(grads[k], tuple) else (grads[k], gshape)
                    if outs[n] in self.twins:  # x * x: the second gradient is the first's twin
                        self.unassigned.add(outs[n])
                    else:
                        # (0-d arithmetic gives numpy scalars: the engine makes them arrays)
                        self.finish_grad(outs[n], expr, shape, meta,
                                         scalar=shape == () and expr != f"v{g}")
                    n += 1
            assert n == len(outs), name
            return
        self.generic = True
        self.emit(f"r = {self.const(d['cls'].backward, 'bwd')}(v{c}, v{g})")
        self.emit("if type(r) is not tuple: r = (r,)")
        n = 0
        for k, meta in enumerate(metas):
            if d["sent"][k]:
                self.emit(f"v{outs[n]} = input_grad(r[{k}], {self.const(meta)}, {name!r})")
                n += 1
        self.emit("del r")

    def finish_grad(self, s, expr, gshape, meta, scalar):
        """`v<s> = expr` as the engine's `_as_input_grad` makes it, written out for known shapes:
        a numpy scalar made an array, then the sum over broadcast axes (`grad.sum(...)` in
        autograd.unbroadcast: the same add.reduce, called directly)."""
        temporary = expr == "e"  # (a kernel's scratch name: deleted once used)
        if scalar:
            expr = f"asarray({expr})"
        shape = meta.shape
        extra = len(gshape) - len(shape)
        ones = tuple(i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1)
        if gshape != shape and ones:
            expr = f"add_reduce({expr}, axis={tuple(range(extra)) + ones!r}, keepdims=True)"
            if extra:
                expr += f".reshape({shape!r})"
        elif gshape != shape and extra:
            expr = f"add_reduce({expr}, axis={tuple(range(extra))!r})"
        self.emit(f"v{s} = {expr}" + ("; del e" if temporary else ""))


def _leaf_key(ref):
    return ("arg", ref) if type(ref) is int else id(ref)


def _new_sink(seeds):
    """The backward's _Sink (the engine's leaf accumulation), its seeds marked as handed out."""
    sink = _Sink(_Holder(), None, True)
    for seed in seeds:
        sink.handed.add(id(seed))
    return sink


# --------------------------------------------------------------------------- inline kernels ----
# Each hot primitive as source: (forward, backward). forward(writer, entry) returns an expression
# (or lines writing OUT), or None where the case is not the plain one (then the op's own forward
# and backward run); backward(writer, entry, grad slot) returns one expression per input. They make
# the same numpy calls as the primitive in ops.py, in the same order: tests/test_jit.py checks the
# replay against eager bitwise on every example network.
def _same_float(w, d):
    """The plain case: every operand a slot or a Python number, the slots of one float dtype."""
    out = d["writes"][0]
    dtype = w.dtype(out)
    if np.dtype(dtype).kind != "f":
        return False
    for t in d["inputs"]:
        if isinstance(t, _Slot):
            if w.dtype(t.i) != dtype or not w.tape.info[t.i][2]:
                return False
        elif type(t) not in (int, float):
            return False
    return not d["settings"] or not _has_slot(d["settings"])


def _binary(symbol):
    def fwd(w, d):
        if not _same_float(w, d):
            return None
        a, b = (w.src(t) for t in d["inputs"])
        expr = f"{a} {symbol} {b}"
        return f"asarray({expr})" if w.shape(d["writes"][0]) == () else expr
    return fwd


def _add_bwd(w, d, g):
    return [f"v{g}", f"v{g}"]


def _sub_bwd(w, d, g):
    return [f"v{g}", f"-v{g}"]


def _mul_bwd(w, d, g):
    x, y = (w.src(t) for t in d["inputs"])
    return [f"v{g} * {y}", f"v{g} * {x}"]


def _neg_fwd(w, d):
    return f"asarray(-{w.src(d['inputs'][0])})" if _same_float(w, d) else None


def _neg_bwd(w, d, g):
    return [f"-v{g}"]


def _sum_axes(w, d):
    """Sum.forward's ctx.axes and ctx.in_shape, for the traced input."""
    from .ops import _normalize_axes

    in_shape = w.shape(d["inputs"][0].i)
    axis = d["settings"].get("axis")
    return (None if axis is None else _normalize_axes(axis, len(in_shape))), in_shape


def _sum_fwd(w, d):
    if not _same_float(w, d) or not isinstance(d["inputs"][0], _Slot):
        return None
    axes, keepdims = _sum_axes(w, d)[0], d["settings"].get("keepdims", False)
    x = w.src(d["inputs"][0])
    expr = f"add_reduce({x}, axis={axes!r}, keepdims={bool(keepdims)})"
    return f"asarray({expr})" if w.shape(d["writes"][0]) == () else expr


def _sum_bwd(w, d, g):
    axes, in_shape = _sum_axes(w, d)
    grad = f"v{g}"
    if axes is not None and not d["settings"].get("keepdims") and axes != tuple(range(len(axes))):
        grad = f"v{g}.reshape({tuple(1 if i in axes else n for i, n in enumerate(in_shape))!r})"
    # Expand.forward on the array path (Function.apply makes a numpy scalar an array)
    if int(np.prod(in_shape)) <= 4096:
        w.emit(f"e = empty({in_shape!r}, dtype=v{g}.dtype); e[...] = {grad}")
        return [("e", in_shape)]
    return [(f"broadcast_to({grad}, {in_shape!r})", in_shape)]


def _matmul_fwd(w, d):
    ins = d["inputs"]
    st = d["settings"]
    if not _same_float(w, d) or not all(isinstance(t, _Slot) and len(w.shape(t.i)) == 2
                                        for t in ins[:2]):
        return None
    x, y = (f"v{t.i}" for t in ins[:2])
    a = f"{x}.T" if st.get("transpose_a") else x  # (.T is swapaxes(-1, -2) on these 2-D arrays)
    b = f"{y}.T" if st.get("transpose_b") else y
    product = _product(w, a, b, _multiply_adds(w, d))
    if len(ins) == 2:
        return product
    bias = ins[2]
    out = d["writes"][0]
    if not (isinstance(bias, _Slot) and w.shape(bias.i) == w.shape(out)[-1:]):
        return None
    return [f"OUT = {product}", f"OUT += v{bias.i}"]


_TINY = np.ones((1, 1), np.float32)  # (a product that makes threads.matmul switch: _Writer.write)

# NOTE: statements per separately compiled part of a replay, at most. Python's compile() holds
# 2.6 KiB or more a statement until it returns: W2's replay (about 115 statements) in one piece
# took its jitted run 0.09 MiB above eager's peak, in two it stays 0.04 MiB below. Each cut
# costs a call and a list (W1 at batch 10, cut once at 60: 0.4% more instructions), so a small
# replay (W1's 85 statements) stays whole.
_PART = 100


def _split(body, head):
    """The replay's body lines (after `head`, its checks and arguments) in parts of at most
    about _PART statements, cut only where an entry begins at the body's own indentation (never
    inside a `with`, `if` or `try`). Each part after the first becomes `def replay_part<k>(args,
    box):`; the part before it ends by handing on the values both sides use in a list that the
    next part empties, and deleting its own names for them, so no frame keeps a value alive past
    its last use."""
    statements = sum(1 for line in body if not line.lstrip().startswith("#"))
    parts = -(-statements // _PART)
    if parts < 2:
        return [body]
    size, cuts, count = -(-statements // parts), [], 0
    for n, line in enumerate(body):
        if count >= size and line.startswith("    # %") and len(cuts) < parts - 1:
            cuts.append(n)
            count = 0
        if not line.lstrip().startswith("#"):
            count += 1
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    names = [_names_in(head + pieces[0])] + [_names_in(piece) for piece in pieces[1:]]
    out = [pieces[0]]
    for k in range(1, len(pieces)):
        live = sorted(set().union(*names[:k]) & set().union(*names[k:]) - {"args"},
                      key=lambda name: int(name[1:]))
        handed = ", ".join(live)
        if live:
            out[-1] = out[-1] + [f"    box = [{handed}]", f"    del {handed}"]
        out[-1] = out[-1] + [f"    return replay_part{k}(args, {'box' if live else '[]'})"]
        take = [f"    {handed}{',' if len(live) == 1 else ''} = box", "    box.clear()"] if live else []
        out.append([f"def replay_part{k}(args, box):", *take, *pieces[k]])
    return out


_STRING_OR_COMMENT = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|#[^\n]*""")
_VALUE_NAME = re.compile(r"(?<![\w.])v\d+\b")


def _names_in(lines):
    """The replay's value names (v<slot>) in these lines of code, not in strings or comments
    (the writer's strings are reprs: one line, quotes escaped). NOTE: a regex, not the tokenize
    module, which took 26 ms of the 65 ms an LSTM replay's compile takes."""
    return set(_VALUE_NAME.findall(_STRING_OR_COMMENT.sub(" ", "\n".join(lines))))


def _product(w, a, b, multiply_adds):
    # (the replay switched the BLAS to one thread when every product is small: see _Writer.write;
    # a product that set_num_threads(n > 1) would split still goes through threads.matmul)
    if w.tape.small_products and multiply_adds < threads.SPLIT_PRODUCT:
        return f"{a} @ {b}"
    return f"blas_matmul({a}, {b})"


def _multiply_adds(w, d):
    """m * k * n of a 2-D MatMul entry (each of its gradients' products has as many)."""
    (xs, ys), st = (w.shape(t.i) for t in d["inputs"][:2]), d["settings"]
    m, k = xs[::-1] if st.get("transpose_a") else xs
    n = ys[0] if st.get("transpose_b") else ys[1]
    return m * k * n


def _matmul_bwd(w, d, g):
    x, y = (f"v{t.i}" for t in d["inputs"][:2])
    ta, tb = d["settings"].get("transpose_a", False), d["settings"].get("transpose_b", False)
    gr = f"v{g}"

    multiply_adds = _multiply_adds(w, d)

    def mm(a, b, t_a=False, t_b=False):  # (all 2-D: .T is swapaxes(-1, -2))
        return _product(w, f"{a}.T" if t_a else a, f"{b}.T" if t_b else b, multiply_adds)
    gx = mm(gr, y, t_b=not tb) if not ta else mm(y, gr, t_a=tb, t_b=True)
    gy = mm(x, gr, t_a=not ta) if not tb else mm(gr, x, t_a=True, t_b=ta)
    shapes = [w.shape(t.i) for t in d["inputs"][:2]]
    return [(gx, shapes[0]), (gy, shapes[1]), gr][:len(d["inputs"])]


def _sigmoid_fwd(w, d):
    if not _same_float(w, d):
        return None
    x = w.src(d["inputs"][0])
    negated = f"asarray(negative({x}))" if w.shape(d["writes"][0]) == () else f"negative({x})"
    return ["with errstate(over='ignore'):",
            f"    OUT = {negated}; exp(OUT, out=OUT); OUT += 1; reciprocal(OUT, out=OUT)"]


def _sigmoid_bwd(w, d, g):
    s = f"v{d['writes'][0]}"
    return [f"v{g} * ({s} * (1 - {s}))"]


def _relu_fwd(w, d):
    # NOTE: a large ReLU calls Relu's own forward and backward, which split it over the threads
    # set_num_threads pins (threads.split_rows; W6's conv outputs at two threads)
    if not _same_float(w, d) or math.prod(w.shape(d["writes"][0])) >= threads.ROWS_SPLIT:
        return None
    return f"maximum({w.src(d['inputs'][0])}, 0)"


def _relu_bwd(w, d, g):
    return [f"v{g} * ({w.src(d['inputs'][0])} > 0)"]


def _tanh_fwd(w, d):
    return f"tanh({w.src(d['inputs'][0])})" if _same_float(w, d) else None


def _tanh_bwd(w, d, g):
    t = f"v{d['writes'][0]}"
    return [f"v{g} * (1 - {t} * {t})"]


def _getitem_fwd(w, d):
    from .ops import _is_basic_index

    index = d["settings"]["index"]
    if not _same_float(w, d) or not _is_basic_index(index):
        return None
    expr = f"{w.src(d['inputs'][0])}[{w.const(index)}]"
    return f"asarray({expr})" if w.shape(d["writes"][0]) == () else expr


def _getitem_bwd(w, d, g):
    # ScatterAdd.forward with a basic index (it never repeats a position)
    in_shape = w.shape(d["inputs"][0].i)
    w.emit(f"e = zeros({in_shape!r}, dtype=v{g}.dtype); e[{w.const(d['settings']['index'])}] = v{g}")
    return [("e", in_shape)]


def _reshape_fwd(w, d):
    if not _same_float(w, d):
        return None
    return f"{w.src(d['inputs'][0])}.reshape({w.const(d['settings']['shape'])})"


def _reshape_bwd(w, d, g):
    in_shape = w.shape(d["inputs"][0].i)
    return [(f"v{g}.reshape({in_shape!r})", in_shape)]


def _kernels():
    from . import ops

    return {ops.Add: (_binary("+"), _add_bwd), ops.Sub: (_binary("-"), _sub_bwd),
            ops.Mul: (_binary("*"), _mul_bwd), ops.Neg: (_neg_fwd, _neg_bwd),
            ops.Sum: (_sum_fwd, _sum_bwd), ops.MatMul: (_matmul_fwd, _matmul_bwd),
            ops.Sigmoid: (_sigmoid_fwd, _sigmoid_bwd), ops.Relu: (_relu_fwd, _relu_bwd),
            ops.Tanh: (_tanh_fwd, _tanh_bwd), ops.GetItem: (_getitem_fwd, _getitem_bwd),
            ops.Reshape: (_reshape_fwd, _reshape_bwd)}


_KERNELS = _kernels()


class _Holder:
    """What _Sink needs of a root: a way to make Tensors."""

    _from_op = staticmethod(lambda data, ctx: Tensor._from_op(_HOLDER_TENSOR, data, ctx))


_HOLDER_TENSOR = Tensor(np.zeros(()))


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


# ------------------------------------------------------------------------------ recording ----
_VALUE_SHAPED = {"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract", "trim_zeros",
                 "unique_values", "unique_counts", "unique_inverse", "unique_all"}
_SHAPE_ONLY = {"shape", "ndim", "size", "result_type", "can_cast", "min_scalar_type",
               "may_share_memory", "shares_memory", "iscomplexobj", "isrealobj"}


class _Known:
    """The slot of each array met while tracing. An array the trace registered (a _Traced view)
    carries its slot itself, with this table's token (a view that outlived an earlier trace is
    not taken for one of this one's); other arrays (parameters', gradients') are found by
    identity, held weakly (so a trace holds no more memory than an eager call: intermediates die
    as they would) unless held anyway, and since Python reuses a dead object's id, a hit counts
    only if it is the same object.

    NOTE: a trace's records are what it holds above an eager call at the forward's peak: the
    view's two slots take the place of the __dict__ pointer and the alignment it had (a view is
    144 bytes either way), where a weak reference, two dict entries and two id() ints cost
    about 290 bytes an array. Which views are still alive when fn returned is read from the
    token's reference count (see alive)."""

    __slots__ = ("_refs", "_slots", "token", "held")

    def __init__(self, held):
        self._refs = {}  # id(array) -> a reference to it
        self._slots = {}  # id(array) -> its slot
        self.token = object()
        self.held = held  # id(array) -> (tensor, array, slot, ...): leaves' (see _Recorder.first)

    def register(self, array, slot):
        """`array`, a _Traced view made by this trace, holds `slot`."""
        array._slot, array._known = slot, self.token

    def __setitem__(self, array, slot):
        if type(array) is _Traced and getattr(array, "_known", None) is self.token:
            array._slot = slot
            return
        try:
            ref = weakref.ref(array)
        except TypeError:  # numpy scalars take no weak references: held
            ref = array
        key = id(array)
        self._refs[key] = ref
        self._slots[key] = slot

    def get(self, array):
        if type(array) is _Traced and getattr(array, "_known", None) is self.token:
            return array._slot
        leaf = self.held.get(id(array))
        if leaf is not None and leaf[1] is array:
            return leaf[2]
        ref = self._refs.get(id(array))
        if ref is None or ref is not array and (type(ref) is not weakref.ref or ref() is not array):
            return None
        return self._slots[id(array)]

    def __contains__(self, array):
        return self.get(array) is not None

    def alive(self):
        """The registered arrays still alive: each holds a reference to the token.
        NOTE: CPython's reference count (the token is a plain object, never immortal); which
        they are is asked of the collector (gc.get_referrers), only when some are."""
        count = sys.getrefcount(self.token) - 2  # (this table's, and getrefcount's argument)
        if not count:
            return []
        return [x for x in gc.get_referrers(self.token) if type(x) is _Traced]

    def clear(self):
        self._refs.clear()
        self._slots.clear()
        self.token = object()
        self.held = {}


_NOTHING = {}  # (the settings of an op that has none: one dict, never written to)
_NEEDS = {}  # each distinct needs_input_grad of an op, kept once


class _Recorder:
    """Watches one eager call of fn (installed as `autograd.STATE.recorder`) and writes its tape.

    NOTE: while fn runs, each entry is kept as a short tuple (`records`: its kind, then what
    cannot be worked out later), and made into the tape's printable entries (kind, line, data)
    only when fn has returned (`entries`): a trace's records are what it holds above an eager
    call at the forward's peak (the step's activations all alive). So no line is printed, no
    dict made and no input shape kept while fn runs (the slots' info has them), and what repeats
    (places in the code, shapes, slot infos) is kept once."""

    __slots__ = ("tape", "records", "ids", "shared", "metas", "ctxs", "first", "written", "args",
                 "known")

    def __init__(self):
        self.tape = Tape()
        self.records = []  # one tuple per entry, (kind, ...): see entries()
        # id(a leaf's array) -> (the tensor, the array, its slot, requires_grad, a digest of its
        # values) when first read (its load entry is made when fn returned)
        self.first = {}
        self.ids = _Known(self.first)  # array -> slot of the value it holds
        # each distinct place in user code, shape, (shape, dtype, is an ndarray) met, kept once
        # (objects of these types never compare equal)
        self.shared = {}
        self.metas = {}  # (shape, dtype) -> its _Meta, shared by the entries
        self.ctxs = {}  # op -> slot of the replayed op
        self.written = {}  # ids of leaves changed by a recorded update or rebinding
        self.args = ()  # fn's arguments
        self.known = {}  # id(module) -> module: the jitted function's (not made tape.modules again)

    # ----------------------------------------------------------------------------- slots ----
    def slot(self):
        self.tape.info.append(None)  # (see note)
        self.tape.nslots += 1
        return self.tape.nslots - 1

    def place(self):
        """_where(), one string per place."""
        where = _where()
        return self.shared.setdefault(where, where)

    def shape(self, shape):
        return self.shared.setdefault(shape, shape)

    def meta(self, shape, dtype):
        key = (shape, dtype)
        meta = self.metas.get(key)
        if meta is None:
            meta = self.metas[key] = _Meta(self.shape(shape), dtype)
        return meta

    def register(self, array):
        """Know `array` (an entry's result) as a new slot; return it marked as traced."""
        if type(array) is not _Traced:
            array = (array if isinstance(array, np.ndarray) else np.asarray(array)).view(_Traced)
        s = self.slot()
        self.note(s, array)
        self.ids.register(array, s)
        return array, s

    def note(self, s, value):
        """Remember the shape and dtype slot `s` held when traced (the replay's code uses them)."""
        kind = (np.shape(value), _dtype(value),
                type(value) is np.ndarray or isinstance(value, _Traced))
        self.tape.info[s] = self.shared.setdefault(kind, kind)

    def leaf(self, t, where="?"):
        """A leaf tensor (a parameter, or a tensor made before it was used) read when used."""
        s = self.slot()
        data = t.data
        if not t.requires_grad:
            # NOTE: compared between the two traces, like any constant: a tensor made inside fn
            # from values the tape cannot see (numpy indexing with a tensor's values) would
            # otherwise be replayed stale
            self.tape.constants.append((f"{_at(where)} (a tensor that does not require grad)",
                                        data))
        self.note(s, data)  # (its shape and dtype when first read: see _finish)
        self.first[id(data)] = (t, data, s, t.requires_grad, _digest(data))
        return s

    def leaf_ref(self, t):
        """How a replay finds the leaf tensor `t`: an argument by position (an int), else the
        tensor itself."""
        for pos, a in enumerate(self.args):
            if a is t:
                return pos
        return t

    def template(self, value, where):
        """An op's input or setting as a template: known arrays become slot references, other
        arrays constants; values derived from tensors in ways the tape cannot replay refuse. A
        tuple, or the op's own settings, that holds no array comes back as it is (not copied).
        `where`: the place, for messages, or the op's class (see _at, apply)."""
        if isinstance(value, Node):
            s = self.ids.get(value.data)
            if s is not None:
                return _Slot(s)
            if value._ctx is not None:
                raise JitError(
                    f"tg.jit: at {_at(where)} the function uses a tensor computed before it was "
                    "called, with its graph; the replay cannot backpropagate into that graph. "
                    "Pass the tensor as an argument (detached), or compute it inside the "
                    "function.")
            return _Slot(self.leaf(value, where))
        if isinstance(value, np.ndarray):
            s = self.ids.get(value)
            if s is not None:
                return _Slot(s)
            base = value.base
            while isinstance(base, np.ndarray):
                if isinstance(base, _Traced) or base in self.ids:
                    break
                base = base.base
            if isinstance(value, _Traced) or isinstance(base, np.ndarray):
                raise JitError(
                    f"tg.jit: at {_at(where)} an array made from a tensor's values by numpy code "
                    "the tape cannot record is used; write that computation with Tensor "
                    "operations, or move it out of the jitted function.")
            self.tape.constants.append((where, value))
            return value
        if isinstance(value, np.generic):
            self.tape.constants.append((where, np.asarray(value)))
            return value
        if isinstance(value, (tuple, list)):
            items = [self.template(x, where) for x in value]
            if type(value) is tuple and all(a is b for a, b in zip(items, value)):
                return value
            return type(value)(items)
        if isinstance(value, dict):
            return {k: self.template(x, where) for k, x in value.items()}
        return value

    def inputs(self, values, where):
        """Positional inputs (an op's, a numpy call's) as a template with each known array or
        tensor as its bare slot number, and a mask: bit k set where the k-th is one (see
        _decode). NOTE: a _Slot object is 40 bytes, most inputs are slots."""
        items, mask = [], 0
        for k, x in enumerate(values):
            t = self.template(x, where)
            if type(t) is _Slot:
                t = t.i
                mask |= 1 << k
            items.append(t)
        return tuple(items), mask

    def settings(self, settings, where):
        """An op's settings (or a numpy call's keywords: a dict made for this call) as a
        template: the dict itself where it holds no array or tensor."""
        if not settings:
            return _NOTHING
        st = self.template(settings, where)
        return settings if all(st[k] is v for k, v in settings.items()) else st

    # --------------------------------------------------------------------- hooks (autograd) ----
    def apply(self, cls, inputs, settings):
        """An op: record it, then run it as eager would (with the recorder stepped aside).

        NOTE: the place in the user's code is looked up after the op ran: finding it makes a
        frame object for every frame walked through (about 230 bytes each), which lives as long
        as its frame runs, so during the op's own peak only those made before are alive."""
        constants = len(self.tape.constants)
        ins, mask = self.inputs(inputs, cls)
        st = self.settings(settings, cls)
        STATE.recorder = None
        try:
            out = cls.apply(*inputs, **settings)
        finally:
            STATE.recorder = self
        place = self.place()
        where = f"{cls.__name__} ({place})"
        for n in range(constants, len(self.tape.constants)):  # (the op's own: where is known now)
            if self.tape.constants[n][0] is cls:
                self.tape.constants[n] = (where, self.tape.constants[n][1])
        out.data, s = self.register(out.data)
        ctx = out._ctx
        if ctx is not None:  # (the record's dict, not a copy of it: as eager, one dict an op)
            ctx.settings = settings or _NOTHING
        if cls.__name__ == "MatMul" and self.tape.small_products is not False:
            a, b = np.shape(_plain(_data(inputs[0]))), np.shape(_plain(_data(inputs[1])))
            self.tape.small_products = (a[-1] * (a[-2] if len(a) > 1 else 1)
                                        * (b[-1] if len(b) > 1 else 1) < threads.SMALL_PRODUCT)
        c = needs = metas = None
        if ctx is not None:
            if not isinstance(ctx, Primitive):
                raise JitError(f"tg.jit: {where}: the user-defined Function {cls.__name__} needs "
                               "a gradient; tg.jit replays only the built-in primitives. Run "
                               "this step without tg.jit.")
            c = self.slot()
            self.ctxs[ctx] = c  # (an op hashes by identity)
            needs = tuple(ctx.needs_input_grad)
            needs = _NEEDS.setdefault(needs, needs)
            if any(isinstance(t, (tuple, list, dict)) for t in ins):  # (else: from the slots' info)
                metas = tuple(self.meta(np.shape(_plain(x.data if isinstance(x, Node) else x)),
                                        _dtype(x)) for x in inputs)
        for m in STATE.scope or ():
            if id(m) not in self.known:
                self.tape.modules[id(m)] = m
        self.records.append(("fwd", s, c, cls, ins, st, mask, needs, metas, place))
        return out

    def has_mask(self, template):
        """True if a boolean array computed in fn is among `template`'s slots: used as an index,
        it makes a result whose shape depends on values."""
        return any(np.dtype(self.tape.info[t.i][1]) == np.bool_ for t in _slots_in(template))

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
                self.records.append(("load", s, t))
                self.note(s, t)
                seed_slots.append(s)
        sink = _Sink(roots[0], None, True)
        for g in root_grads:
            sink.handed.add(id(g.data))
        sink_slot = self.slot()
        self.records.append(("begin", tuple(seed_slots), sink_slot))
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
                            self.records.append(("acc", sink_slot, gs, o, self.leaf_ref(node),
                                                 node._grad.data is not g, self.shape(node.shape)))
                            self.note(o, node._grad.data)
                            self.ids[node._grad.data] = o
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
                            self.records.append(("add", summed[1], gs, o))
                            pending[key] = (summed[0] + g, o)
                            self.note(o, pending[key][0])
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
        c = self.ctxs.get(ctx)
        if c is None:
            raise JitError(f"tg.jit: backward reached {ctx.name}, recorded before the jitted "
                           "function was called; the replay cannot backpropagate into it. Compute "
                           "that part inside the function, or detach it.")
        inputs = ctx.inputs
        pairs = _call_backward(ctx, g, True, True)  # (the recorder releases the op itself)
        outs = []
        arrivals = []
        for inp, ig in pairs:
            o = self.slot()
            self.note(o, ig)
            outs.append(o)
            arrivals.append((inp, ig, o))
        sent, k = [], 0  # which inputs got a gradient (pairs keep the inputs' order)
        for inp, need in zip(ctx.inputs, ctx.needs_input_grad):
            hit = need and k < len(pairs) and pairs[k][0] is inp
            sent.append(hit)
            k += hit
        metas = tuple(self.meta(x.data.shape, x.data.dtype) if isinstance(x, Node) else
                      self.meta(np.shape(x), _dtype(x)) for x in inputs)
        self.records.append(("bwd", c, gs, tuple(outs), type(ctx), ctx.name, metas,
                             ctx.needs_input_grad, sent))  # (the op's own list)
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
                self.tape.optimizers[id(owner)] = (owner, [(g, [id(p) for p in g["params"]])
                                                           for g in owner.param_groups])
                # (one increment_version call bumps a group's tensors to one new version)
                self.records.append(("update", owner, group, self.leaf_ref(tensor),
                                     self.shape(tensor.shape), tensor._version))
                self.written[id(tensor)] = True
                return
            frame = frame.f_back
        raise JitError(f"tg.jit: at {_where()} a tensor is changed in place (increment_version) "
                       "by code the tape cannot replay; only Optimizer.step()'s updates are "
                       "replayed. Move that change out of the jitted function.")

    def rebound(self, node):
        """mark_modified(node): an in-place Tensor operation (`p -= lr * p.grad`) rebinding a
        tensor to an op's result."""
        s = self.ids.get(node.data)
        if s is None:
            raise JitError(f"tg.jit: at {_where()} a tensor was rebound to a value the tape did "
                           "not record; move that assignment out of the jitted function.")
        if node._ctx is None and (any(a is node for a in self.args) or
                                  any(leaf[0] is node for leaf in self.first.values())):
            self.records.append(("rebind", s, self.leaf_ref(node), self.shape(node.shape)))
            self.written[id(node)] = True

    def set_grad(self, node, value):
        """`t.grad = None` (zero_grad) or a constant gradient."""
        if value is not None and (isinstance(value.data, _Traced) or value.data in self.ids):
            raise JitError(f"tg.jit: at {_where()} a computed value is assigned to .grad; the "
                           "replay cannot follow it. Move the assignment out of the function.")
        const = None if value is None else np.array(value.data, copy=True)
        self.records.append(("setgrad", self.leaf_ref(node), self.shape(node.shape), const))

    # -------------------------------------------------------------- hooks (numpy, random) ----
    def numpy_call(self, func, args, kwargs, result, name):
        """A numpy call on traced values outside the ops: recorded, its result traced (its name
        kept only where _numpy_name does not give it)."""
        fname = getattr(func, "__name__", "")
        if fname in _SHAPE_ONLY:
            return result
        place = self.place()
        where = f"{name} ({place})"
        (targs, mask), tkwargs = self.inputs(args, where), self.settings(kwargs, where)
        results = result if isinstance(result, tuple) else (result,)
        outs, wrapped = [], []
        for r in results:
            if not isinstance(r, (np.ndarray, np.generic, bool, int, float)):
                self.refuse_escape(name)
            arr, s = self.register(r)
            outs.append(s)
            wrapped.append(arr)
        value_shaped = fname in _VALUE_SHAPED or (fname in ("__getitem__", "compress", "extract")
                                                  and self.has_mask((_decode(targs, mask),
                                                                     tkwargs)))
        self.records.append(("np", outs[0] if len(outs) == 1 else tuple(outs), func,
                             None if name == _numpy_name(func) else name, targs, tkwargs, mask,
                             place, value_shaped))
        return tuple(wrapped) if isinstance(result, tuple) else wrapped[0]

    def random_draw(self, name, args, kwargs, result):
        place = self.place()
        where = f"random.{name} ({place})"
        (targs, mask), tkwargs = self.inputs(args, where), self.settings(kwargs, where)
        if not isinstance(result, (np.ndarray, np.generic, float, int)):
            raise JitError(f"tg.jit: {where}: this draw cannot be replayed; move it out")
        arr, s = self.register(result)
        self.records.append(("rng", s, name, place, targs, tkwargs, mask))
        return arr

    def guard(self, array, value):
        where = self.place()
        s = self.ids.get(array)
        if s is None:
            raise JitError(f"tg.jit: at {where} an `if` depends on a value the tape cannot "
                           "recompute; move that check out of the jitted function.")
        self.records.append(("guard", s, value, where))

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

    # ------------------------------------------------------------------- once fn returned ----
    def made_by(self, array):
        """Where a traced array was made (for a message)."""
        s = self.ids.get(array)
        for slot, pos, _ in self.tape.args:
            if slot == s:
                return f"argument {pos}"
        for r in self.records:
            if r[0] == "fwd" and r[1] == s:
                return f"{r[3].__name__} ({r[9]})"
            if r[0] == "np" and s in (r[1] if type(r[1]) is tuple else (r[1],)):
                return f"{r[3] or _numpy_name(r[2])} ({r[7]})"
            if r[0] == "rng" and r[1] == s:
                return f"random.{r[2]} ({r[3]})"
        return "?"

    def entries(self, loads):
        """The records as the tape's entries: (kind, line, data), data what the writer reads.
        `loads`: slot -> (the tensor or None, its array) of each leaf read: its load entry goes
        before the first entry that reads it (where it was met)."""
        info = self.tape.info
        metas = {}  # (one tuple per distinct list of input shapes and dtypes)

        def meta(t):
            if isinstance(t, _Slot):
                shape, dtype, _ = info[t.i]
                return self.meta(shape, dtype)
            return self.meta(np.shape(t), _dtype(t))

        entries, records = [], self.records
        for n, r in enumerate(records):
            records[n] = None  # (each record let go as its entry is made)
            kind = r[0]
            if kind in ("fwd", "np", "rng"):
                r = (*r[:4], _decode(r[4], r[6]), *r[5:])  # (inputs or args, then settings)
                for t in _slots_in((r[4], r[5])):
                    leaf = loads.pop(t.i, None)
                    if leaf is not None:
                        shape, dtype, _ = info[t.i]
                        entries.append(("load", f"  %{t.i} = load tensor{list(shape)}:"
                                        f"{_name(dtype)}", {"reads": (), "writes": (t.i,),
                                                            "tensor": leaf[0], "value": leaf[1]}))
            if kind == "fwd":
                _, s, c, cls, ins, st, _, needs, ms, place = r
                if c is not None and ms is None:
                    ms = tuple([meta(t) for t in ins])
                    ms = metas.setdefault(ms, ms)
                shown = ", ".join(_show(t) for t in ins) + (", " + _show(st) if st else "")
                line = f"%{s} = {cls.__name__}({shown})"
                reads = [t.i for t in _slots_in(ins)] + [t.i for t in _slots_in(st)]
                data = {"reads": tuple(reads), "writes": (s,) if c is None else (s, c),
                        "cls": cls, "inputs": ins,
                        "settings": st, "ctx_slot": c, "metas": ms, "needs": needs,
                        "where": f"{cls.__name__} ({place})", "check_shape": self.has_mask(st)}
            elif kind == "bwd":
                _, c, gs, outs, cls, name, ms, needs, sent = r
                line = f"{', '.join(f'%{o}' for o in outs) or '(nothing)'} = {name}.backward(%{gs})"
                data = {"reads": (c, gs), "writes": outs, "cls": cls, "metas": ms, "needs": needs,
                        "name": name, "sent": sent}
            elif kind == "load":  # a constant (the backward's seed)
                _, s, value = r
                line = f"%{s} = {_show(value)}"
                data = {"reads": (), "writes": (s,), "tensor": None, "value": value}
            elif kind == "np":
                _, outs, func, name, targs, tkwargs, _, place, check = r
                outs = outs if type(outs) is tuple else (outs,)
                name = name or _numpy_name(func)
                shown = ", ".join(_show(t) for t in targs)
                shown += ", " + _show(tkwargs) if tkwargs else ""
                line = f"{', '.join(f'%{s}' for s in outs)} = {name}({shown})"
                data = {"reads": tuple(t.i for t in _slots_in((targs, tkwargs))), "writes": outs,
                        "func": func, "name": name, "args": targs, "kwargs": tkwargs,
                        "where": f"{name} ({place})", "check_shape": check}
            elif kind == "acc":
                _, sink, gs, o, leaf, copied, shape = r
                line = f"%{o} = accumulate %{gs} into .grad of tensor{list(shape)}"
                data = {"reads": (sink, gs), "writes": (o,), "leaf": leaf, "copied": copied}
            elif kind == "add":
                _, a, b, o = r
                line = f"%{o} = %{a} + %{b}"
                data = {"reads": (a, b), "writes": (o,)}
            elif kind == "begin":
                _, seeds, sink = r
                line = f"%{sink} = backward from %{list(seeds)}"
                data = {"reads": seeds, "writes": (sink,)}
            elif kind == "update":
                _, owner, group, leaf, shape, bump = r
                line = f"{type(owner).__name__}.update(tensor{list(shape)})"
                data = {"reads": (), "writes": (), "optimizer": owner, "group": group,
                        "leaf": leaf, "bump": bump}
            elif kind == "rebind":
                _, s, leaf, shape = r
                line = f"tensor{list(shape)} := %{s}"
                data = {"reads": (s,), "writes": (), "leaf": leaf}
            elif kind == "setgrad":
                _, leaf, shape, const = r
                line = f".grad of tensor{list(shape)} := " + ("None" if const is None else
                                                               _show(const))
                data = {"reads": (), "writes": (), "leaf": leaf, "value": const}
            elif kind == "rng":
                _, s, name, _, targs, tkwargs, _ = r
                line = f"%{s} = random.{name}({_show(targs)[1:-1]})"
                data = {"reads": tuple(t.i for t in _slots_in((targs, tkwargs))), "writes": (s,),
                        "name": name, "args": targs, "kwargs": tkwargs}
            else:  # guard
                _, s, value, where = r
                line = f"guard bool(%{s}) is {value}  ({where})"
                data = {"reads": (s,), "writes": (), "value": value, "where": where}
            entries.append((kind, "  " + line, data))
        return entries


def _decode(values, mask):
    """Inputs recorded with bare slot numbers (_Recorder.inputs) as a template."""
    return tuple([_Slot(x) if mask >> k & 1 else x for k, x in enumerate(values)])


def _numpy_name(func):
    """The name a numpy call is shown with (as _Traced's hooks name it)."""
    if isinstance(func, np.ufunc):
        return f"np.{func.__name__}.__call__"
    owner = getattr(func, "__self__", None)
    if isinstance(owner, np.ufunc):
        return f"np.{owner.__name__}.{func.__name__}"
    if getattr(func, "__objclass__", None) is np.ndarray:
        return f"ndarray.{func.__name__}"
    return f"np.{getattr(func, '__name__', '?')}"


def _at(where):
    """A place for a message: an op's class (see _Recorder.apply) stands for its name and the
    line of user code running it."""
    return f"{where.__name__} ({_where()})" if isinstance(where, type) else where


def _data(x):
    return x.data if isinstance(x, Node) else np.asarray(x)


def _dtype(x):
    if isinstance(x, Node):
        return x.data.dtype
    return np.asarray(x).dtype if not isinstance(x, (int, float)) else np.result_type(x)


def _key_of(value):
    """What part of an argument the tape depends on (its cache key)."""
    if type(value) is Tensor:  # (the common case first: a step's batch)
        data = value.data
        return (data.shape, data.dtype, value.requires_grad)
    if isinstance(value, Tensor):
        return ("T", value.data.shape, value.data.dtype.str, value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("A", value.shape, value.dtype.str)
    if isinstance(value, (int, float, bool, str, type(None))):
        return ("S", type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        return ("L", tuple(_key_of(x) for x in value))
    return ("O", id(value))


def _trace(fn, args, kwargs, modules=None):
    """Call fn eagerly with a recorder installed; return (its result, the tape). `modules`: id ->
    module, those known already (the tape's modules are the others that ran)."""
    if any(isinstance(v, (Tensor, np.ndarray)) for v in kwargs.values()):
        raise JitError("tg.jit: pass tensors and arrays to a jitted function positionally (they "
                       "become the tape's inputs); keyword arguments are taken as constants")
    rec = _Recorder()
    rec.args = args
    rec.known = modules or {}
    tape = rec.tape
    call_args, restore = list(args), []
    for pos, a in enumerate(args):
        if isinstance(a, Tensor):
            data = a.data
            a.data, s = rec.register(data)
            restore.append((a, data, a.data))
            tape.args.append((s, pos, True))
        elif isinstance(a, np.ndarray):
            call_args[pos], s = rec.register(a)
            tape.args.append((s, pos, False))
    real = rng.default_generator()
    rng._generator = _RecordingGenerator(real, rec)
    prev, STATE.recorder = STATE.recorder, rec
    try:
        result = fn(*call_args, **kwargs)
    finally:
        STATE.recorder = prev
        if isinstance(rng._generator, _RecordingGenerator):
            rng._generator = real
        for a, data, view in restore:  # (an argument rebound inside fn keeps its new value)
            a.data = data if a.data is view else _plain_copy(a.data)
        restore = view = None  # (the views die with fn's values: see _finish)
    del call_args
    _finish(rec, result)
    return result, tape


def _finish(rec, result):
    """After the traced call: the output template, plain arrays for what the caller keeps, and
    the checks that need fn to have returned."""
    tape = rec.tape
    tape.output = _output_template(rec, result)
    for t, *_ in rec.first.values():  # rebound leaves keep a plain array
        if isinstance(t.data, _Traced):
            t.data = np.array(t.data, copy=True).view(np.ndarray)
    for t, data, s, _, digest in rec.first.values():  # a leaf changed by code the tape did not see
        shape, dtype, _ = tape.info[s]
        if id(t) not in rec.written and (t.data is not data or t.data.shape != shape or
                                         t.data.dtype != dtype or _digest(t.data) != digest):
            raise JitError(
                f"tg.jit: a tensor of shape {t.shape} used by the function was changed in place "
                "by code the tape did not see (e.g. p.data -= lr * p.grad.data); the replay "
                "would not repeat it. Use an optimizer, or `with no_grad(): p -= lr * p.grad`, "
                "or move the update out of the jitted function.")
    leaves, loads = {}, {}  # (the tensors' references from here on: weak)
    for t, data, s, requires_grad, _ in rec.first.values():
        leaves.setdefault(id(t), (weakref.ref(t), *tape.info[s][:2], requires_grad))
        loads[s] = (weakref.ref(t), data)
    for ctx in rec.ctxs:  # the graph fn leaves behind (drawable) keeps plain copies
        ctx.settings = _plain_copy(ctx.settings)
        if getattr(ctx, "inputs", None) is not None:
            ctx.inputs = tuple(_plain_copy(x) for x in ctx.inputs)
            ctx.edges = [_plain_copy(x) for x in ctx.edges]
            for x in ctx.inputs:
                if isinstance(x, Node) and isinstance(x.data, _Traced):
                    x.data = _plain_copy(x.data)
    rec.ctxs.clear()
    rec.first.clear()
    # NOTE: reference counting frees almost everything at once; a full gc.collect() (80 ms in a
    # process holding a large dataset and torch) only runs when something still looks alive
    if rec.ids.alive():
        gc.collect()
    alive = rec.ids.alive()
    if alive:
        made_by = rec.made_by(min(alive, key=rec.ids.get))
        del alive
        raise JitError(
            f"tg.jit: a value computed inside the jitted function (by {made_by}) is still "
            "referenced after it returned (kept in a list or an attribute, e.g. BatchNorm's "
            "running statistics, or a tensor's .data); a replay would not update it. Return "
            "it instead, or run this step without tg.jit.")
    rec.ids.clear()
    # (the leaves alive now are read at each replay, the others are constants)
    tape.entries = rec.entries({s: (ref(), data) for s, (ref, data) in loads.items()})
    rec.records = None
    tape.leaves = {k: (ref(), *rest) for k, (ref, *rest) in leaves.items() if ref() is not None}


def _empty_free_lists():
    """Give back what a trace's records left in CPython's free lists.

    NOTE: a trace frees its records (thousands of small lists, dicts and tuples) at once, and
    CPython keeps up to 80 lists, 80 dicts and 2000 tuples of each length on free lists for
    reuse; a replay makes few such objects, so they stay allocated for the rest of the run
    (W2: 17 KiB, counted by tracemalloc). Only a full collection empties the free lists; with
    every object frozen first (gc.freeze) it traverses nothing: 0.1 ms instead of 6 ms (60 ms
    with torch imported). Skipped where the program froze objects itself (gc.unfreeze would
    thaw them)."""
    if gc.get_freeze_count():
        return
    gc.freeze()
    try:
        gc.collect()
    finally:
        gc.unfreeze()


def _digest(array):
    """A fingerprint of an array's values (a copy of every parameter would raise the trace's peak
    memory above eager's): two 32-bit checksums of its bytes. NOTE: not blake2b, 8x slower (6 ms
    of a 784-256-128-10 network's two traces); a change that leaves both CRC-32 and Adler-32 as
    they were is not something an update does."""
    data = np.ascontiguousarray(_plain(array)).reshape(-1).view(np.uint8)  # (0-d, empty: fine)
    return zlib.crc32(data) << 32 | zlib.adler32(data)


def _same_constant(a, b):
    """Tape.same_as's comparison of a constant of the first trace (the array, or its
    fingerprint: see Tape.wait) with the second's, as np.array_equal(..., equal_nan=True)."""
    if type(a) is not tuple:
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if a[3]() is b:  # (the same array, changed in place or not: the replay reads it live)
        return True
    return b.dtype.kind in "biufc" and _fingerprint(np.ascontiguousarray(b))[:3] == a[:3]


_BLOCK = 1 << 16  # (items: _fingerprint's blocks)


def _fingerprint(array):
    """What Tape.wait keeps of a constant: its shape, dtype, a digest of its values, made
    canonical so that arrays np.array_equal(..., equal_nan=True) calls equal have one digest (-0.0
    as 0.0, every NaN as one), block by block (no copy of a large constant), and a weak reference
    to it (the same array, changed in place, is the same constant: the replay reads it live); the
    array itself where equality is not a matter of bytes (objects, strings, dates) or it is not
    contiguous."""
    if array.dtype.kind not in "biufc" or not array.flags.c_contiguous:
        return array
    flat = _plain(array).reshape(-1)
    crc, adler = 0, 1
    for i in range(0, flat.size, _BLOCK):
        block = flat[i:i + _BLOCK]
        if array.dtype.kind in "fc":
            block = block + (0.0 if array.dtype.kind == "f" else 0j)  # (-0.0 + 0.0 is 0.0)
            block[np.isnan(block)] = np.nan
        block = block.view(np.uint8)
        crc, adler = zlib.crc32(block, crc), zlib.adler32(block, adler)
    return array.shape, array.dtype, crc << 32 | adler, weakref.ref(array)


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
        s = rec.ids.get(value.data)
        if s is None:
            return value
        if isinstance(value.data, _Traced):
            value.data = np.array(value.data, copy=True).view(np.ndarray)
        return _TensorSlot(s)
    if isinstance(value, (tuple, list)):
        return type(value)(_output_template(rec, x) for x in value)
    if isinstance(value, dict):
        return {k: _output_template(rec, x) for k, x in value.items()}
    if isinstance(value, np.ndarray) and (isinstance(value, _Traced) or value in rec.ids):
        raise JitError("tg.jit: return tensors from the jitted function, not their arrays")
    return value


_TRAINING = operator.attrgetter("training")  # (a module's train/eval mode: part of the key)


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
    [4.0, 1.44, 0.5184]
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

    def _key(self, args, kwargs, grad_enabled):
        """What a tape depends on: grad mode, the arguments' signatures, the modules' modes."""
        # NOTE: written out for the common case (tensors), as this runs before every replay
        parts = [grad_enabled]
        for a in args:
            if type(a) is Tensor:
                data = a.data
                parts.append((data.shape, data.dtype, a.requires_grad))
            else:
                parts.append(_key_of(a))
        if kwargs:
            parts.append(("kwargs", *sorted((k, _key_of(v)) for k, v in kwargs.items())))
        if self.modules:
            # NOTE: a tuple of a list, not tuple(map(...)): a tuple made from an iterator is
            # made larger, then shrunk, and CPython keeps each one freed on the free list of
            # its new size (up to 2000): W2's replays held 88 bytes more each step
            parts.append(tuple([*map(_TRAINING, self.modules.values())]))
        return tuple(parts)

    def __call__(self, *args, **kwargs):
        switches = _PER_THREAD.switches
        if switches.recorder is not None or switches.anomaly:  # inside a trace, or checking
            return self.fn(*args, **kwargs)
        key = self._key(args, kwargs, switches.grad_enabled)
        cached = self.cache.get(key)
        if cached is not None and cached.tape is not None:
            tape = cached.tape
            try:
                result = tape.run(args)
            except _Stale:
                warnings.warn("tg.jit: the parameters or optimizers changed since the trace; "
                              "tracing again", stacklevel=2)
                cached = None
            except _BranchChanged as change:
                return self._branch_changed(change, args, kwargs)
            else:
                self.replays += 1
                if self.tape is not tape:
                    self.cache.move_to_end(key)
                    self.tape = tape
                return result
        key = None  # (made again below: not held through the trace, whose forward is the peak)
        result, tape = _trace(self.fn, args, kwargs, self.modules)
        self.traces += 1
        self.tape = tape
        for m in tape.modules.values():
            self.modules.setdefault(id(m), m)
        key = self._key(args, kwargs, switches.grad_enabled)  # modules seen now are part of it
        # (cached.first is None: the compile of its tape failed; this trace starts again)
        if cached is None or cached.first is None or key not in self.cache:
            tape.wait()
            _empty_free_lists()
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
        cached.first = None  # (its lines and constants were kept for same_as only)
        tape.compile()  # (only the second trace's tape is replayed: compiled once per signature)
        cached.tape = tape
        _empty_free_lists()  # (and those compile() leaves)
        return result

    def _branch_changed(self, change, args, kwargs):
        """A replay stopped at a guard: run the call eagerly, or refuse once it changed state."""
        if change.mutated:
            raise JitError(
                f"tg.jit: {change.where}, after the step had already changed gradients or "
                "parameters. Move that part out of the jitted function.") from None
        warnings.warn(f"tg.jit: {change.where}; this call runs eagerly", stacklevel=3)
        return self.fn(*args, **kwargs)
