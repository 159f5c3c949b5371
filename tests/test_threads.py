"""tinygrad_lite.threads: the BLAS thread policy (one thread for small products), num_threads /
set_num_threads / get_num_threads, on numpy's own BLAS through threadpoolctl."""

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
    small = np.ones((8, 8)), np.ones((8, 8))
    assert _threads_during(*small, blas) == 2
    assert tg.set_num_threads(None) is True  # back to the policy
    assert _threads_during(*small, blas) == 1


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
