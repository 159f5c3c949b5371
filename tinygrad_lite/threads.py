"""How many threads the library's matrix products use, and the policy it follows.

The policy: a matrix product of fewer than `SMALL_PRODUCT` (2**27, about 512 x 512 x 512)
multiply-adds runs on one BLAS thread; a larger one gets the BLAS's own count (one thread per
core, or what OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say). `set_num_threads(n)` or the block
`with num_threads(n):` overrides it: every product of the library then uses n threads, ours: the
BLAS is held on one thread, and a product of at least `SPLIT_PRODUCT` multiply-adds is cut into n
blocks of rows or columns, each block one single-thread BLAS call on one of n threads (`split_map`).

Why ours under set_num_threads(n): OpenBLAS's threads keep spinning for a while after each product
they shared, and on a 2-core machine they then take the core that the library's own workers (a
convolution's chunks, `split_map`) or the next element-wise op need. W6 (the PyTorch MNIST CNN)
with `set_num_threads(2)` was *slower* than with one thread that way (102 ms a step against 95,
and twice the CPU time). Our workers block when idle instead of spinning, so exactly n threads
ever run.

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
import math
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache

import numpy as np

SMALL_PRODUCT = 2**27  # multiply-adds: below this a product runs on one BLAS thread
SPLIT_PRODUCT = 2**25  # multiply-adds: from this a product under set_num_threads(n > 1) is split
_SPLIT_BLOCK = 16  # rows or columns a block has at least (a multiple of the gemm kernels' widths)

_fixed: int | None = None  # set_num_threads(n): every product uses n threads, the policy is off
_own: int | None = None  # the BLAS's own count while set_num_threads holds it on one thread


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
    """The number of threads the library's matrix products use now: the count `set_num_threads`
    pinned, else numpy's BLAS's; None if the BLAS cannot be controlled here."""
    blas = _blas()
    if blas is None:
        return None
    return _fixed if _fixed is not None else int(blas.get_num_threads())


def set_num_threads(n: int | None) -> bool:
    """Let every matrix product of the library use n threads (n >= 1), like
    `torch.set_num_threads`; None goes back to the library's policy (one thread for small
    products). Returns False where numpy's BLAS cannot be controlled (threadpoolctl missing, or an
    unknown BLAS).

    NOTE: the BLAS itself stays on one thread meanwhile (a plain numpy `@` of your own runs on one
    thread too); the library splits its large products over n threads of its own (see the module's
    docstring for why). None gives the BLAS its own count back.
    """
    global _fixed, _own
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"set_num_threads needs a whole number n >= 1 (or None), got {n!r}")
    blas = _blas()
    if blas is None:
        return False
    _give_back(blas)
    _fixed = None if n is None else int(n)
    if _fixed is not None:
        _own = int(blas.get_num_threads())
        if _own != 1:
            blas.set_num_threads(1)
    return True


def _give_back(blas):
    """The BLAS back on its own count: undo the policy's switch and set_num_threads' hold."""
    global _restore, _own
    count = _restore if _restore is not None else _own
    _restore = _own = None
    if count is not None:
        blas.set_num_threads(count)


@contextlib.contextmanager
def num_threads(n: int):
    """Run the block with every matrix product on n BLAS threads (the policy off), then restore
    the count and the policy; n <= 0 leaves both alone.

    >>> with num_threads(1):
    ...     pass
    """
    global _fixed, _own
    blas = _blas() if n > 0 else None
    if blas is None:
        yield
        return
    fixed_before = _fixed
    _give_back(blas)  # (the policy's switch is not restored: the next small product makes it)
    before = blas.get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _give_back(blas)
        blas.set_num_threads(before)
        _fixed = fixed_before
        if _fixed is not None:  # the block was inside another pinned count: hold the BLAS again
            _own = int(before)
            if before != 1:
                blas.set_num_threads(1)


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
    if _fixed is not None:  # (the BLAS is on one thread: set_num_threads holds it there)
        return a @ b if _fixed == 1 else _split_matmul(a, b, _fixed)
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


def _split_matmul(a, b, count):
    """a @ b (matrices or batches of them) on `count` threads: the columns of b, or the rows of a
    where there are more of those, cut into blocks of at least _SPLIT_BLOCK, each block's product
    a one-thread BLAS call writing its part of the result; a plain `a @ b` where the product is
    below SPLIT_PRODUCT multiply-adds, not one float dtype, or a vector.

    NOTE: from 2**25 multiply-adds: waking a worker and waiting for it costs about 130 us here (a
    2-core VM); on an idle machine two threads took 1.52x one thread's time at 2**23, 1.07x at
    2**24 (256 x 256 x 256), 0.64x to 0.69x at 2**26 and above. Blocks of b's columns first:
    W6's three Linear products (64 x 9216 x 128 and its two gradients) took 1.06, 0.81 and 0.82 ms
    on two threads that way against 1.37, 0.96 and 0.85 ms by rows of a (1.67, 1.30 and 1.32 ms on
    one thread; OpenBLAS's own two threads, when not disturbed, 1.04, 0.66 and 0.70 ms). A block's
    sums mostly run in the whole product's order (W6's results are bitwise one thread's), but a
    narrower last block may take another kernel: equal to float rounding in general, as OpenBLAS's
    own threads are.

    >>> _split_matmul(np.ones((64, 8192)), np.ones((8192, 64)), 2)[63, 63]
    np.float64(8192.0)
    """
    if a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype or a.dtype.char not in "fdFD":
        return a @ b
    (m, k), n = a.shape[-2:], b.shape[-1]
    if k != b.shape[-2]:
        return a @ b  # (numpy says why)
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return a @ b
    if math.prod(batch) * m * k * n < SPLIT_PRODUCT:
        return a @ b
    by_rows = m > n
    size = m if by_rows else n
    count = min(count, size // _SPLIT_BLOCK)
    if count <= 1:
        return a @ b
    out = np.empty((*batch, m, n), dtype=a.dtype)
    # block edges on multiples of _SPLIT_BLOCK: whole kernel widths, whole cache lines of out
    edges = [min(size, -(-size * i // count // _SPLIT_BLOCK) * _SPLIT_BLOCK) for i in range(count)]
    blocks = [slice(lo, hi) for lo, hi in zip(edges, [*edges[1:], size]) if hi > lo]

    def run(block):
        if by_rows:
            np.matmul(a[..., block, :], b, out=out[..., block, :])
        else:
            np.matmul(a, b[..., block], out=out[..., block])

    split_map(run, blocks, len(blocks))
    return out


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


ROWS_SPLIT = 1 << 20  # items: from this, element-wise work under set_num_threads(n > 1) is split


def split_rows(fn, rows: int, items: int) -> None:
    """fn(block) for slices of range(rows) that together cover it, in order: one block per thread
    that `set_num_threads(n)` pinned, run by `split_map`, when the work touches at least
    ROWS_SPLIT items; else fn(slice(0, rows)) once, here. For the element-wise work of a large op,
    written into its output row block by row block (the leading axis): each block's numbers are
    then the whole array's, bit for bit, whatever the count.

    NOTE: numpy lets go of the GIL inside the loops of a large ufunc, so two threads run two row
    blocks at once; W6's element-wise work (max-pool, ReLU, dropout: ~25 ms of a 65 ms step at
    two threads) ran on one thread while the convolutions' products were split. Split in two, on
    an idle machine: its two ReLUs 1.03 -> 0.80 ms forward, 2.49 -> 1.53 ms backward; max-pool
    1.03 -> 0.64 ms forward, 4.79 -> 2.21 ms backward. From 2**20 items: waking a worker costs
    about 130 us here, and a 2**20-item ReLU about 0.3 ms on one thread.

    >>> split_rows(print, 3, 10)
    slice(0, 3, None)
    """
    count = min(_fixed or 1, rows) if items >= ROWS_SPLIT else 1
    if count <= 1:
        fn(slice(0, rows))
        return
    edges = [rows * i // count for i in range(count + 1)]
    split_map(fn, [slice(lo, hi) for lo, hi in zip(edges, edges[1:])], count)


SCRATCH_LIMIT = 1 << 24  # bytes: a larger scratch array is made per call, not kept
_scratch = threading.local()  # this thread's scratch arrays, by key


def scratch(key: str, size: int, dtype) -> np.ndarray:
    """A 1-D array of `size` items of `dtype` (contents undefined) of this thread's own, kept
    under `key` from call to call up to SCRATCH_LIMIT bytes: the large temporaries of an op's
    inner loop (conv2d's im2col columns) made once per thread rather than once per call.

    NOTE: a fresh array of a megabyte is fresh pages from the system on most calls (glibc gives
    them back between calls, and a worker thread's arena more so): W6's convolution workers
    took about 500 page faults a step that way at two threads (1 ms).

    >>> scratch("doc", 3, np.float32).shape
    (3,)
    """
    dtype = np.dtype(dtype)
    buf = _scratch.__dict__.get(key)
    if buf is not None and buf.dtype == dtype and buf.size >= size:
        return buf[:size]
    buf = np.empty(size, dtype)
    if buf.nbytes <= SCRATCH_LIMIT:
        setattr(_scratch, key, buf)
    return buf


_pool = None  # the workers of split_map (the calling thread is one more), made on first use
_pool_lock = threading.Lock()
_in_worker = threading.local()  # .active: this thread is running a part for split_map


def split_map(fn, parts: list, count: int) -> list:
    """[fn(part) for part in parts], on `count` threads when count > 1 (numpy and the BLAS let go
    of the GIL), the BLAS on one thread meanwhile so each worker's products stay on its own core.
    The parts are dealt out in order, `count` runs of about equal length; the calling thread
    runs the first run itself. A split_map inside a part runs its parts one after another.

    NOTE: W6's convolutions as chunks of images: two workers each running one-thread products beat
    one chunk after another with a two-thread BLAS (its threads wait for each other on every small
    product: 1.6x slower than one thread on a loaded 2-core machine), and they also share the
    im2col copies and the col2im adds, which a BLAS thread count does not touch.

    >>> split_map(len, [[1], [2, 3]], 2)
    [1, 2]
    """
    global _pool
    count = min(count, len(parts))
    if count <= 1 or getattr(_in_worker, "active", False):
        return [fn(part) for part in parts]
    with _pool_lock:
        if _pool is None or _pool._max_workers < count - 1:
            # (the old pool is not shut down: another thread may be submitting to it; its
            # workers leave once it is garbage)
            _pool = ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="tinygrad_lite")
        pool = _pool
    bounds = [len(parts) * i // count for i in range(count + 1)]
    runs = [parts[lo:hi] for lo, hi in zip(bounds, bounds[1:])]

    def work(run):
        _in_worker.active = True
        try:
            return [fn(part) for part in run]
        finally:
            _in_worker.active = False

    blas = _blas()
    before = blas.get_num_threads() if blas is not None else 1
    if before != 1:
        blas.set_num_threads(1)
    try:
        futures = [pool.submit(work, run) for run in runs[1:]]
        try:
            first = work(runs[0])
        finally:  # (the other runs may write into the caller's arrays: wait for them, always)
            wait(futures)
        return first + [out for future in futures for out in future.result()]
    finally:
        if before != 1:
            blas.set_num_threads(before)
