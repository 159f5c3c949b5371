"""The autograd engine: graph shapes, accumulation, graph release, modes, aliasing, memory,
custom Functions, in-place safety, anomaly detection and numerical stability."""

from __future__ import annotations

import gc
import time
import weakref

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Function, GradcheckError, Tensor, gradcheck, no_grad
from tinygrad_lite.autograd import AnomalyError


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------------------- graph shapes ----
def test_engine_micrograd_golden_values():
    a = Tensor(-4.0, requires_grad=True)
    b = Tensor(2.0, requires_grad=True)
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-3)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-3)


def test_engine_reuse_of_one_tensor_sums_both_paths():
    x = leaf(3.0)
    (x * x).backward()
    assert x.grad.item() == 6.0
    a = leaf(1.5)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_engine_diamond_graph():
    x = leaf(2.0)
    top = x * 3.0
    left, right = top.sin(), top * top
    out = left + right
    out.backward()
    expected = 3 * np.cos(6.0) + 2 * 6.0 * 3
    assert x.grad.item() == pytest.approx(expected)


def test_engine_deep_chain_of_100000_ops_is_iterative_and_fast():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    y.backward()
    assert x.grad.item() == 1.0
    assert time.perf_counter() - start < 30  # recursion would overflow long before; this is O(n)


def test_engine_thirty_nested_doublings_backprop_fast():
    x = leaf(1.0)
    y = x
    for _ in range(30):
        y = y + y  # 2^30 paths, 30 nodes: each node must run once, not once per path
    start = time.perf_counter()
    y.backward()
    assert x.grad.item() == 2.0 ** 30
    assert time.perf_counter() - start < 1.0


def test_engine_node_runs_after_all_its_consumers():
    # b feeds c directly and through a longer path; a wrong order would propagate a partial sum
    a = leaf(1.0)
    b = a * 2.0
    c = (b * 3.0).exp() * 0.0 + b * 5.0 + (b * b)
    c.backward()
    assert a.grad.item() == pytest.approx(2 * (5.0 + 2 * 2.0))


# ------------------------------------------------------------------------------ accumulation ----
def test_engine_leaf_grads_accumulate_over_two_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])


def test_engine_non_leaves_get_no_grad_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    z = y * 3.0
    z.retain_grad()
    (z * z).sum().backward()
    assert y.grad is None
    np.testing.assert_allclose(z.grad.numpy(), 2 * z.numpy())
    assert x.is_leaf and not y.is_leaf


def test_engine_second_backward_names_retain_graph():
    x = leaf(2.0)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_engine_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0


def test_engine_graph_is_released_after_backward():
    x = leaf(np.ones(3))
    y = (x * 2.0).exp()
    ctx = y._ctx
    y.sum().backward()
    # the arrays are gone; the structure stays, for drawing: each input is the op that made it
    assert ctx.released and ctx.output is None
    with pytest.raises(RuntimeError, match="second time"):
        (_,) = ctx.saved_tensors  # what forward saved is gone
    parent, = ctx.inputs
    assert parent.name == "Mul" and parent.released and (parent.shape, ctx.shape) == ((3,), (3,))
    assert parent.inputs[0] is x  # a leaf stays itself (its name and .grad can be drawn)
    stand_in, = ctx.parents()  # the public view: GraphInput stand-ins
    assert (stand_in.shape, stand_in._ctx, stand_in.tensor) == ((3,), parent, None)
    assert parent.parents()[0].tensor is x and parent.parents()[1].shape == ()


def test_engine_non_scalar_backward_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2,\)"):
        y.backward()
    y.backward(Tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])


def test_engine_gradient_shape_mismatch_is_refused():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_engine_backward_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


# -------------------------------------------------------------------------------- grad modes ----
def test_engine_no_grad_records_nothing():
    x = leaf([1.0])
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None

    @no_grad()
    def double(t):
        return t * 2.0

    assert not double(x).requires_grad
    assert (x * 2.0).requires_grad  # back on after the block / call


def test_engine_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with no_grad():
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            y = x * 2.0
    assert y.requires_grad


def test_engine_detach_cuts_the_graph():
    x = leaf(3.0)
    y = x * x
    z = y.detach() * x  # d/dx = y (treated as a constant)
    z.backward()
    assert x.grad.item() == 9.0
    assert not y.detach().requires_grad


def test_engine_int_tensors_cannot_require_grad():
    with pytest.raises(ValueError, match="Only floating-point tensors can require gradients"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError, match="floating"):
        Tensor([1, 2]).requires_grad_()


