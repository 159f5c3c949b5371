"""tg.jit: replays equal eager (bitwise) on every example network, and every refusal."""

import ast
import gc
import re
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.jit import JitError
from tinygrad_lite.nn import functional as F

RNG = np.random.default_rng(0)
X_FLAT = RNG.random((64, 784), dtype=np.float32)
X_IMG = RNG.random((16, 1, 12, 12), dtype=np.float32)
LABELS = RNG.integers(0, 10, 64)
ONE_HOT = np.eye(10, dtype=np.float32)[LABELS]


def _batches(n_steps, batch, x, *ys):
    for i in range(n_steps):
        lo = (i * batch) % (len(x) - batch + 1)
        yield (Tensor(x[lo:lo + batch]), *(Tensor(y[lo:lo + batch]) for y in ys))


def _training_step(opt, loss_of):
    """step(x, y): the loss of the batch, then zero_grad, backward and the optimizer's step."""
    def step(x, y):
        loss = loss_of(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _mlp_sigmoid():
    model = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                          nn.Linear(16, 10), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=3.0)

    def loss_of(x, y):
        diff = model(x) - y
        return (diff * diff).sum() * (0.5 / len(x))
    return model, opt, _training_step(opt, loss_of), (X_FLAT, ONE_HOT), 10


def _mlp_lesson():  # examples/mnist_mlp.py --preset lesson: the one-hot target made in the step
    model = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                          nn.Linear(16, 10), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=3.0)

    def loss_of(x, labels):
        return 0.5 * F.mse_loss(model(x), labels.one_hot(10), reduction="sum") / len(labels)
    return model, opt, _training_step(opt, loss_of), (X_FLAT, LABELS), 10


def _mlp_relu_adam():
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                          nn.Linear(16, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    step = _training_step(opt, lambda x, y: F.cross_entropy(model(x), y))
    return model, opt, step, (X_FLAT, LABELS), 16


class _RowLSTM(nn.Module):  # examples/mnist_lstm.py's network, smaller
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=12, hidden_size=8, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.fc(h_n[-1])


def _lstm():
    model = _RowLSTM()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50)
    step = _training_step(opt, lambda x, y: F.cross_entropy(model(x.reshape(-1, 12, 12)), y))
    return model, opt, step, (X_IMG, LABELS[:16]), 4, sched


class _ConvNet(nn.Module):  # examples/mnist_cnn.py's network, smaller, with dropout
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(4 * 5 * 5, 10)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        return self.fc(self.drop(x.flatten(1)))


def _cnn():
    model = _ConvNet()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = _training_step(opt, lambda x, y: F.cross_entropy(model(x), y))
    return model, opt, step, (X_IMG, LABELS[:16]), 4


NETWORKS = {"mlp_sigmoid_sgd": _mlp_sigmoid, "mlp_lesson": _mlp_lesson,
            "mlp_relu_adam": _mlp_relu_adam, "lstm": _lstm,
            "cnn_dropout": _cnn}


def _train(make, use_jit, steps):
    tg.manual_seed(0)
    built = make()
    model, opt, step, data, batch = built[:5]
    sched = built[5] if len(built) > 5 else None
    run = tg.jit(step) if use_jit else step
    losses = []
    for x, y in _batches(steps, batch, *data):
        losses.append(run(x, y).item())
        if sched is not None:
            sched.step()
    return model, opt, losses, run


@pytest.mark.parametrize("name", NETWORKS)
def test_jit_replay_equals_eager_bitwise(name):
    steps = 202  # two traced calls, then 200 replays
    m_eager, o_eager, l_eager, _ = _train(NETWORKS[name], False, steps)
    m_jit, o_jit, l_jit, step = _train(NETWORKS[name], True, steps)
    assert step.traces == 2 and step.replays == steps - 2
    assert l_eager == l_jit
    for (k, p), q in zip(m_eager.named_parameters(), m_jit.parameters()):
        assert np.array_equal(p.data, q.data), k
        assert np.array_equal(p.grad.data, q.grad.data), k
    for p, q in zip(m_eager.parameters(), m_jit.parameters()):
        for key, value in o_eager.state[p].items():
            assert np.array_equal(value, o_jit.state[q][key]), key


