"""Generic op tests driven by tests/op_table.py: forward equals numpy, gradcheck, gradgradcheck,
broadcast gradients come back in each input's shape, and every op has a row."""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tg
from tinygrad_lite import Tensor, gradcheck, gradgradcheck
from tinygrad_lite.ops import PRIMITIVES

from .op_table import NOT_OPS, OPS, OpSpec

OP_IDS = [op.name for op in OPS]
GRAD_OPS = [op for op in OPS if op.grad]


def _keep_away(values, kinks, gap=0.05):
    """Move sampled values off non-differentiable points (finite differences straddle them)."""
    for k in kinks:
        near = np.abs(values - k) < gap
        values[near] = k + np.where(values[near] >= k, 2 * gap, -2 * gap)
    return values


def _distinct(*arrays):
    """Spread ties apart, within and across arrays (max/min/maximum are not differentiable at
    ties): every value gets its rank * 0.01 added, so no two are equal."""
    flat = np.concatenate([a.reshape(-1) for a in arrays])
    ranks = np.empty(flat.size)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    flat = flat + ranks * 1e-2
    out, start = [], 0
    for a in arrays:
        out.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return out


@st.composite
def op_inputs(draw, op: OpSpec):
    """Input arrays (float64) for one row: shapes from the row's kind, values from its domain."""
    if op.kind == "fixed":
        shapes = op.shapes
    elif op.kind == "broadcast":
        shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                        min_side=1 if op.nonempty else 0,
                                                        max_side=3)).input_shapes
    else:
        shapes = (draw(hnp.array_shapes(min_dims=max(op.min_dims, 0), max_dims=3,
                                        min_side=1 if op.nonempty else 0, max_side=3)),)
        if op.min_dims == 0 and draw(st.booleans()):
            shapes = ((),)  # 0-d tensors are common (losses) and a classic source of bugs
        shapes = shapes * op.arity
    lo, hi = op.domain
    arrays = []
    for shape in shapes:
        a = draw(hnp.arrays(np.float64, shape,
                            elements=st.floats(lo, hi, allow_nan=False, allow_subnormal=False)))
        arrays.append(_keep_away(np.array(a, dtype=np.float64), op.kinks))
    return _distinct(*arrays) if op.distinct else arrays


def _as_tensors(arrays, dtype=np.float64, requires_grad=True):
    return [Tensor(a.astype(dtype), requires_grad=requires_grad) for a in arrays]


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@given(data=st.data())
def test_op_forward_matches_numpy(op, data):
    arrays = data.draw(op_inputs(op))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.asarray(op.reference(*[a.copy() for a in arrays]))
        for dtype, rtol, atol in ((np.float64, op.rtol, op.atol), (np.float32, 1e-4, 1e-5)):
            out = op.fn(*_as_tensors(arrays, dtype, requires_grad=False))
            assert isinstance(out, Tensor)
            assert out.shape == expected.shape
            np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)
            if dtype == np.float32 and op.name not in ("astype64",):
                assert out.dtype == np.float32, f"{op.name} promoted float32 to {out.dtype}"


@pytest.mark.parametrize("op", GRAD_OPS, ids=[op.name for op in GRAD_OPS])
@given(data=st.data())
def test_op_gradcheck(op, data):
    arrays = data.draw(op_inputs(op))
    assert gradcheck(op.fn, _as_tensors(arrays))


@pytest.mark.parametrize("op", [op for op in GRAD_OPS if op.gradgrad],
                         ids=[op.name for op in GRAD_OPS if op.gradgrad])
@given(data=st.data())
def test_op_gradgradcheck(op, data):
    arrays = data.draw(op_inputs(op))
    assert gradgradcheck(op.fn, _as_tensors(arrays))


BROADCAST_OPS = [op for op in OPS if op.kind == "broadcast"]


@pytest.mark.parametrize("op", BROADCAST_OPS, ids=[op.name for op in BROADCAST_OPS])
@given(data=st.data())
def test_op_broadcast_gradients_have_input_shapes(op, data):
    arrays = data.draw(op_inputs(op))
    inputs = _as_tensors(arrays, np.float32)
    out = op.fn(*inputs)
    out.backward(Tensor(np.ones(out.shape, dtype=np.float32)))
    for t in inputs:
        assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype


def test_op_table_covers_every_primitive():
    covered = {c for op in OPS for c in op.covers}
    missing = [p.__name__ for p in PRIMITIVES if p.__name__ not in covered]
    assert not missing, f"primitives without an op-table row: {missing}"


def test_op_table_covers_every_public_tensor_method():
    covered = {op.name for op in OPS} | {c for op in OPS for c in op.covers}
    public = {n for n in dir(Tensor) if not n.startswith("_")}
    missing = sorted(public - covered - NOT_OPS)
    assert not missing, f"public Tensor methods without an op-table row (or a NOT_OPS entry): {missing}"


def test_op_table_rows_really_exercise_the_primitives_they_claim():
    """The `covers` claims are checked: run every row and record which primitives it built."""
    seen = set()
    rng = np.random.default_rng(0)
    for op in OPS:
        if op.kind == "fixed":
            shapes = op.shapes
        else:
            shapes = ((2, 3),) * op.arity
        arrays = _distinct(*[_keep_away(rng.uniform(*op.domain, s), op.kinks) for s in shapes])
        out = op.fn(*_as_tensors(arrays))
        seed = Tensor(np.ones(out.shape), requires_grad=True)
        g = tg.grad(out, _collect_leaves(out), grad_outputs=seed, create_graph=True,
                    allow_unused=True)
        for node in [out, *[x for x in g if x is not None]]:
            seen |= _ops_in_graph(node)
    claimed = {c for op in OPS for c in op.covers if c in {p.__name__ for p in PRIMITIVES}}
    assert claimed <= seen, f"claimed but never built: {claimed - seen}"


def test_primitives_that_keep_arrays_on_ctx_say_so():
    """A backward drops what a primitive kept as plain ctx attributes only where the class declares
    `arrays_on_ctx` (clearing every op's attributes costs W4 2%): run every row and check that no
    primitive without the flag keeps an array there (it would stay alive after backward)."""
    rng = np.random.default_rng(0)
    offenders = set()
    for op in OPS:
        shapes = op.shapes if op.kind == "fixed" else ((2, 3),) * op.arity
        arrays = _distinct(*[_keep_away(rng.uniform(*op.domain, s), op.kinks) for s in shapes])
        stack, seen = [op.fn(*_as_tensors(arrays))], set()
        while stack:
            t = stack.pop()
            if id(t) in seen or t._ctx is None:
                continue
            seen.add(id(t))
            ctx = t._ctx
            kept = [k for k, v in vars(ctx).items() if isinstance(v, np.ndarray)]
            if kept and not type(ctx).arrays_on_ctx:
                offenders.add(f"{type(ctx).__name__} ({', '.join(kept)})")
            stack.extend(x for x in ctx.inputs if isinstance(x, Tensor))
    assert not offenders, f"primitives keeping arrays on ctx without arrays_on_ctx = True: {offenders}"


def _collect_leaves(root):
    leaves, stack, seen = [], [root], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._ctx is None:
            if t.requires_grad:
                leaves.append(t)
            continue
        stack.extend(x for x in t._ctx.inputs if isinstance(x, Tensor))
    return leaves


def _ops_in_graph(root):
    names, stack, seen = set(), [root], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        names.add(type(t._ctx).__name__)
        stack.extend(x for x in t._ctx.inputs if isinstance(x, Tensor))
    return names
