"""How many threads numpy's BLAS (matrix products) uses, and the policy the library follows.

The policy: a matrix product of fewer than `SMALL_PRODUCT` (2**27, about 512 x 512 x 512)
multiply-adds runs on one BLAS thread; a larger one gets the BLAS's own count (one thread per
core, or what OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say). `set_num_threads(n)` or the block
`with num_threads(n):` overrides it: every product then uses n threads.

Why: the products of a lesson-sized network are small and run thousands of times per epoch. Extra
BLAS threads gain little on them, and on a machine where anything else is running they cost a
lot: the threads wait for each other and keep spinning after each product, taking the CPU from the
Python thread that has the next step to do. Measured on 2 cores with `benchmarks/bench_threads.py`
(a product plus the element-wise work between two products): with other work on the machine, the
default two threads were 1.5x to 150x slower than one thread for products below 2**27
multiply-adds; on an idle machine they were at most 2x faster. Above that size the two threads win
by up to 2x when the machine is idle; that is the user's call, so the BLAS's own count applies.
The whole of `docs/performance.md` ("BLAS threads") has the tables.

The BLAS is found with threadpoolctl (an optional dependency, in the `examples` and `dev` extras);
switching the thread count costs about 0.6 us (a direct call into the library threadpoolctl found).
Without threadpoolctl, or with a BLAS it cannot control, everything here does nothing,
`get_num_threads()` returns None and products run with the BLAS's own count.
"""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache

import numpy as np

SMALL_PRODUCT = 2**27  # multiply-adds: below this a product runs on one BLAS thread

_fixed: int | None = None  # set_num_threads(n): every product uses n threads, the policy is off


@lru_cache(maxsize=1)
def _blas():
    """threadpoolctl's controller of the BLAS numpy uses (OpenBLAS, MKL, BLIS), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it the BLAS keeps its own thread count
        return None
    controllers = ThreadpoolController().select(user_api="blas").lib_controllers
    return controllers[0] if controllers else None


def get_num_threads() -> int | None:
    """The number of threads numpy's BLAS uses now, or None if it cannot be controlled here."""
    blas = _blas()
    return None if blas is None else int(blas.get_num_threads())


def set_num_threads(n: int | None) -> bool:
    """Let every matrix product use n threads (n >= 1), like `torch.set_num_threads`; None goes
    back to the library's policy (one thread for small products). Returns False where numpy's BLAS
    cannot be controlled (threadpoolctl missing, or an unknown BLAS).
    """
    global _fixed, _restore
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"set_num_threads needs a whole number n >= 1 (or None), got {n!r}")
    blas = _blas()
    if blas is None:
        return False
    if _restore is not None:  # undo the policy's switch first, so "the BLAS's count" is right
        blas.set_num_threads(_restore)
        _restore = None
    if n is None:
        _fixed = None
        return True
    _fixed = int(n)
    blas.set_num_threads(_fixed)
    return True


@contextlib.contextmanager
def num_threads(n: int):
    """Run the block with every matrix product on n BLAS threads (the policy off), then restore
    the count and the policy; n <= 0 leaves both alone.

    >>> with num_threads(1):
    ...     pass
    """
    global _fixed, _restore
    blas = _blas() if n > 0 else None
    if blas is None:
        yield
        return
    if _restore is not None:  # undo the policy's switch first (see matmul)
        blas.set_num_threads(_restore)
        _restore = None
    before, fixed_before = blas.get_num_threads(), _fixed
    set_num_threads(n)
    try:
        yield
    finally:
        _fixed = fixed_before
        blas.set_num_threads(before)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b` under the policy: on one BLAS thread when the product (per matrix of a batch) has
    fewer than SMALL_PRODUCT multiply-adds, with the BLAS's count otherwise.

    NOTE: the switch is sticky: after a small product the BLAS stays on one thread until a large
    product (or `set_num_threads`) needs its own count back. Switching around every product cost
    about 2 us per product (two calls into the BLAS and one threadpoolctl query), 10% of a
    784-16-16-10 training step at batch 10; sticky, a run of small products pays nothing. (numpy
    code of your own that runs between the library's small products therefore also runs on one
    thread; `tg.set_num_threads(n)` pins a count for everything.)

    >>> matmul(np.ones((2, 3)), np.ones((3, 4))).sum()
    np.float64(24.0)
    """
    global _restore
    if _restore is not None and a.size * b.size < SMALL_PRODUCT:
        # NOTE: the common case, decided cheaply: the BLAS is on one thread already and the
        # product is surely small (m*k*n <= a.size * b.size); 1.4% of a W1 step at batch 10
        return a @ b
    if _fixed is not None:
        return a @ b
    # multiply-adds per matrix of the product (a.size is m * k for the common 2-D a)
    mk = a.size if a.ndim <= 2 else a.shape[-2] * a.shape[-1]
    if mk * (b.shape[-1] if b.ndim > 1 else 1) >= SMALL_PRODUCT:
        if _restore is not None:  # the policy had switched to one thread: give the count back
            blas, count, _restore = _blas(), _restore, None
            if blas is not None:
                blas.set_num_threads(count)
        return a @ b
    if _restore is None:  # first small product since the BLAS had its own count: switch once
        blas = _blas()
        if blas is None:
            return a @ b
        _restore = blas.get_num_threads()
        if _restore != 1:
            blas.set_num_threads(1)
    return a @ b


# While the policy holds the BLAS on one thread: the count it had before (what a large product gets
# back); None while the BLAS has its own count.
_restore: int | None = None


def split_count(multiply_adds: int) -> int:
    """How many threads a large job made of independent pieces (conv2d's chunks of images, each
    with its own small products) may use: the count `set_num_threads` pinned; else, under the
    policy, the BLAS's own count when the whole job is not a small product; else one. One where
    the BLAS cannot be controlled (its threads and ours would fight over the cores)."""
    if _fixed is not None:
        return _fixed
    if multiply_adds < SMALL_PRODUCT:
        return 1
    blas = _blas()
    if blas is None:
        return 1
    return int(_restore if _restore is not None else blas.get_num_threads())


_pool = None  # the workers of split_map, made on first use
_pool_lock = threading.Lock()


def split_map(fn, parts: list, count: int) -> list:
    """[fn(part) for part in parts], on `count` threads when count > 1 (numpy and the BLAS let go
    of the GIL), the BLAS on one thread meanwhile so each worker's products stay on its own core.

    NOTE: W6's convolutions as chunks of images: two workers each running one-thread products beat
    one chunk after another with a two-thread BLAS (its threads wait for each other on every small
    product: 1.6x slower than one thread on a loaded 2-core machine), and they also share the
    im2col copies and the col2im adds, which a BLAS thread count does not touch.

    >>> split_map(len, [[1], [2, 3]], 2)
    [1, 2]
    """
    global _pool
    if count <= 1 or len(parts) <= 1:
        return [fn(part) for part in parts]
    with _pool_lock:
        if _pool is None or _pool._max_workers < count:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="tinygrad_lite")
        pool = _pool
    blas = _blas()
    before = blas.get_num_threads() if blas is not None else 1
    if before != 1:
        blas.set_num_threads(1)
    try:
        return list(pool.map(fn, parts))
    finally:
        if before != 1:
            blas.set_num_threads(before)