@pytest.mark.parametrize("name", NETWORKS)
def test_jit_replay_in_many_parts_equals_eager_bitwise(name, monkeypatch):
    # the replay compiled in parts of at most 3 statements: every value handed on at each cut
    # is the one the next part reads (else NameError or other numbers), and none is kept alive
    monkeypatch.setattr(sys.modules["tinygrad_lite.jit"], "_PART", 3)  # (tg.jit: the function)
    steps = 8
    m_eager, _, l_eager, _ = _train(NETWORKS[name], False, steps)
    m_jit, _, l_jit, step = _train(NETWORKS[name], True, steps)
    assert step.replays == steps - 2 and step.tape.source.count("def replay_part") >= 5
    assert l_eager == l_jit
    for (k, p), q in zip(m_eager.named_parameters(), m_jit.parameters()):
        assert np.array_equal(p.data, q.data) and np.array_equal(p.grad.data, q.grad.data), k
    for part in ast.parse(step.tape.source).body:  # each part deletes what it hands on
        assigned, deleted, returned = _replay_names(ast.unparse(part))
        assert assigned - deleted <= returned, part.name


def test_jit_large_relu_runs_relus_own_code_split_over_threads(monkeypatch):
    # a ReLU of at least threads.ROWS_SPLIT items is not written inline: its own forward and
    # backward split it over the threads set_num_threads pinned, in the replay as in eager
    from tinygrad_lite import threads

    calls = []
    split_map = threads.split_map
    monkeypatch.setattr(threads, "split_map", lambda fn, parts, count: calls.append(count) or
                        split_map(fn, parts, count))
    start = np.linspace(-1, 1, threads.ROWS_SPLIT + 6, dtype=np.float32).reshape(-1, 2)
    results = []
    for use_jit in (False, True):
        w = Tensor(start.copy(), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)

        def step(x, w=w, opt=opt):
            opt.zero_grad()
            loss = (w.relu() * x).sum()
            loss.backward()
            opt.step()
            return loss
        run = tg.jit(step) if use_jit else step
        x = Tensor(np.full(start.shape, 0.5, np.float32))
        with tg.num_threads(2):
            for _ in range(3):
                calls.clear()
                run(x)
        results.append(w.data)
    assert run.replays == 1 and "maximum(" not in run.tape.source
    assert calls == [2, 2]  # the replay's ReLU forward and backward, each split in two
    assert np.array_equal(*results)


