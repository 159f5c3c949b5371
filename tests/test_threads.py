"""tinygrad_lite.threads: the BLAS thread policy (one thread for small products), num_threads /
set_num_threads / get_num_threads, on numpy's own BLAS through threadpoolctl."""

import re

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, threads

pytest.importorskip("threadpoolctl")


@pytest.fixture
def blas():
    """numpy's BLAS, set to 2 threads for the test (conftest runs the suite on 1), then restored."""
    controller = threads._blas()
    if controller is None:
        pytest.skip("numpy's BLAS cannot be controlled here")
    tg.set_num_threads(None)  # undo a switch the policy made in an earlier test
    before = controller.get_num_threads()
    controller.set_num_threads(2)  # the policy starts from the BLAS's count (2)
    yield controller
    tg.set_num_threads(None)
    controller.set_num_threads(before)


def _threads_during(a, b, controller):
    """The BLAS thread count in force while threads.matmul multiplies a and b."""
    seen = []

    class Recording(np.ndarray):
        def __matmul__(self, other):
            seen.append(controller.get_num_threads())
            return np.asarray(self) @ np.asarray(other)

    out = threads.matmul(a.view(Recording), b)
    np.testing.assert_allclose(np.asarray(out), a @ b, rtol=1e-6)
    return seen[0]


def test_threads_small_products_run_on_one_thread(blas):
    small = np.ones((64, 784), np.float32), np.ones((784, 16), np.float32)
    assert _threads_during(*small, blas) == 1
    assert _threads_during(*small, blas) == 1  # (sticky: no switching between small products)
    side = round(threads.SMALL_PRODUCT ** (1 / 3)) + 1
    large = np.ones((side, side), np.float32), np.ones((side, side), np.float32)
    assert _threads_during(*large, blas) == 2  # a large product gets the BLAS's count back
    assert blas.get_num_threads() == 2


def test_threads_large_products_keep_the_blas_count(blas):
    side = round(threads.SMALL_PRODUCT ** (1 / 3)) + 1  # just above the limit
    large = np.ones((side, side), np.float32), np.ones((side, side), np.float32)
    assert _threads_during(*large, blas) == 2


def test_threads_set_num_threads_overrides_the_policy(blas):
    assert tg.set_num_threads(2) is True
    assert tg.get_num_threads() == 2  # the library's count; the BLAS is held on one thread
    small = np.ones((8, 8)), np.ones((8, 8))
    assert _threads_during(*small, blas) == 1  # (large ones are split over ours: see below)
    assert tg.set_num_threads(None) is True  # back to the policy and the BLAS's own count
    side = round(threads.SMALL_PRODUCT ** (1 / 3)) + 1
    large = np.ones((side, side), np.float32), np.ones((side, side), np.float32)
    assert blas.get_num_threads() == 2 and tg.get_num_threads() == 2
    assert _threads_during(*large, blas) == 2
    assert _threads_during(*small, blas) == 1
    assert tg.set_num_threads(1) is True and tg.set_num_threads(None) is True
    assert blas.get_num_threads() == 2  # (the policy's switch undone, not taken as the count)


def _split_calls(monkeypatch):
    """The block counts split_map is called with, recorded as the calls go through."""
    counts = []
    real = threads.split_map

    def recording(fn, parts, count):
        counts.append(len(parts))
        return real(fn, parts, count)

    monkeypatch.setattr(threads, "split_map", recording)
    return counts