def test_engine_int_inputs_mix_with_float_leaves():
    x = leaf([1.0, 2.0], dtype=np.float32)
    idx = Tensor([3, 4])
    y = (x * idx).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    assert x.grad.dtype == np.float32


def test_engine_requires_grad_false_inputs_get_no_grad():
    x = leaf([1.0])
    c = Tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None


# ---------------------------------------------------------------------------------- aliasing ----
def test_engine_two_inputs_never_share_a_gradient_array():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # Add hands the same upstream gradient to both inputs
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.data[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_engine_upstream_gradient_is_never_mutated():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([0.5, -0.5])
    original = g.copy()
    y = a + b
    y.backward(Tensor(g))
    np.testing.assert_array_equal(g, original)
    assert not np.shares_memory(a.grad.numpy(), g)
    a.grad.data[:] = 7.0
    np.testing.assert_array_equal(g, original)
    (a * 1.0 + b).sum().backward()  # accumulation must not write into earlier arrays either
    np.testing.assert_array_equal(g, original)


def test_engine_grads_of_views_are_writable_arrays_of_their_own():
    x = leaf(np.arange(6.0))
    y = x.reshape(2, 3).sum()  # the gradient arrives through a broadcast and a reshape (views)
    y.backward()
    assert x.grad.data.flags.writeable
    a, b = leaf(np.ones((2, 3))), leaf(np.ones(6))
    (a.reshape(6) + b).sum().backward()  # a's gradient is a view of the array b gets
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())


# ------------------------------------------------------------------------------------ memory ----
def test_engine_training_loop_keeps_live_graph_nodes_flat():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    x = Tensor(rng.standard_normal((8, 4)))
    contexts = weakref.WeakSet()

    def live_after(steps):
        for _ in range(steps):
            loss = ((x @ w).tanh() ** 2).mean()
            contexts.add(loss._ctx)
            loss.backward()
            with no_grad():
                w.data -= 0.1 * w.grad.data
            w.grad = None
        gc.collect()
        return len(contexts)

    early = live_after(10)
    late = live_after(990)
    assert late <= early <= 1  # only the last step's loss op (held by `loss`) may still be alive


def test_engine_graph_is_freed_when_output_is_dropped_without_backward():
    x = leaf(np.ones(3))
    ref = weakref.ref((x * 2.0).exp()._ctx)
    gc.collect()
    assert ref() is None  # no reference cycles between tensors and their ops


# --------------------------------------------------------------------------- custom Functions ----
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.inputs
        return grad * 3 * x * x


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.inputs
        return grad * 2 * x * x  # planted bug


def test_engine_custom_function_forward_backward_and_second_order():
    x = leaf([1.0, -2.0])
    y = Cube.apply(x)
    np.testing.assert_allclose(y.numpy(), [1.0, -8.0])
    (g,) = tg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    (gg,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, -12.0])
    assert gradcheck(lambda t: Cube.apply(t), [leaf([0.3, -1.2])])
    assert repr(y.grad_fn) == "<CubeBackward>"


def test_engine_planted_wrong_backward_is_caught_by_gradcheck():
    with pytest.raises(GradcheckError, match=r"input 0.*analytic.*numeric"):
        gradcheck(lambda t: WrongCube.apply(t), [leaf([0.3, -1.2])])


def test_engine_wrong_gradient_shape_names_the_op():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return Tensor(np.ones(5))

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="BadShape.backward returned a gradient of shape"):
        BadShape.apply(x).sum().backward()


# ---------------------------------------------------------------------------------- in-place ----
def test_engine_setitem_on_graph_tensor_is_differentiable():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf(10.0)
    y = x * 2.0
    y[1] = v * v
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [2.0, 100.0, 6.0])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 2.0])
    assert v.grad.item() == 20.0


def test_engine_inplace_on_leaf_requiring_grad_is_refused_but_allowed_under_no_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x += 1.0
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 5.0
    with no_grad():
        x -= 0.5
        x[1] = 9.0
    np.testing.assert_allclose(x.numpy(), [0.5, 9.0])
    assert x.requires_grad and x.is_leaf