def test_jit_relu_of_a_product_is_computed_in_place():
    # nn.Linear -> ReLU: the ReLU writes into the product nothing else reads (one activation
    # fewer alive until backward); a product read elsewhere too keeps its own array
    tg.manual_seed(0)
    lin = nn.Linear(6, 4)
    opt = optim.SGD(lin.parameters(), lr=0.1)

    def step(x, reuse):
        z = lin(x)
        h = z.relu()
        loss = (h * h).sum() + ((z * 0.5).sum() if reuse else 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    x = Tensor(np.linspace(-1, 1, 18, dtype=np.float32).reshape(3, 6))
    for reuse, in_place in ((False, True), (True, False)):
        run = tg.jit(step)
        for _ in range(3):
            run(x, reuse)
        assert ("maximum(v" in run.tape.source and ", 0, out=v" in run.tape.source) is in_place


def test_jit_dropout_draws_fresh_numbers():
    tg.manual_seed(0)
    x = Tensor.ones(1000)
    step = tg.jit(lambda x: x.dropout(0.5) * 1.0)
    outs = [step(x).numpy().copy() for _ in range(4)]
    assert step.replays == 2
    assert not np.array_equal(outs[2], outs[3])
    tg.manual_seed(0)
    eager = [(x.dropout(0.5) * 1.0).numpy().copy() for _ in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(outs, eager))


def test_jit_under_no_grad_evaluates():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
    predict = tg.jit(lambda x: model(x).argmax(axis=1))
    with tg.no_grad():
        for x, in _batches(5, 8, X_FLAT):
            got = predict(x)
            assert np.array_equal(got.numpy(), model(x).argmax(axis=1).numpy())
    assert predict.replays == 3 and model[0].weight.grad is None


def test_jit_w4_accumulates_like_eager_and_raw_sgd_under_no_grad():
    a, b, c = (Tensor(np.full((1, 1), v, np.float32), requires_grad=True) for v in (2.0, 3.0, 4.0))
    step = tg.jit(lambda: ((a * b) + c).sum().backward())
    for _ in range(5):
        step()
    assert a.grad.tolist() == [[15.0]] and c.grad.tolist() == [[5.0]]

    w = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    w_eager = Tensor(w.numpy().copy(), requires_grad=True)

    def sgd(w, x):
        loss = ((w * x).sum() - 1.0) ** 2
        loss.backward()
        with tg.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        return loss
    jitted = tg.jit(sgd)
    for i in range(6):
        x = Tensor(np.array([1.0, 0.5 * i], np.float32))
        assert jitted(w, x).item() == sgd(w_eager, x).item()
    assert np.array_equal(w.data, w_eager.data)


def test_jit_retraces_on_new_shapes_and_bounds_its_cache():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    step = tg.jit(lambda x: (x @ w).sum(), max_cache=2)
    for n in (1, 2, 1, 2, 1):
        with tg.no_grad():
            assert step(Tensor(np.ones((n, 3), np.float32))).item() == 3.0 * n
    assert step.traces == 4 and step.replays == 1
    with pytest.warns(UserWarning, match="oldest tape was dropped"), tg.no_grad():
        step(Tensor(np.ones((5, 3), np.float32)))
    assert len(step.cache) == 2


def test_jit_tape_prints_the_recorded_ops():
    model, _, step, (x, y), batch = _mlp_sigmoid()
    step = tg.jit(step)
    step(Tensor(x[:batch]), Tensor(y[:batch]))
    text = repr(step.tape)
    for op in ("MatMul(", "Sigmoid(", "Sigmoid.backward", "accumulate", "SGD.update"):
        assert op in text


@pytest.mark.parametrize("body, what", [
    (lambda w, x: (w * x).sum().item(), "item"),
    (lambda w, x: float((w * x).sum()), "item"),
    (lambda w, x: (w * x).numpy(), "numpy"),
    (lambda w, x: print(w * x), "array2string"),
    (lambda w, x: (w * x).tolist(), "tolist"),
])
def test_jit_refuses_values_read_into_python(body, what):
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(JitError, match=f"({what}).*Move it out"):
        tg.jit(body)(w, Tensor(np.ones(2, np.float32)))


def test_jit_refuses_in_place_changes_it_cannot_see():
    w = Tensor(np.ones(2, np.float32), requires_grad=True)

    def raw_update(x):
        loss = (w * x).sum()
        loss.backward()
        w.data -= 0.1 * w.grad.data  # numpy on raw arrays: invisible to the tape
        w.grad = None
        return loss
    with pytest.raises(JitError, match="changed in place by code the tape did not see"):
        tg.jit(raw_update)(Tensor(np.ones(2, np.float32)))

    def increments(x):
        tg.autograd.increment_version(w)
        return (w * x).sum()
    with pytest.raises(JitError, match="only Optimizer.step"), tg.no_grad():
        tg.jit(increments)(Tensor(np.ones(2, np.float32)))


def test_jit_refuses_values_kept_after_the_call():
    kept = []
    w = Tensor(np.ones(2, np.float32), requires_grad=True)

    def step(x):
        y = w * x
        kept.append(y.detach())
        return y.sum()
    with pytest.raises(JitError, match="still referenced after it returned"), tg.no_grad():
        tg.jit(step)(Tensor(np.ones(2, np.float32)))


def test_jit_refuses_a_graph_left_unfinished():
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(JitError, match="still has a graph"):
        tg.jit(lambda x: (w * x).sum())(Tensor(np.ones(2, np.float32)))


def test_jit_refuses_random_numbers_it_cannot_redraw():
    w = Tensor(np.ones(100, np.float32), requires_grad=True)
    private = np.random.default_rng(1)
    step = tg.jit(lambda x: (x.dropout(0.5, generator=private) * w).sum())
    with tg.no_grad():
        step(Tensor(np.ones(100, np.float32)))
        with pytest.raises(JitError, match="differs between the first two calls"):
            step(Tensor(np.ones(100, np.float32)))


def test_jit_branch_on_a_value_is_guarded():
    w = Tensor(np.ones(2, np.float32), requires_grad=True)

    def step(x):
        s = (w * x).sum()
        return s * 2.0 if s > 0 else s * -1.0
    jitted = tg.jit(step)
    with tg.no_grad():
        for _ in range(3):
            assert jitted(Tensor(np.ones(2, np.float32))).item() == 4.0
        with pytest.warns(UserWarning, match="went the other way.*runs eagerly"):
            assert jitted(Tensor(-np.ones(2, np.float32))).item() == 2.0


def test_jit_guarded_branch_after_an_update_refuses():
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def step(x):
        loss = (w * x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach() * 2.0 if loss > 5.0 else loss.detach()  # a guard after the update
    jitted = tg.jit(step)
    for _ in range(3):
        jitted(Tensor(np.ones(2, np.float32)))
    with pytest.raises(JitError, match="went the other way.*after the step had already changed"):
        jitted(Tensor(np.full(2, 100.0, np.float32)))


def test_jit_cross_entropy_labels_are_inputs_and_still_checked():
    model, _, step, (x, labels), batch = _mlp_relu_adam()
    jitted = tg.jit(step)
    for i in range(3):
        jitted(Tensor(x[:batch]), Tensor(labels[i:i + batch]))
    bad = labels[:batch].copy()
    bad[0] = 10
    with pytest.raises(IndexError, match="out of bounds"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jitted(Tensor(x[:batch]), Tensor(bad))


def _sgd_step(w, opt):
    """A training step of w by opt: the loss (w * x).sum(), backward, the update."""
    def step(x):
        opt.zero_grad()
        loss = (w * x).sum()
        loss.backward()
        opt.step()
        return loss
    return step


def _sgd_jitted():
    """A float32 parameter, its SGD, and the jitted step after three calls (two traces, a replay)."""
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    jitted = tg.jit(_sgd_step(w, opt))
    for _ in range(3):
        jitted(Tensor(np.ones(2, np.float32)))
    return w, opt, jitted


def test_jit_changed_parameter_set_traces_again():
    w, opt, jitted = _sgd_jitted()
    opt.add_param_group({"params": [Tensor(np.ones(1, np.float32), requires_grad=True)]})
    with pytest.warns(UserWarning, match="tracing again"):
        jitted(Tensor(np.ones(2, np.float32)))
    for _ in range(2):
        jitted(Tensor(np.ones(2, np.float32)))
    assert jitted.replays == 2
    w.requires_grad_(False)
    with pytest.warns(UserWarning, match="tracing again"), pytest.raises(RuntimeError):
        jitted(Tensor(np.ones(2, np.float32)))  # eager refuses too: nothing requires grad


def test_jit_parameter_swapped_in_its_group_traces_again():
    # same number of parameters, another tensor in the list: the identity check must see it
    w, opt, jitted = _sgd_jitted()
    other = Tensor(np.full(2, 5.0, np.float32), requires_grad=True)
    opt.param_groups[0]["params"][0] = other
    with pytest.warns(UserWarning, match="tracing again"):
        jitted(Tensor(np.ones(2, np.float32)))
    assert np.array_equal(other.data, np.full(2, 5.0, np.float32))  # (the step does not use it)
    assert other.grad is None


def test_jit_replaced_param_group_traces_again():
    # the replay reads the group dict it was traced with (lr, momentum): a new dict must be seen
    w, w_eager = (Tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(2))
    opts = [optim.SGD([w], lr=0.1), optim.SGD([w_eager], lr=0.1)]

    jitted, eager = tg.jit(_sgd_step(w, opts[0])), _sgd_step(w_eager, opts[1])
    x = Tensor(np.array([1.0, 2.0], np.float32))
    for _ in range(3):
        jitted(x), eager(x)
    for opt in opts:
        opt.param_groups[0] = dict(opt.param_groups[0], lr=0.5)
    with pytest.warns(UserWarning, match="tracing again"):
        jitted(x)
    eager(x)
    for _ in range(3):
        jitted(x), eager(x)
    assert jitted.replays == 3 and np.array_equal(w.data, w_eager.data)


def test_jit_replayed_update_bumps_versions():
    # the replay bumps the updated parameters' versions as Optimizer.step does: a graph recorded
    # before a replayed step refuses to backward after it, as in eager
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    step = _sgd_step(w, opt)
    jitted = tg.jit(step)
    x = Tensor(np.ones(2, np.float32))
    for _ in range(3):
        before = (w * w).sum()
        jitted(x)
        with pytest.raises(RuntimeError, match="was modified in place"):
            before.backward()
    assert jitted.replays == 1


def test_jit_sigmoids_share_one_errstate_and_still_silence_overflow():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 4), nn.Sigmoid())
    with tg.no_grad():
        model[0].weight.data[...] = -1000.0  # exp(-x) overflows: sigmoid's limit 0, no warning
    run = tg.jit(lambda x: model(x).sum())
    x = Tensor(np.ones((2, 4), np.float32))
    with warnings.catch_warnings(), tg.no_grad():
        warnings.simplefilter("error")
        outs = [run(x).numpy().tobytes() for _ in range(3)]
        assert outs[2] == model(x).sum().numpy().tobytes()
    assert run.replays == 1 and run.tape.source.count("errstate(") == 1


def test_jit_replay_keeps_a_pinned_blas_thread_count():
    if tg.get_num_threads() is None:
        pytest.skip("numpy's BLAS cannot be controlled here (threadpoolctl)")
    w = Tensor(np.ones((3, 3), np.float32), requires_grad=True)
    run = tg.jit(lambda x: (x @ w).sum())
    with tg.num_threads(2), tg.no_grad():  # a pinned count: small products do not switch it
        for _ in range(3):
            run(Tensor(np.ones((2, 3), np.float32)))
        assert run.replays == 1 and tg.get_num_threads() == 2


def test_jit_train_and_eval_modes_get_their_own_tapes():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    run = tg.jit(lambda x: model(x))
    x = Tensor(np.ones((2, 4), np.float32))
    with tg.no_grad():
        for _ in range(3):
            run(x)
        model.eval()
        for _ in range(3):
            assert np.array_equal(run(x).numpy(), model(x).numpy())
    assert run.traces == 4


# ----------------------------------------------------------------- the generated replay ----
_SHAPES = [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3,)), ((2, 3), ()), ((5,), (5,)), ((), ())]
_BODIES = {
    "mul_add_sub": lambda a, b: ((a * b) + a - b * 2.0).sum(),
    "neg_sigmoid_tanh_relu": lambda a, b: ((-a).sigmoid() * b.tanh() + (a - b).relu()).sum(),
    "sum_axes_keepdims": lambda a, b: ((a + b).sum(axis=-1, keepdims=True) * 3.0).sum()
    if np.ndim(np.broadcast_shapes(a.shape, b.shape)) else (a + b).sum(),
    "reshape_getitem": lambda a, b: ((a * b).reshape(-1)[1:] * 2.0).sum()
    if (a * b).size > 1 else (a * b).reshape(-1).sum(),
    "matmul_bias": lambda a, b: (a.reshape(1, -1) @ b.reshape(-1, 1) + 1.0).sum()
    if a.size == b.size else (a * b).mean(),
}