@pytest.mark.parametrize("a_shape, b_shape, dtype", [
    ((64, 2304), (2304, 128), np.float32),  # more columns: b's columns in blocks
    ((300, 700), (700, 40), np.float64),  # more rows: a's rows in blocks (300: not a multiple)
    ((3, 1, 96, 200), (4, 200, 80), np.float32),  # batches, broadcast
    ((40, 512), (512, 64), np.complex64),
])
def test_threads_pinned_count_splits_large_products_exactly(blas, monkeypatch, a_shape, b_shape,
                                                            dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    a_t, b_t = a.swapaxes(-1, -2).copy().swapaxes(-1, -2), b.swapaxes(-1, -2).copy().swapaxes(-1, -2)
    tg.set_num_threads(1)
    expected = a @ b
    # NOTE: a block's sums may take another kernel's order (the last, narrower block): float
    # rounding of the k-long sums, far below what a misplaced or unwritten block would show
    tol = 20 * np.finfo(dtype).eps * a.shape[-1] * np.abs(a).max() * np.abs(b).max()
    counts = _split_calls(monkeypatch)
    monkeypatch.setattr(threads, "SPLIT_PRODUCT", 1)
    for count in (2, 3):
        tg.set_num_threads(count)
        for x, y in ((a, b), (a_t, b_t)):  # and transposed layouts (what the gradients pass)
            out = threads.matmul(x, y)
            assert out.shape == expected.shape and out.dtype == expected.dtype
            np.testing.assert_allclose(out, expected, rtol=0, atol=tol)
    assert len(counts) == 4 and min(counts) >= 2


def test_threads_pinned_count_leaves_what_it_cannot_split_to_numpy(blas, monkeypatch):
    counts = _split_calls(monkeypatch)
    tg.set_num_threads(2)
    small = np.ones((64, 64), np.float32), np.ones((64, 64), np.float32)  # below SPLIT_PRODUCT
    threads.matmul(*small)
    monkeypatch.setattr(threads, "SPLIT_PRODUCT", 64)  # the rest would be split by size
    cases = [(np.ones((4, 128)), np.ones((128, 4))),  # too few rows and columns
             (np.ones((64, 32), np.int64), np.ones((32, 64), np.int64)),  # integers
             (np.ones((64, 32)), np.ones((32, 64), np.float32)),  # mixed dtypes
             (np.ones(32), np.ones((32, 128)))]  # a vector
    for a, b in cases:
        out = threads.matmul(a, b)
        np.testing.assert_array_equal(out, a @ b)
        assert out.dtype == (a @ b).dtype
    assert counts == []
    threads.matmul(np.ones((64, 32)), np.ones((32, 64)))  # (and this one is: the check works)
    assert counts == [2]
    for a, b in ((np.ones((256, 64)), np.ones((32, 256))),  # numpy's own messages
                 (np.ones((2, 256, 32)), np.ones((3, 32, 256)))):
        with pytest.raises(ValueError) as numpy_error:
            a @ b
        with pytest.raises(ValueError, match=re.escape(str(numpy_error.value))):
            threads.matmul(a, b)


def test_threads_matmul_op_splits_under_a_pinned_count(blas, monkeypatch):
    # the engine's MatMul: nn.Linear's x @ w.T + b, and both gradients, split into blocks
    counts = _split_calls(monkeypatch)
    monkeypatch.setattr(threads, "SPLIT_PRODUCT", 1)
    rng = np.random.default_rng(1)
    arrays = rng.standard_normal((64, 96)), rng.standard_normal((48, 96)), rng.standard_normal(48)
    grads = []
    for count in (1, 2):
        tg.set_num_threads(count)
        x, w, b = (Tensor(a, requires_grad=True) for a in arrays)
        ((x.linear(w, b) if hasattr(x, "linear") else x @ w.T + b) ** 2).sum().backward()
        grads.append([t.grad.numpy() for t in (x, w, b)])
    assert len(counts) == 3  # the forward product and the two gradients, at 2 threads only
    for one, two in zip(*grads):
        np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)


def test_threads_split_map_runs_every_part_and_waits_on_errors():
    seen = []

    def fn(part):
        seen.append(part)
        return part * 10

    assert threads.split_map(fn, list(range(7)), 3) == [0, 10, 20, 30, 40, 50, 60]
    assert sorted(seen) == list(range(7))
    # a split_map inside a part runs there, one part after another (no worker waits on a worker)
    assert threads.split_map(lambda p: threads.split_map(len, p, 2), [[[1], [2]], [[3]]], 2) \
        == [[1, 1], [1]]
    done = []

    def failing(part):
        if part == 0:
            raise KeyError("first")
        import time

        time.sleep(0.05)
        done.append(part)

    with pytest.raises(KeyError):
        threads.split_map(failing, [0, 1], 2)
    assert done == [1]  # the other run had finished before the error came back


def test_threads_num_threads_inside_a_pinned_count_restores_it(blas):
    tg.set_num_threads(2)
    with tg.num_threads(3):
        assert tg.get_num_threads() == 3 and blas.get_num_threads() == 1
    assert tg.get_num_threads() == 2 and blas.get_num_threads() == 1  # still held
    tg.set_num_threads(None)
    assert blas.get_num_threads() == 2


