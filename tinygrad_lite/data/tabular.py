"""CSV files of numbers as (features, labels) arrays, read with the standard csv module."""

from __future__ import annotations

import csv
import os

import numpy as np

from ..argcheck import check_int
from .download import DataFileError


def load_csv(
    path: str | os.PathLike,
    *,
    header: bool = True,
    index_col: bool | int | None = True,
    label_col: int | None = -1,
    dtype=np.float64,
    label_dtype=None,
    delimiter: str = ",",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a CSV of numbers as `(X, y)`: features (rows, columns) and labels (rows,).

    `header`: the first line holds column names (it is line 1 in error messages). `index_col`:
    True drops the first column (a row index, as R writes it), an int drops that column, False or
    None keeps all. `label_col`: the column (counted in the file, negative from the end) that
    becomes `y`; None gives `y = None`. `y` has `label_dtype`, by default `dtype`. Every row must
    have as many fields as the first (or the header), each a number; a bad row raises
    DataFileError naming the file, the line and the offending value.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.csv")
    >>> _ = open(path, "w").write("id,a,b,label\\n1,0.5,2,1\\n2,1.5,3,0\\n")
    >>> X, y = load_csv(path)
    >>> X.tolist(), y.tolist()
    ([[0.5, 2.0], [1.5, 3.0]], [1.0, 0.0])
    """
    dtype = _as_dtype(dtype, "dtype")
    label_dtype = dtype if label_dtype is None else _as_dtype(label_dtype, "label_dtype")
    for col, what in ((index_col, "index_col"), (label_col, "label_col")):
        if col not in (None, True, False):
            check_int(col, what)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        names, rows, lines = None, [], []
        for row in _rows(reader, path):
            if not row or all(not field.strip() for field in row):
                continue  # NOTE: blank lines (often one at the end) carry no data
            if header and names is None:
                names = [name.strip() for name in row]
                continue
            width = len(names) if names is not None else len(rows[0]) if rows else len(row)
            if len(row) != width:
                like = "the header" if names is not None else f"line {lines[0]}"
                raise DataFileError(
                    f"{path}, line {reader.line_num}: expected {width} fields (like {like}), "
                    f"found {len(row)}: {delimiter.join(row)!r:.120}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise DataFileError(f"{path}: no data rows (only a header or an empty file)")
    width = len(rows[0])
    names = names or [f"column {j + 1}" for j in range(width)]
    drop = _column(index_col if index_col is not True else 0, width, "index_col", path)
    label = _column(label_col, width, "label_col", path)
    if drop is not None and drop == label:
        raise ValueError(f"index_col and label_col both name column {drop} ({names[drop]!r}) "
                         f"of {path}")
    table = _parse(rows, lines, names, path)
    features = [j for j in range(width) if j not in (drop, label)]
    X = np.ascontiguousarray(_cast(table, features, dtype, lines, names, path))
    y = None if label is None else _cast(table, [label], label_dtype, lines, names, path)[:, 0]
    return X, y


def _rows(reader, path):
    """The reader's rows; undecodable bytes and csv errors name the file and the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise DataFileError(_undecodable(path)) from None
        except csv.Error as err:  # e.g. a field over csv's size limit, a NUL byte
            raise DataFileError(f"{path}, line {reader.line_num}: {err}") from None
        yield row


def _undecodable(path):
    """Where a file stops being UTF-8 (the text reader decodes ahead, so it cannot say)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return (f"{path}, line {number}: not UTF-8 text (byte {raw[err.start]:#04x} at "
                        f"column {err.start + 1}); save the file as UTF-8")
    return f"{path}: not UTF-8 text; save the file as UTF-8"  # pragma: no cover


def _as_dtype(dtype, what):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"load_csv: {what} must be a numpy dtype, got {dtype!r}") from None
    if dtype.kind not in "biuf":
        raise TypeError(f"load_csv: {what} must be a bool, integer or floating-point dtype, got "
                        f"{dtype}")
    return dtype


def _cast(table, columns, dtype, lines, names, path):
    """table[:, columns] as dtype, refusing values the dtype would silently change: non-integral
    or out-of-range values for an integer dtype, other than 0/1 for bool, overflow to inf."""
    values = table[:, columns]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        with np.errstate(invalid="ignore"):
            upper = 2.0 ** (info.bits - (info.min < 0))  # max + 1, exact in float64
            bad = ~((values == np.round(values)) & (values >= info.min) & (values < upper))
        want = f"an integer in [{info.min}, {info.max}] for dtype {dtype}"
    elif dtype.kind == "b":
        bad, want = (values != 0) & (values != 1), "0 or 1 for dtype bool"
    else:
        with np.errstate(over="ignore"):
            bad = np.isinf(values.astype(dtype)) & np.isfinite(values)
        want = f"a value within the range of {dtype}"
    if bad.any():
        i, j = np.argwhere(bad)[0]
        col = columns[j]
        raise DataFileError(f"{path}, line {lines[i]}, field {col + 1} ({names[col]!r}): "
                            f"{float(values[i, j])!r} is not {want}")
    return values.astype(dtype)


def _column(col: int | bool | None, width: int, what: str, path) -> int | None:
    """A column given as an int (negative counts from the end), False or None, as 0..width-1."""
    if col is None or col is False:
        return None
    if not -width <= col < width:
        raise ValueError(f"{what}={col} is out of range for {path}, which has {width} columns")
    return col % width


def _parse(rows: list, lines: list, names: list, path) -> np.ndarray:
    """The rows as a float64 table; a field that is not a number raises with its line and column."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        pass
    for row, line in zip(rows, lines):
        for j, field in enumerate(row):
            try:
                float(field)
            except ValueError:
                raise DataFileError(
                    f"{path}, line {line}, field {j + 1} ({names[j]!r}): {field!r} is not a number"
                ) from None
    raise DataFileError(f"{path}: could not read the values as numbers")  # pragma: no cover