@pytest.mark.parametrize("shapes", _SHAPES, ids=str)
@pytest.mark.parametrize("body", _BODIES)
def test_jit_inline_kernels_match_eager_bitwise_with_broadcasting(body, shapes):
    rng = np.random.default_rng(1)
    a0, b0 = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    fn = _BODIES[body]
    eager = [Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)]
    jitted = [Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)]

    def step(a, b):
        loss = fn(a, b)
        loss.backward()
        return loss
    run = tg.jit(step)
    for _ in range(4):  # .grad accumulates across calls: the replay's adds too
        want, got = step(*eager), run(*jitted)
        assert want.numpy().tobytes() == got.numpy().tobytes()
    assert run.replays == 2
    for e, j in zip(eager, jitted):
        # (raw .data: a 0-d .grad accumulated twice holds a numpy scalar, in eager as in the replay)
        assert type(e.grad.data) is type(j.grad.data)
        assert e.grad.shape == j.grad.shape and e.grad.dtype == j.grad.dtype
        assert np.asarray(e.grad.data).tobytes() == np.asarray(j.grad.data).tobytes()


def test_jit_tape_shows_the_generated_replay():
    model, _, step, (x, y), batch = _mlp_sigmoid()
    step = tg.jit(step)
    for _ in range(3):
        step(Tensor(x[:batch]), Tensor(y[:batch]))
    source = step.tape.source
    assert source.startswith("def replay(args):") and source in repr(step.tape)
    # the network's ops are written inline (no op objects, no engine calls), products included
    assert "new(" not in source and " @ " in source and "reciprocal(" in source
    # one errstate for the three sigmoids, one version bump for the optimizer's group, the
    # loss's 0-d gradient not broadcast into an array, diff * diff's gradient made once
    assert source.count("errstate(") == 1 and source.count("incv(") == 1
    assert "empty(" not in source and re.search(r"= (v\d+) \+ \1\n", source)