def test_threads_matmul_op_follows_the_policy(blas):
    # the engine's MatMul (forward and both gradients) multiplies under the policy: through
    # threads.matmul, or inline when the BLAS is on one thread already and the product is small
    calls = []
    real = threads.matmul

    def counting(a, b):
        calls.append((a.shape, b.shape))
        return real(a, b)

    import tinygrad_lite.ops as ops

    original = ops._blas_matmul
    ops._blas_matmul = counting
    try:
        x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        w = Tensor(np.ones((3, 4)), requires_grad=True)
        (x @ w).sum().backward()
        assert calls == [((2, 3), (3, 4))]  # the first switched to one thread; the rest inline
        assert blas.get_num_threads() == 1
        side = round(threads.SMALL_PRODUCT ** (1 / 3)) + 1  # just above the limit
        big = Tensor(np.ones((side, side), np.float32))
        big @ big
        assert calls[-1] == ((side, side), (side, side))  # a large product goes to the policy,
        assert blas.get_num_threads() == 2  # which gives the BLAS its count back
    finally:
        ops._blas_matmul = original
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 4.0))
    np.testing.assert_allclose(w.grad.numpy(), np.repeat([[3.0], [5.0], [7.0]], 4, axis=1))


def test_threads_limit_and_restore(blas):
    assert tg.get_num_threads() == 2
    threads.matmul(np.ones((2, 2)), np.ones((2, 2)))  # the policy holds the BLAS on one thread
    with tg.num_threads(1):
        pass
    assert tg.get_num_threads() == 2  # num_threads restores the BLAS's own count, not the switch
    with tg.num_threads(1):
        assert tg.get_num_threads() == 1
        assert threads._fixed == 1
    assert tg.get_num_threads() == 2 and threads._fixed is None
    with tg.num_threads(0):  # 0: leave the BLAS and the policy alone
        assert tg.get_num_threads() == 2 and threads._fixed is None
    with pytest.raises(ZeroDivisionError), tg.num_threads(1):
        raise ZeroDivisionError
    assert tg.get_num_threads() == 2 and threads._fixed is None  # restored on errors too


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_threads_set_needs_a_positive_whole_count(bad):
    with pytest.raises(ValueError, match="n >= 1"):
        tg.set_num_threads(bad)


def test_threads_without_threadpoolctl_do_nothing(monkeypatch):
    monkeypatch.setattr(threads, "_blas", lambda: None)
    assert tg.get_num_threads() is None
    assert tg.set_num_threads(2) is False and threads._fixed is None
    with tg.num_threads(1):
        pass
    np.testing.assert_allclose(threads.matmul(np.eye(3), np.full((3, 2), 2.0)), np.full((3, 2), 2.0))


def test_threads_scratch_is_kept_per_thread_and_key(monkeypatch):
    a = threads.scratch("test", 100, np.float32)
    assert a.shape == (100,) and a.dtype == np.float32
    assert np.shares_memory(threads.scratch("test", 50, np.float32), a)  # kept: smaller fits
    assert not np.shares_memory(threads.scratch("other", 50, np.float32), a)  # another key
    assert threads.scratch("test", 100, np.float64).dtype == np.float64  # another dtype: remade
    assert threads.scratch("test", 200, np.float64).size == 200  # larger: remade
    other = []
    threads.split_map(lambda _: other.append(threads.scratch("test", 200, np.float64)), [0, 1], 2)
    mine = threads.scratch("test", 200, np.float64)
    # (the first part runs on the calling thread: its array; the second on a worker: another)
    assert np.shares_memory(other[0], mine) and not np.shares_memory(other[1], mine)
    monkeypatch.setattr(threads, "SCRATCH_LIMIT", 1000)
    big = threads.scratch("big", 1000, np.float32)  # above the limit: not kept
    assert not np.shares_memory(threads.scratch("big", 1000, np.float32), big)


