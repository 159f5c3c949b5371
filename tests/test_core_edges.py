"""The core at its edges: each test is a case that once gave a silently wrong answer or a crash
(0-d arrays, user Functions' second derivatives, threads, in-place writes, base-0 powers, infinite
inputs, unsigned minima, empty reductions, `.grad` assignments)."""

import sys
import threading

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.autograd import increment_version
from tinygrad_lite.functional import hessian


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------------------------- 0-d arrays ----
def test_where_zero_upstream_guard_holds_for_0d_inputs():
    x = leaf(1.0)
    tg.where(x >= 0, x, (-x).sqrt()).backward()
    assert x.grad.item() == 1.0  # was NaN: 0-d arithmetic gives numpy scalars, not arrays
    y = leaf([1.0])
    tg.where(y >= 0, y, (-y).sqrt()).sum().backward()
    assert y.grad.tolist() == [1.0]


def test_division_by_zero_gives_ieee_values_not_an_exception():
    t = leaf([1.0, -2.0])
    (t / 0).sum().backward()
    assert np.all(np.isinf(t.grad.data))
    z = leaf(0.0)
    with np.errstate(all="ignore"):
        (z / z).backward()  # 0/0: NaN gradient, as numpy and PyTorch
    assert np.isnan(z.grad.item())


def test_mean_over_an_empty_axis_and_var_with_n_at_most_ddof():
    e = leaf(np.zeros((0, 3)))
    with np.errstate(all="ignore"):
        m = e.mean(axis=0)
        assert np.all(np.isnan(m.data))
        m.sum().backward()
    assert e.grad.shape == (0, 3)
    a = leaf([1.0, 2.0])
    with np.errstate(all="ignore"):
        assert np.isinf(a.var(ddof=2).item()) and np.isinf(a.var(ddof=3).item())  # numpy: inf
        assert np.isinf(a.std(ddof=3).item())
        a.var(ddof=2).backward()
    assert a.grad.shape == (2,)


def test_reductions_of_0d_tensors_accept_axis_0_and_minus_1():
    x = leaf(3.0)
    for axis in (0, -1):
        assert x.sum(axis=axis).item() == 3.0
        assert x.logsumexp(axis=axis).item() == pytest.approx(3.0)
        assert x.softmax(axis=axis).item() == 1.0
    with pytest.raises(IndexError):
        x.sum(axis=1)


# ----------------------------------------------------------------- user Functions, twice over ----
class Square(tg.Function):
    """Written the documented PyTorch way: save the input, read it back from saved_tensors."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return 2 * x * grad


class Cube(tg.Function):
    """Saves its output too: it comes back as the op re-applied, so it is differentiable."""

    @staticmethod
    def forward(ctx, x):
        out = x ** 3
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return grad * 3 * out / x


def test_user_function_saved_inputs_give_the_right_hessian():
    t = leaf([1.0, 2.0])
    h = hessian(lambda v: Square.apply(v).sum(), t)
    np.testing.assert_array_equal(h.data, 2 * np.eye(2))  # was all zeros: the saved array a constant
    h3 = hessian(lambda v: Cube.apply(v).sum(), t)
    np.testing.assert_allclose(h3.data, np.diag(6 * t.data))


def test_user_functions_pass_gradgradcheck():
    x = leaf([0.5, -1.5, 2.0])
    assert tg.gradgradcheck(lambda v: Square.apply(v), [x])
    assert tg.gradgradcheck(lambda v: Cube.apply(v), [x])


def test_user_function_saved_tensors_are_tensors_in_a_plain_backward():
    seen = []

    class Spy(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, np.ones(2))
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            seen.extend(ctx.saved_tensors)
            return grad

    x = leaf([1.0, 2.0])
    Spy.apply(x).sum().backward()
    assert seen[0] is x and isinstance(seen[1], Tensor)


# -------------------------------------------------------------------------------------- threads ----
def test_grad_mode_is_per_thread():
    inside, release = threading.Event(), threading.Event()

    def other():
        with tg.no_grad():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    try:
        assert tg.is_grad_enabled()  # the other thread's no_grad does not reach this one
        w = leaf([2.0])
        (w * 3.0).sum().backward()
        assert w.grad.tolist() == [3.0]
    finally:
        release.set()
        thread.join()


def _train(seed, results, errors, steps=30):
    """Train a small network from weights drawn from `seed`; record every step's gradients."""
    try:
        rng = np.random.default_rng(seed)
        x = Tensor(rng.normal(size=(16, 4)))
        y = Tensor(rng.normal(size=(16, 1)))
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        for p in model.parameters():
            p.data = rng.normal(size=p.shape).astype(p.dtype)
        opt = optim.SGD(model.parameters(), lr=0.05)
        grads = []
        for i in range(steps):
            opt.zero_grad()
            if i % 3 == 0:
                with tg.no_grad():  # nested switches, interleaved with the other thread's
                    with tg.enable_grad():
                        assert tg.is_grad_enabled()
                    assert not model(x).requires_grad
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            grads.append([None if p.grad is None else p.grad.data.copy()
                          for p in model.parameters()])
            opt.step()
        results[seed] = grads
    except BaseException as e:  # reported by the test
        errors.append(e)


