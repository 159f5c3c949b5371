"""Argument checks shared by Tensor methods, nn constructors and the data loaders.

Each raises the error a user should see where they passed the argument: TypeError for a wrong
type, ValueError for a wrong value, numpy's AxisError (both IndexError and ValueError) for an axis
out of range, with a message naming the argument, what it got and what it wants. An axis out of
range is an error, never a wrap-around. Imports nothing from the package.
"""

from __future__ import annotations

import numpy as np

AxisError = np.exceptions.AxisError


def is_int(value) -> bool:
    """True for Python and numpy integers (bool is not an int here)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value, name: str, minimum: int | None = None) -> int:
    """`value` as an int; TypeError unless it is an integer, ValueError if below `minimum`.

    >>> check_int(3, "chunks", minimum=1)
    3
    >>> check_int(0, "chunks", minimum=1)
    Traceback (most recent call last):
    ValueError: chunks must be positive (at least 1), got 0
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r:.60} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        want = {0: "non-negative", 1: "positive (at least 1)"}.get(minimum, f"at least {minimum}")
        raise ValueError(f"{name} must be {want}, got {value}")
    return int(value)


def int_pair(value, name: str = "size", minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints (kernel_size, stride, padding) as a pair, each checked.

    >>> int_pair(2, "stride", minimum=1), int_pair((1, 2), "padding", minimum=0)
    ((2, 2), (1, 2))
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r:.60}")
        return check_int(value[0], name, minimum), check_int(value[1], name, minimum)
    value = check_int(value, name, minimum)
    return value, value


def normalize_axis(axis, ndim: int, name: str = "axis") -> int:
    """`axis` in [-ndim, ndim) as a non-negative int; AxisError outside (never a wrap-around).

    >>> normalize_axis(-1, 3)
    2
    >>> normalize_axis(3, 2)
    Traceback (most recent call last):
    numpy.exceptions.AxisError: axis 3 is out of range for a tensor with 2 dimension(s) (valid: -2 to 1)
    """
    if not is_int(axis):
        raise TypeError(f"{name} must be an int, got {axis!r:.60} ({type(axis).__name__})")
    if not -ndim <= axis < ndim:
        valid = f"valid: {-ndim} to {ndim - 1}" if ndim else "it has no axes"
        raise AxisError(f"{name} {axis} is out of range for a tensor with {ndim} dimension(s) "
                        f"({valid})")
    return int(axis) % ndim


def check_real_dtype(dtype, what: str) -> None:
    """TypeError for dtypes the library does not compute with correctly (complex, object, str).

    >>> check_real_dtype(np.dtype(np.complex64), "astype")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: astype: dtype complex64 is not supported (...; complex numbers are not implemented)
    """
    if dtype.kind not in "biuf":
        extra = "; complex numbers are not implemented" if dtype.kind == "c" else ""
        raise TypeError(f"{what}: dtype {dtype} is not supported (tensors hold bool, integer or "
                        f"floating-point numbers{extra})")
