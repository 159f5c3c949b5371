"""How many threads numpy's BLAS (matrix products) may use, like `torch.set_num_threads`.

Small matrix products, thousands of times per epoch, gain nothing from extra BLAS threads, and on a
machine shared with other work a multi-threaded OpenBLAS can run many times slower (measured on 2
busy cores: a (128, 64) @ (64, 256) product took 427 us with 2 threads and 99 us with 1). Setting
OPENBLAS_NUM_THREADS=1 before numpy is imported does the same for a whole process; these functions
change it at run time. They talk to the OpenBLAS that numpy's wheels bundle; elsewhere (another
BLAS, e.g. MKL or Accelerate) they do nothing and get_num_threads() returns None.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _openblas():
    """(set_num_threads, get_num_threads) of the OpenBLAS numpy loaded, or None."""
    folder = Path(np.__file__).resolve().parent
    candidates = glob.glob(str(folder.parent / "numpy.libs" / "*openblas*")) + glob.glob(
        str(folder / ".dylibs" / "*openblas*"))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # the copy numpy already loaded: the same handle
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                return setter, getter
    return None


def get_num_threads() -> int | None:
    """The number of threads numpy's OpenBLAS uses, or None if it cannot be found."""
    lib = _openblas()
    return None if lib is None else int(lib[1]())


def set_num_threads(n: int) -> bool:
    """Let numpy's OpenBLAS use n threads (n >= 1). Returns False where that is not possible."""
    if n < 1:
        raise ValueError(f"set_num_threads needs n >= 1, got {n}")
    lib = _openblas()
    if lib is None:
        return False
    lib[0](int(n))
    return True


@contextlib.contextmanager
def num_threads(n: int):
    """Run the block with numpy's BLAS limited to n threads, then restore the previous count;
    n <= 0 leaves the BLAS default alone.

    >>> with num_threads(1):
    ...     pass
    """
    before = get_num_threads() if n > 0 else None
    if before is None:
        yield
        return
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)