def _run_concurrently(*targets):
    """Run each target in its own thread, switching threads as often as possible."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=f) for f in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)


def test_a_recording_and_a_plain_backward_share_one_retained_graph_across_threads():
    # one thread takes gradients of gradients through a retained graph while another runs plain
    # backward passes through it: each sees its own kind of saved values (the op is never
    # changed for one pass: see autograd._tensor_view), so neither gets a wrong answer
    x = leaf([0.3, -1.2, 2.0])
    y = x.sigmoid()
    total = y.sum()
    s = 1 / (1 + np.exp(-x.data))
    first, second = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    errors = []

    def recording():
        try:
            for _ in range(200):
                (g,) = tg.grad(total, x, create_graph=True, retain_graph=True)
                (h,) = tg.grad(g.sum(), x)
                np.testing.assert_allclose(g.data, first)
                np.testing.assert_allclose(h.data, second)
        except BaseException as e:  # reported by the test
            errors.append(e)

    def plain():
        try:
            for _ in range(200):
                (g,) = tg.grad(total, x, retain_graph=True)
                assert not g.requires_grad
                np.testing.assert_allclose(g.data, first)
        except BaseException as e:
            errors.append(e)

    _run_concurrently(recording, plain)
    assert not errors, errors


def test_two_threads_train_concurrently_with_correct_gradients():
    results, errors = {}, []
    _run_concurrently(*(lambda s=s: _train(s, results, errors) for s in (1, 2)))
    assert not errors, errors
    assert tg.is_grad_enabled()
    alone, errors_alone = {}, []
    for seed in (1, 2):  # the same training, one thread at a time, gives the same gradients
        _train(seed, alone, errors_alone)
        assert not errors_alone
        for step, (concurrent, single) in enumerate(zip(results[seed], alone[seed])):
            for g, g_alone in zip(concurrent, single):
                assert g is not None, f"a parameter lost its gradient at step {step}"
                np.testing.assert_array_equal(g, g_alone)


def test_no_grad_decorates_generator_functions():
    @tg.no_grad()
    def gen(x):
        for _ in range(2):
            yield x * 2.0, tg.is_grad_enabled()

    x = leaf([1.0])
    outs = list(gen(x))
    assert all(not enabled and not out.requires_grad for out, enabled in outs)
    assert tg.is_grad_enabled()


# ------------------------------------------------------------------------------------ where ----
def test_where_method_follows_pytorch_and_refuses_a_non_boolean_condition():
    x = leaf([1.0, -2.0])
    out = x.where(x.data > 0, 0.0)
    out.sum().backward()
    assert out.tolist() == [1.0, 0.0] and x.grad.tolist() == [1.0, 0.0]
    cond = Tensor([True, False])
    with pytest.raises(TypeError, match="boolean condition first"):
        cond.where(x, 0.0)  # tinygrad's spelling: refused, not silently swapped


# ---------------------------------------------------------------------------------- in place ----
def test_optimizer_step_after_forward_through_a_detached_copy_is_refused():
    w = leaf([1.0, 2.0])
    w2 = leaf([3.0, 4.0])
    loss = (w2 * w.detach()).sum()
    w.grad = Tensor(np.array([10.0, 10.0]))
    optim.SGD([w], lr=1.0).step()  # writes into w's memory, which w.detach() shares
    with pytest.raises(RuntimeError, match="Mul.backward.*modified in place"):
        loss.backward()  # was w2.grad == [-9, -8], silently


def test_optimizer_step_after_forward_through_a_view_is_refused():
    lin = nn.Linear(2, 1)
    loss = lin(Tensor([[1.0, 2.0]])).sum()  # uses the weight through a transposed view
    for p in lin.parameters():
        p.grad = Tensor(np.ones_like(p.data))
    optim.SGD(lin.parameters(), lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_optimizer_step_after_backward_is_the_normal_order():
    w = leaf([1.0, 2.0])
    opt = optim.SGD([w], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, [0.0, 0.0])


def test_numpy_arrays_handed_out_are_read_only():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.numpy()[0] = 10.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(x)[0] = 10.0
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]
    scratch = x.numpy().copy()
    scratch[0] = 5.0  # a copy is the user's own


def test_load_state_dict_after_forward_is_refused_at_backward():
    lin = nn.Linear(2, 1)
    loss = lin(Tensor([[1.0, 2.0]])).sum()
    lin.load_state_dict({k: np.full_like(v, 7.0) for k, v in lin.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_increment_version_is_the_public_hook_for_in_place_writes():
    w = leaf([1.0, 2.0])
    v = leaf([3.0, 4.0])
    loss = (w * v).sum()
    w.data[...] = 0.0  # a write of one's own into the raw array ...
    increment_version(w)  # ... announced
    with pytest.raises(RuntimeError, match="Mul.backward"):
        loss.backward()


def test_increment_version_of_several_tensors_versions_each():
    # one call for a group (what Optimizer.step makes): every tensor in it, and its memory, counts
    a, b, c = leaf([1.0]), leaf([2.0]), leaf([3.0])
    loss_a, loss_b = (a * c).sum(), (b.detach() * c).sum()
    loss_c = (c * 2.0).sum()
    increment_version(a, b)
    with pytest.raises(RuntimeError, match="Mul.backward"):
        loss_a.backward()
    with pytest.raises(RuntimeError, match="Mul.backward"):
        loss_b.backward()  # through a detached copy of b: b's memory was written
    loss_c.backward()  # c was not in the call
    np.testing.assert_array_equal(c.grad.data, [2.0])
    increment_version()  # nothing to announce: a no-op


def test_optimizer_step_versions_every_group():
    w1, w2 = leaf([1.0]), leaf([2.0])
    opt = optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.5}], lr=0.1)
    (w1 * w2).sum().backward()
    loss1, loss2 = (w1 * 3.0).sum(), (w2 * 3.0).sum()
    opt.step()
    for loss in (loss1, loss2):
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()


def test_a_backward_on_tensors_gets_a_view_and_leaves_the_op_its_arrays():
    # saved_tensors is a plain slot, read as arrays by the fast path; a pass that records
    # (create_graph) hands backward a copy of the op holding Tensors, and the op keeps its arrays,
    # so a retained graph serves both kinds of pass, in any order (and in two threads at once)
    x = leaf([1.0, 2.0])
    y = x.sigmoid()
    y.sum().backward(retain_graph=True)
    (g,) = tg.grad(y.sum(), x, create_graph=True)
    (s,) = y._ctx.saved_tensors
    assert type(s) is np.ndarray
    np.testing.assert_allclose(g.data, s * (1 - s))
    (h,) = tg.grad(g.sum(), x, retain_graph=True)  # differentiable: the view's saved output recorded
    np.testing.assert_allclose(h.data, s * (1 - s) * (1 - 2 * s))
    y.sum().backward()  # and the fast path still works after it
    np.testing.assert_allclose(x.grad.data, 2 * s * (1 - s))


def test_backward_seed_is_never_shared_with_a_grad():
    x = leaf(2.0)
    x.backward()
    x.grad += 1.0  # the leaf's .grad is its own array, not the cached seed
    z = leaf(3.0)
    z.backward()
    assert z.grad.item() == 1.0
    y = leaf(4.0)
    y.backward(create_graph=True)  # recorded: the seed is made fresh and can become the .grad
    y.grad += 1.0
    w = leaf(5.0)
    (w * 1.0).backward()
    assert w.grad.item() == 1.0


def test_released_ops_drop_their_masks():
    x = leaf([[1.0, 3.0], [2.0, 2.0]])
    m = x.max(axis=1)
    w = tg.where(x > 1.5, x, 0.0)
    (m.sum() + w.sum()).backward()
    for ctx in (m._ctx, w._ctx):
        assert ctx.released and not any(isinstance(v, np.ndarray) for v in vars(ctx).values())


def test_jit_tracing_count_returns_to_zero():
    from tinygrad_lite import autograd

    w = leaf([1.0, 2.0])
    opt = optim.SGD([w], lr=0.1)

    @tg.jit
    def step():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    assert autograd._TRACING == 0
    np.testing.assert_allclose(w.data, np.array([1.0, 2.0]) * 0.8 ** 3, rtol=1e-6)


def test_in_place_ops_inside_a_graph_keep_exact_gradients():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    z = y * y  # uses y's old value
    y += 3.0  # recorded: y is now y_old + 3, z keeps y_old
    (z.sum() + y.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)


# ----------------------------------------------------------------------------------- values ----
def test_pow_at_base_zero_follows_pytorch():
    x = leaf(0.0)
    (x ** 0).backward()
    assert x.grad.item() == 0.0  # d/dx x**0 at 0 was NaN
    y = leaf(-1.0)
    with np.errstate(all="ignore"):
        (Tensor(0.0, dtype=np.float64) ** y).backward()
    assert y.grad.item() == -np.inf  # d/dy 0**y for y < 0
    a, b = leaf(0.0), leaf(0.0)
    (a ** b).backward()
    assert a.grad.item() == 0.0 and b.grad.item() == 0.0
    c, d = leaf(0.0), leaf(2.0)
    (c ** d).backward()
    assert c.grad.item() == 0.0 and d.grad.item() == 0.0


def test_logsumexp_of_infinities():
    with np.errstate(all="ignore"):
        assert Tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf  # was NaN
        assert Tensor([np.inf, 1.0]).logsumexp().item() == np.inf
        assert Tensor([[-np.inf, -np.inf], [0.0, 0.0]]).logsumexp(axis=1).tolist()[0] == -np.inf


def test_unsigned_and_extreme_integer_minima():
    assert Tensor(np.array([0, 1, 2], dtype=np.uint8)).min().item() == 0  # was 1
    m = Tensor(np.array([0, 5], dtype=np.uint8)).minimum(Tensor(np.array([3, 3], dtype=np.uint8)))
    assert m.tolist() == [0, 3]  # was [3, 3]
    assert Tensor(np.array([0, -2**31], dtype=np.int32)).min().item() == -2**31  # was 0
    assert Tensor(np.array([True, False])).min().item() is False or not Tensor(
        np.array([True, False])).min().item()


def test_min_and_minimum_gradients_split_ties():
    x = leaf([1.0, 1.0, 3.0])
    x.min().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0]
    a, b = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    a.minimum(b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]


# -------------------------------------------------------------------------------- .grad checks ----
def test_grad_assignment_is_checked_where_it_happens():
    p = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="Tensor or None"):
        p.grad = 0  # micrograd's habit
    with pytest.raises(TypeError, match="Tensor or None"):
        p.grad = np.zeros(2)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        p.grad = Tensor(np.zeros(3))
    p.grad = Tensor(np.zeros(2))
    p.grad = None
    (p * p).sum().backward()
    assert p.grad.tolist() == [2.0, 4.0]


def test_second_backward_still_refused_with_pytorchs_message():
    x = leaf([1.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_integer_max_pool_pads_with_the_smallest_value():
    for dtype in (np.int64, np.uint8, np.int32):
        x = Tensor(np.arange(16, dtype=dtype).reshape(1, 1, 4, 4))
        out = x.max_pool2d(2, padding=1)  # was OverflowError: -inf padding in an integer array
        assert out.dtype == dtype
        assert out.tolist() == [[[[0, 2, 3], [8, 10, 11], [12, 14, 15]]]]


def test_0d_gradients_accumulate_as_arrays():
    x = leaf(2.0)
    for _ in range(3):
        (x * 3.0).backward()  # accumulates three times into a 0-d .grad
    assert type(x.grad.data) is np.ndarray and x.grad.numpy().item() == 9.0


# ----------------------------------------------------------------- engine and functional errors ----
def test_no_grad_generator_forwards_throw_and_close():
    seen = []

    @tg.no_grad()
    def gen():
        try:
            yield 1
        except ValueError:
            seen.append(tg.is_grad_enabled())
            yield 2
        finally:
            seen.append(("closed", tg.is_grad_enabled()))

    g = gen()
    assert next(g) == 1
    assert g.throw(ValueError) == 2
    g.close()
    assert seen == [False, ("closed", False)] and tg.is_grad_enabled()


def test_grad_assignment_needs_a_float_tensor():
    p = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="floating point"):
        p.grad = Tensor(np.array([1, 2]))


def test_user_function_backward_contract_errors_are_named():
    class TooMany(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    class Wrong(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return [1.0, 2.0]

    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="TooMany.backward returned 2 gradients for 1 inputs"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(TypeError, match="Wrong.backward must return Tensors"):
        Wrong.apply(x).sum().backward()


def test_anomaly_names_the_backward_whose_inner_op_made_a_nan():
    class BadGrad(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * (x - x).log()  # log(0) = -inf inside this backward

    x = leaf([1.0])
    with tg.detect_anomaly(), np.errstate(all="ignore"):
        with pytest.raises(tg.AnomalyError, match="BadGrad backward"):
            BadGrad.apply(x).sum().backward()


def test_a_differentiable_grad_accumulates_a_plain_one():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)  # x.grad = 3x^2, in a graph
    (x * 1.0).sum().backward()  # a plain pass adds 1
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2 + 1)


def test_functional_grad_and_jacobian_edges():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad(Tensor([1.0]), x)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        tg.grad(x * 2.0, x)
    with pytest.raises(RuntimeError, match="does not match"):
        tg.grad(x * 2.0, x, grad_outputs=Tensor([1.0]))
    with pytest.raises(RuntimeError, match="an input .* does not require grad"):
        tg.grad(y, Tensor([1.0]))
    g, = tg.grad([x * 2.0], [x], grad_outputs=[np.ones(2)])  # an array becomes a tensor
    assert g.tolist() == [2.0, 2.0]
    j = tg.functional.jacobian(lambda t: Tensor([5.0, 6.0]), x)  # does not depend on x
    np.testing.assert_array_equal(j.data, np.zeros((2, 2)))
    hv = tg.functional.hvp(lambda t: (t * 3.0).sum(), x, Tensor([1.0, 1.0]))  # linear: H = 0
    np.testing.assert_array_equal(hv.data, [0.0, 0.0])