def test_engine_changing_a_tensor_outside_the_graph_after_use_is_refused_at_backward():
    w = leaf([1.0, 2.0])
    x = Tensor([3.0, 4.0])  # data, not a parameter: the change is not recorded
    y = (w * x).sum()
    x[0] = 0.0  # Mul needs the old x for w's gradient
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_engine_inplace_inside_the_graph_keeps_earlier_ops_correct():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    z = y * y  # uses y = 3x: dz/dx = 18x
    y += x  # in place, recorded: y is now 4x
    y[0] = 0.0
    (z.sum() + y.sum()).backward()  # d/dx of 9x^2 + (4x with x0's entry removed)
    np.testing.assert_allclose(x.grad.numpy(), [18 * 1.0 + 0.0, 18 * 2.0 + 4.0])
    assert gradcheck(_inplace_chain, [leaf([0.3, -0.7, 1.1])])


def _inplace_chain(x):
    y = x.exp()
    z = y * x
    y *= 2.0
    y[1] = z[0]
    y += z
    return y * y


def test_engine_inplace_never_writes_into_arrays_other_tensors_share():
    base = Tensor(np.arange(4.0))
    view = base.reshape(2, 2)  # shares memory with base's array
    base[0] = 100.0
    assert view.numpy()[0, 0] == 0.0
    base += 1.0
    assert view.numpy()[0, 1] == 1.0


def test_engine_inplace_ops_keep_dtype_and_refuse_unsafe_casts():
    t = Tensor(np.zeros(2, dtype=np.float32))
    t += 1.5
    t *= 2
    assert t.dtype == np.float32 and t.tolist() == [3.0, 3.0]
    i = Tensor([1, 2])
    with pytest.raises(TypeError, match="cannot be stored"):
        i += 0.5


# ---------------------------------------------------------------------------- detect_anomaly ----
def test_engine_detect_anomaly_names_the_op_in_forward():
    x = leaf([-1.0, 4.0])
    with pytest.warns(RuntimeWarning), tg.detect_anomaly(), pytest.raises(
        AnomalyError, match="Log forward produced NaN"
    ):
        x.log()
    x.log()  # off again: no error outside the block (just numpy's warning)


def test_engine_detect_anomaly_names_the_op_and_its_origin_in_backward():
    x = leaf([0.0, 1.0])

    @tg.detect_anomaly()
    def run():
        y = x.sqrt()  # forward is finite; backward divides by sqrt(0)
        with np.errstate(divide="ignore"):
            y.sum().backward()

    with pytest.raises(AnomalyError, match=r"Pow backward.*produced inf(.|\n)*created at(.|\n)*x.sqrt\(\)"):
        run()


# ------------------------------------------------------------------------- numerical stability ----
@pytest.mark.parametrize("value", [1000.0, -1000.0])
def test_engine_sigmoid_of_extremes_is_finite_with_zero_gradient(value):
    x = Tensor(value, requires_grad=True)
    y = x.sigmoid()
    y.backward()
    assert y.item() == (1.0 if value > 0 else 0.0)
    assert x.grad.item() == 0.0


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_engine_softmax_family_of_extremes_is_finite(name):
    x = Tensor([1000.0, 0.0, -1000.0], requires_grad=True)
    y = getattr(x, name)()
    (y * Tensor([1.0, 2.0, 3.0])).sum().backward() if y.ndim else y.backward()
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad.numpy()))
    if name == "log_softmax":
        np.testing.assert_allclose(y.numpy(), [0.0, -1000.0, -2000.0])
        np.testing.assert_allclose(x.grad.numpy(), [1 - 6.0, 2.0, 3.0])
    if name == "logsumexp":
        assert y.item() == 1000.0
        np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 0.0])


def test_engine_where_does_not_leak_nan_from_the_unselected_branch():
    x = Tensor([1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = tg.where(x >= 0, x, (-x).sqrt())  # sqrt(-1) is NaN, but never selected
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_engine_max_ties_split_the_gradient_evenly():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])
    y = Tensor([[2.0, 2.0, 2.0], [1.0, 5.0, 0.0]], requires_grad=True)
    y.max(axis=1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[1 / 3] * 3, [0.0, 1.0, 0.0]])


# ---------------------------------------------------------------------------------- dtypes ----
def test_engine_float32_graph_stays_float32_end_to_end():
    w = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    x = Tensor(np.ones((4, 3), np.float32))
    loss = ((x @ w).sigmoid() * 0.5 - 1.0).square().mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32


def test_engine_gradient_comes_back_in_the_input_dtype():
    a = Tensor(np.ones(2, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float64), requires_grad=True)
    (a * b).sum().backward()  # float64 result
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