def test_jit_boolean_mask_shape_is_checked_at_replay():
    w = Tensor(np.ones(4, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def masked(x):
        return (w * x)[(x > 0).data].sum()  # as many elements as x has positive entries

    def step(x, update_first=False):
        if update_first:
            opt.step()
        loss = masked(x)
        loss.backward()
        return loss
    jitted = tg.jit(step)
    for _ in range(3):
        assert jitted(Tensor(np.array([1, -1, 1, -1], np.float32))).item() == 2.0
    assert jitted.replays == 1
    with pytest.warns(UserWarning, match="depends on values.*runs eagerly"):
        assert jitted(Tensor(np.array([1, 1, 1, -1], np.float32))).item() == 3.0
    for _ in range(3):
        jitted(Tensor(np.array([1, -1, 1, -1], np.float32)), update_first=True)
    with pytest.raises(JitError, match="depends on values.*already changed"):
        jitted(Tensor(np.array([1, 1, 1, -1], np.float32)), update_first=True)


def test_jit_rebound_parameter_of_another_dtype_traces_again():
    w, _, jitted = _sgd_jitted()
    w.data = np.ones(2, np.float64)
    with pytest.warns(UserWarning, match="tracing again"):
        jitted(Tensor(np.ones(2, np.float32)))
    assert w.data.dtype == np.float64


def _slice_sum_replay(loss_of, seed):
    """tg.jit of a step whose loss sums gradients of slices of one (3, 6) array: the replay, after
    checking that its losses and gradient equal eager's bitwise (a zero may keep its sign)."""
    a0 = np.random.default_rng(seed).standard_normal((3, 6)).astype(np.float32)

    def step(a):
        loss = loss_of(a * 1.5)  # (an op's output: gradients arriving at it are summed)
        loss.backward()
        return loss
    eager, jitted = Tensor(a0, requires_grad=True), Tensor(a0, requires_grad=True)
    run = tg.jit(step)
    for _ in range(3):
        assert step(eager).item() == run(jitted).item()
    assert np.array_equal(eager.grad.numpy(), jitted.grad.numpy())
    return run, jitted


def test_jit_slices_summed_into_one_zero_array_equal_eager():
    run, _ = _slice_sum_replay(
        lambda b: (b[:, :2].sigmoid() * b[:, 2:4] + b[:, 4:].tanh() * 2.0).sum(), seed=2)
    # three slices' gradients, one array; they cover it, so it need not be zeroed first
    assert run.tape.source.count("empty((3, 6)") == 1 and "zeros(" not in run.tape.source


def test_jit_slices_that_leave_entries_unwritten_sum_into_a_zero_array():
    run, jitted = _slice_sum_replay(  # columns 2 and 3 unused
        lambda b: (b[:, :2].sigmoid() + b[:, 4:].tanh() * 2.0).sum(), seed=3)
    assert np.all(jitted.grad.numpy()[:, 2:4] == 0)
    assert run.tape.source.count("zeros((3, 6)") == 1 and "empty((3, 6)" not in run.tape.source


def test_jit_values_nothing_uses_are_not_computed():
    w = Tensor(np.ones((4, 4), np.float32), requires_grad=True)
    kept = []

    def step(x):
        unused = (x @ x).exp()  # computed by eager, never read
        kept.append(unused.shape)
        loss = (w * x).sum()
        loss.backward()
        return loss
    run = tg.jit(step)
    for _ in range(3):
        assert run(Tensor(np.ones((4, 4), np.float32))).item() == 16.0
    assert "(not needed)" in repr(run.tape) and " @ " not in run.tape.source
    assert w.grad.tolist() == [[3.0] * 4] * 4 and len(kept) == 2  # Python runs while tracing only


def test_jit_refuses_a_tensor_made_from_values_it_cannot_see():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)

    def step(labels):  # numpy indexing with a tensor's values: invisible to the tape
        target = Tensor(np.eye(3, dtype=np.float32)[labels.data])
        return (w * target).sum(axis=0)
    jitted = tg.jit(step)
    with tg.no_grad():
        jitted(Tensor(np.array([0, 1])))
        with pytest.raises(JitError, match="does not require grad.*differs between the first two"):
            jitted(Tensor(np.array([2, 2])))


def test_jit_tape_lines_are_those_met():
    # the lines are printed when the trace ends, from short records (numpy calls named from
    # their function, each load before the entry that first reads it)
    w = Tensor(np.ones(3, np.float32), requires_grad=True)

    def step(x):
        big = x.data > 0
        total = np.add.reduce(x.data, axis=0)
        x.data.reshape(-1)
        np.where(big, x.data, total)
        return (w * x).sum()
    run = tg.jit(step)
    with tg.no_grad():
        run(Tensor(np.array([1.0, -2.0, 3.0], np.float32)))
    assert run.tape.lines == [
        "  %1 = np.greater.__call__(%0, 0)", "  %2 = np.add.reduce(%0, axis=0)",
        "  %3 = ndarray.reshape(%0, -1)", "  %4 = np.where(%1, %0, %2)",
        "  %5 = load tensor[3]:float32", "  %6 = Mul(%5, %0)", "  %7 = Sum(%6, axis=None, keepdims=False)"]


def test_jit_refusal_of_a_kept_value_says_where_it_was_made():
    # (the values a trace made are found alive from its token's reference count)
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    for keep in (lambda x, y: y.detach(), lambda x, y: x.data > 0):
        kept = []

        def step(x, keep=keep, kept=kept):
            y = w * x
            kept.append(keep(x, y))
            return y.sum()
        with pytest.raises(JitError, match=r"\(by (Mul|np\.greater\.__call__) \(test_jit\.py:\d+\)\)"), \
                tg.no_grad():
            tg.jit(step)(Tensor(np.ones(2, np.float32)))


def test_jit_first_trace_keeps_a_fingerprint_of_its_constants():
    # the first trace keeps its constants as shape, dtype and a digest of their values (made
    # canonical as np.array_equal(..., equal_nan=True) compares them: -0.0 is 0.0, NaNs are
    # equal), block by block: another array of equal values is the same step, one value changed
    # past the first 65536 is not; the same array changed in place is read live, as before
    def run_twice(first, second, same_object=False):
        consts = [first, second]
        step = tg.jit(lambda x: (x * Tensor(consts.pop(0))).sum())
        with tg.no_grad():
            step(Tensor(np.ones(len(first), np.float32)))
            if same_object:
                first[-1] = 5.0  # (in place: the second trace uses this very array)
            step(Tensor(np.ones(len(first), np.float32)))
        return step

    base = np.zeros(70_000, np.float32)
    base[7] = np.nan
    other = base.copy()
    other[3] = -0.0
    other.view(np.uint32)[7] = 0x7FC00001  # (another NaN)
    assert run_twice(base, other).traces == 2
    strided = np.zeros(2 * len(base), np.float32)[::2]  # (not contiguous: compared all the same)
    strided[7] = np.nan
    assert run_twice(base, strided).traces == 2
    changed = base.copy()
    changed[-1] = 1.0
    with pytest.raises(JitError, match="differs between the first two calls"):
        run_twice(base, changed)
    same = base.copy()
    assert run_twice(same, same, same_object=True).traces == 2


@pytest.mark.parametrize("name", NETWORKS)
def test_jit_trace_holds_little_above_eager_through_the_forward(name, monkeypatch):
    # what a traced call holds above an eager call when its forward ends (the step's activations
    # all alive: a jitted run's peak, W2's), per entry recorded so far: about 0.5 KiB (the first
    # trace's lines and fingerprints, a traced view and the slot's shape of each value, a short
    # tuple an entry); with each entry's line and dict made as it was met, 1.4 to 1.8 KiB
    held = {}
    backward = Tensor.backward

    def at_backward(self, *args, **kwargs):
        held.setdefault("forward", tracemalloc.get_traced_memory()[0])
        return backward(self, *args, **kwargs)
    monkeypatch.setattr(Tensor, "backward", at_backward)
    extra = []
    for use_jit in (False, True):
        tg.manual_seed(0)
        _, _, step, data, batch, *_ = NETWORKS[name]()
        run = tg.jit(step) if use_jit else step
        first, second = _batches(2, batch, *data)
        run(*first)
        gc.disable()
        tracemalloc.start()
        try:
            held.clear()
            before = tracemalloc.get_traced_memory()[0]
            run(*second)
        finally:
            tracemalloc.stop()
            gc.enable()
        extra.append(held["forward"] - before)
    forward = next(n for n, line in enumerate(run.tape.lines) if "backward from" in line)
    assert run.traces == 2 and extra[1] - extra[0] < 800 * forward, (extra, forward)


def _replay_names(source):
    """The replay's locals v<slot>: (assigned, deleted, returned)."""
    found = {ast.Store: set(), ast.Del: set(), ast.Load: set()}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and re.fullmatch(r"v\d+", node.id):
            found[type(node.ctx)].add(node.id)
    returned = {n.id for r in ast.walk(tree) if isinstance(r, ast.Return)
                for n in ast.walk(r) if isinstance(n, ast.Name)}
    return found[ast.Store], found[ast.Del], returned


@pytest.mark.parametrize("name", NETWORKS)
def test_jit_replay_deletes_every_value_after_its_last_use(name):
    *_, run = _train(NETWORKS[name], True, 3)
    assigned, deleted, returned = _replay_names(run.tape.source)
    assert assigned and assigned - deleted <= returned  # small values too (a 0-d loss, a mask)


def _transient_peak(run, batches):
    """Peak memory (tracemalloc) of the last call above what was held before it."""
    gc.disable()  # (a collection inside the step would change the figure)
    tracemalloc.start()
    try:
        for args in batches:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            run(*args)
            peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        gc.enable()
    return peak


@pytest.mark.parametrize("name", NETWORKS)
def test_jit_replay_peak_memory_is_below_eager(name):
    peaks = []
    for use_jit in (False, True):
        tg.manual_seed(0)
        _, _, step, data, batch, *_ = NETWORKS[name]()
        run = tg.jit(step) if use_jit else step
        peaks.append(_transient_peak(run, list(_batches(6, batch, *data))))
    assert run.replays == 4
    # (the replay holds no graph, and each value only until its last use: the step's own arrays)
    assert peaks[1] < peaks[0], peaks


def test_jit_backward_seed_outlives_the_gradients_made_from_it():
    # a .grad that is None when the replay starts (set outside the step) is made by the engine's
    # sink, which marks the seed as handed out: the seed must still be alive then (4 KiB: an
    # array the replay deleted after its last read even before small ones were)
    w = Tensor(np.ones((32, 32), np.float32), requires_grad=True)

    def step(g):
        (w * 3.0).backward(g)
    run = tg.jit(step)
    for k in range(4):
        w.grad = None
        run(Tensor(np.full((32, 32), k, np.float32)))
        assert np.array_equal(w.grad.numpy(), np.full((32, 32), 3.0 * k, np.float32))
    assert run.replays == 2


def test_jit_replays_hold_no_more_memory_call_after_call():
    # a replay's cache key (the modules' train/eval modes) was tuple(map(...)): each such tuple,
    # made for 10 items and shrunk, stayed on CPython's free lists (72 bytes a replay here)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))
    opt = optim.Adam(model.parameters())
    run = tg.jit(_training_step(opt, lambda x, y: F.cross_entropy(model(x), y)))
    x, y = Tensor(X_FLAT[:8, :20]), Tensor(LABELS[:8] % 5)
    for _ in range(20):
        run(x, y)
    tracemalloc.start()
    try:
        for _ in range(50):
            run(x, y)
        held = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            run(x, y)
        grown = tracemalloc.get_traced_memory()[0] - held
    finally:
        tracemalloc.stop()
    assert run.replays == 268 and grown < 2000, grown  # (72 bytes a replay: 14400)


def test_jit_failed_compile_traces_again(monkeypatch):
    # the first trace's tape is dropped before the second is compiled (it is not held through the
    # compile); if the compile fails, the next call is a first trace again, then a second
    # trace compiles, and the replays equal eager
    jit_module = sys.modules["tinygrad_lite.jit"]
    write, calls = jit_module._Writer.write, []

    def failing_once(writer):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("planted")
        return write(writer)
    monkeypatch.setattr(jit_module._Writer, "write", failing_once)
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    v = Tensor(np.ones(2, np.float32), requires_grad=True)
    jitted = tg.jit(_sgd_step(w, optim.SGD([w], lr=0.1)))
    eager = _sgd_step(v, optim.SGD([v], lr=0.1))
    x = Tensor(np.array([1.0, 2.0], np.float32))
    jitted(x)
    eager(x)
    with pytest.raises(MemoryError, match="planted"):
        jitted(x)
    eager(x)
    for _ in range(4):
        assert jitted(x).item() == eager(x).item()
    assert (jitted.traces, jitted.replays, len(calls)) == (4, 2, 2)
    assert np.array_equal(w.data, v.data) and "replayed by:" in repr(jitted.tape)


def test_jit_trace_leaves_objects_the_program_froze_frozen():
    # (after a trace the free lists are emptied by a collection that freezes and thaws every
    # object around it: skipped where the program froze objects itself)
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    jitted = tg.jit(_sgd_step(w, optim.SGD([w], lr=0.1)))
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        for _ in range(3):
            jitted(Tensor(np.ones(2, np.float32)))
        # (frozen objects that die leave the permanent generation, so the count may fall a
        # little while the test runs; a gc.unfreeze() by the trace would make it 0)
        assert jitted.replays == 1 and 0 < gc.get_freeze_count() <= frozen
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()
    for _ in range(3):
        jitted(Tensor(np.ones(1, np.float32)))  # (a new signature: traced twice again)
    assert jitted.traces == 4 and gc.get_freeze_count() == 0


def test_jit_replay_lets_set_num_threads_split_its_large_products():
    # a product of at least threads.SPLIT_PRODUCT multiply-adds goes through threads.matmul (which
    # cuts it into blocks under set_num_threads(n > 1)) even when every product of the step is
    # below SMALL_PRODUCT; smaller products stay a plain `@`. The replay equals eager bitwise.
    from tinygrad_lite import threads

    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal((64, 1024)).astype(np.float32))
    assert 64 * 1024 * 512 >= threads.SPLIT_PRODUCT > 64 * 512 * 2

    def make():
        tg.manual_seed(3)
        model = nn.Sequential(nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 2))
        opt = optim.SGD(model.parameters(), lr=0.01)

        def step(xb):
            opt.zero_grad()
            loss = model(xb).sum()
            loss.backward()
            opt.step()
            return loss
        return model, step

    with tg.threads.num_threads(2):
        eager_model, eager_step = make()
        jit_model, step = make()
        jitted = tg.jit(step)
        for _ in range(4):
            eager_step(x)
            jitted(x)
    assert jitted.replays == 2
    source = jitted.tape.source
    assert re.search(r"blas_matmul\(v\d+, v\d+\.T\)", source)  # the large forward product
    assert re.search(r"= v\d+ @ v\d+\.T\n", source)  # the small one
    for a, b in zip(eager_model.parameters(), jit_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