def test_threads_split_map_from_several_threads_at_once():
    # each caller's results, in order, while the others grow the pool (made anew, never shut
    # down under a caller that is submitting to it)
    import threading

    errors = []

    def go(count):
        try:
            for _ in range(50):
                parts = list(range(count))
                assert threads.split_map(lambda p: p * 2, parts, count) == [2 * p for p in parts]
        except Exception as error:  # (collected: an assert in a thread would be lost)
            errors.append(error)

    callers = [threading.Thread(target=go, args=(count,)) for count in (2, 3, 4, 5)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert errors == []


def test_threads_split_rows_covers_the_rows_once_in_blocks(blas, monkeypatch):
    counts = _split_calls(monkeypatch)
    seen = []
    threads.split_rows(seen.append, 7, threads.ROWS_SPLIT)  # no count pinned: one block, here
    tg.set_num_threads(3)
    threads.split_rows(seen.append, 7, threads.ROWS_SPLIT - 1)  # too little work: one block
    assert seen == [slice(0, 7), slice(0, 7)] and counts == []
    for rows in (7, 2):
        seen.clear()
        threads.split_rows(seen.append, rows, threads.ROWS_SPLIT)
        covered = [i for block in sorted(seen, key=lambda b: b.start) for i in range(rows)[block]]
        assert covered == list(range(rows)) and len(seen) == min(3, rows)
    assert counts == [3, 2]


def _bits(a):
    """The array's bytes in C order: equal bits, including NaN payloads and the sign of 0."""
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


def _layouts(a):
    """a (N, C, H, W) in three memory layouts: C order, channels-last, and a strided slice."""
    last = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    wide = np.zeros(a.shape[:3] + (2 * a.shape[3],), a.dtype)
    wide[..., ::2] = a
    return [a, last, wide[..., ::2]]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (the NaN window)
@pytest.mark.parametrize("op", ["relu", "max_pool2d", "max_axes_0_2"])
def test_threads_elementwise_ops_split_bitwise_as_one_thread(blas, monkeypatch, op):
    # ReLU and Max (2x2 pooling's slice-by-slice path, and a reduction over the leading axis,
    # which is not split) split by rows: forward and gradient bit for bit one thread's, for odd
    # sizes and every layout, with ties (ReLU's zeros), NaN, inf and -0.0 in the input
    rng = np.random.default_rng(0)
    shape = (2, 40, 3, 50) if op == "max_axes_0_2" else (7, 5, 10, 14)
    base = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    base.flat[[3, 100, 901]] = np.nan, np.inf, -0.0
    fns = {"relu": lambda t: t.relu(), "max_pool2d": lambda t: t.max_pool2d(2),
           "max_axes_0_2": lambda t: t.max(axis=(0, 2))}
    axes = {"relu": None, "max_pool2d": (3, 5), "max_axes_0_2": (0, 2)}[op]
    ref_forward = {"relu": lambda x: np.maximum(x, 0),
                   "max_pool2d": lambda x: x.reshape(7, 5, 5, 2, 7, 2).max(axis=axes),
                   "max_axes_0_2": lambda x: x.max(axis=axes)}

    def ref_grad(x, y, g):
        if axes is None:
            return g * (x > 0)
        x = x.reshape(7, 5, 5, 2, 7, 2) if op == "max_pool2d" else x
        mask = (x == np.expand_dims(y, axes)).astype(np.float32)
        with np.errstate(invalid="ignore"):
            return (np.expand_dims(g, axes) * (mask / mask.sum(axis=axes, keepdims=True))
                    ).reshape(shape)

    monkeypatch.setattr(threads, "ROWS_SPLIT", 64)
    counts = _split_calls(monkeypatch)
    for x in _layouts(base):
        results, upstream = [], None
        for count in (1, 2, 3):
            tg.set_num_threads(count)
            t = Tensor(x, requires_grad=True)
            y = fns[op](t)
            if upstream is None:
                upstream = rng.standard_normal(y.shape).astype(np.float32)
            y.backward(Tensor(upstream))
            results.append((_bits(y.data), _bits(t.grad.data)))
            if count == 1:  # one thread's numbers are the plain formulas'
                np.testing.assert_array_equal(y.data, ref_forward[op](x))
                np.testing.assert_array_equal(t.grad.data, ref_grad(x, y.data, upstream))
        assert results[1] == results[0] and results[2] == results[0]
    if op == "max_axes_0_2":
        assert counts == []
    else:  # each layout: forward and backward split at 2 and 3 threads
        assert len(counts) == 3 * 2 * 2 and min(counts) >= 2
