"""Matrix-multiplication algorithms built from Tensor operations (differentiable for free).

`strassen_matmul` is Strassen's algorithm: 7 half-size products per level instead of 8, so
O(n^2.807) multiplications instead of O(n^3). It is written only with slicing, +, -, concatenate and
`@` at the leaves, so backward (and gradients of gradients) come from the engine with no gradient
code here. It is a teaching piece: with numpy's BLAS at the leaves, plain `@` is faster at every
size we measured (see benchmarks/bench_strassen.py and the docs).
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["strassen_matmul"]


def strassen_matmul(a, b, leaf_size: int = 64, stats: dict | None = None) -> Tensor:
    """The matrix product a @ b of an (n, k) and a (k, m) matrix by Strassen's recursion.

    Below `leaf_size` (when any of n, k, m is <= leaf_size) it uses `@`. Odd sizes are padded with
    one zero row/column at the level where they occur (the minimal padding) and the result is sliced
    back. If `stats` is a dict, `stats["leaf_matmuls"]` is increased by the number of `@` calls made
    and `stats["depth"]` is set to the deepest recursion level reached.

    >>> a = Tensor(np.arange(16.0).reshape(4, 4))
    >>> stats = {}
    >>> c = strassen_matmul(a, a, leaf_size=2, stats=stats)
    >>> bool(np.allclose(c.numpy(), a.numpy() @ a.numpy())), stats["leaf_matmuls"]
    (True, 7)
    """
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(
            f"strassen_matmul multiplies 2-D matrices, got shapes {a.shape} and {b.shape}; "
            "use @ (matmul) for vectors and batches"
        )
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"strassen_matmul: shapes {a.shape} and {b.shape} do not align: the first matrix has "
            f"{a.shape[1]} columns but the second has {b.shape[0]} rows"
        )
    if not isinstance(leaf_size, (int, np.integer)) or leaf_size < 1:
        raise ValueError(f"leaf_size must be a positive integer, got {leaf_size!r}")
    if stats is not None:
        stats.setdefault("leaf_matmuls", 0)
        stats.setdefault("depth", 0)
    return _strassen(a, b, int(leaf_size), stats, 0)


def _strassen(a: Tensor, b: Tensor, leaf_size: int, stats: dict | None, depth: int) -> Tensor:
    # NOTE: recursion is fine here: the depth is log2(n / leaf_size), about 5 for n = 2048.
    n, k = a.shape
    m = b.shape[1]
    if min(n, k, m) <= leaf_size:
        if stats is not None:
            stats["leaf_matmuls"] += 1
            stats["depth"] = max(stats["depth"], depth)
        return a @ b
    pn, pk, pm = n % 2, k % 2, m % 2  # pad odd sizes by one zero row/column (the minimum)
    if pn or pk:
        a = a.pad(((0, pn), (0, pk)))
    if pk or pm:
        b = b.pad(((0, pk), (0, pm)))
    h, j, l = (n + pn) // 2, (k + pk) // 2, (m + pm) // 2
    a11, a12, a21, a22 = a[:h, :j], a[:h, j:], a[h:, :j], a[h:, j:]
    b11, b12, b21, b22 = b[:j, :l], b[:j, l:], b[j:, :l], b[j:, l:]

    def mul(x, y):
        return _strassen(x, y, leaf_size, stats, depth + 1)

    m1 = mul(a11 + a22, b11 + b22)
    m2 = mul(a21 + a22, b11)
    m3 = mul(a11, b12 - b22)
    m4 = mul(a22, b21 - b11)
    m5 = mul(a11 + a12, b22)
    m6 = mul(a21 - a11, b11 + b12)
    m7 = mul(a12 - a22, b21 + b22)
    c11 = m1 + m4 - m5 + m7
    c12 = m3 + m5
    c21 = m2 + m4
    c22 = m1 - m2 + m3 + m6
    c = Tensor.concatenate(
        [Tensor.concatenate([c11, c12], axis=1), Tensor.concatenate([c21, c22], axis=1)], axis=0
    )
    if pn or pm:
        c = c[:n, :m]
    return c
