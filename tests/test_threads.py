"""tinygrad_lite.num_threads / set_num_threads / get_num_threads (numpy's bundled OpenBLAS)."""

import pytest

import tinygrad_lite as tg


def test_threads_limit_and_restore():
    before = tg.get_num_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not a findable OpenBLAS here")
    with tg.num_threads(1):
        assert tg.get_num_threads() == 1
    assert tg.get_num_threads() == before
    with tg.num_threads(0):  # 0: leave the BLAS default alone
        assert tg.get_num_threads() == before
    with pytest.raises(ZeroDivisionError), tg.num_threads(1):
        raise ZeroDivisionError
    assert tg.get_num_threads() == before  # restored on errors too


def test_threads_set_needs_a_positive_count():
    with pytest.raises(ValueError, match="n >= 1"):
        tg.set_num_threads(0)
