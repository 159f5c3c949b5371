"""save / load: state dicts (and optimizer state) in a plain `.npz` file, never pickle.

Arrays go into the archive under their dotted path (`fc1.weight`, `model.0.bias`, `state.0.exp_avg`),
so `np.load(path)["fc1.weight"]` works from any tool. The structure around them (nested dicts with
str or int keys, lists, tuples, numbers, strings, None) is stored as JSON in one extra uint8 entry,
`__tinygrad_lite__`. What comes back is what went in: numpy arrays stay arrays (a state_dict holds
arrays), Tensors come back as Tensors (without grad), numbers as numbers, so
`model.load_state_dict(load(path))` works directly.

The write is atomic: a temporary file in the same folder, flushed and fsynced, then renamed over the
target (os.replace), so an interrupted save never leaves a broken file where a good one was. Loading
never executes anything from the file (`allow_pickle=False`), and a truncated or foreign file raises
a ValueError naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .tensor import Tensor

_META = "__tinygrad_lite__"
_FORMAT = 1
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip


def _encode(obj, path, arrays):
    """JSON-able description of obj; arrays are moved into `arrays` under their dotted path."""
    if isinstance(obj, (Tensor, np.ndarray)):
        arr = obj.data if isinstance(obj, Tensor) else obj
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: {path or 'the array'} has dtype {arr.dtype}; only numeric and "
                            "bool arrays can be stored without pickle")
        key = path or "array"
        if key in arrays or key == _META:
            key = f"{key}#{len(arrays)}"
        arrays[key] = arr
        return {"tensor" if isinstance(obj, Tensor) else "array": key}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), path, arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, _join(path, i), arrays) for i, v in enumerate(obj)]
        return {"list" if isinstance(obj, list) else "tuple": items}
    if isinstance(obj, dict):
        if any(isinstance(k, np.integer) for k in obj):  # e.g. indices that came from numpy
            obj = {int(k) if isinstance(k, np.integer) else k: v for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} "
                                f"({type(k).__name__}) in {path or 'the top level'}")
        return {"dict": [[k, _encode(v, _join(path, k), arrays)] for k, v in obj.items()]}
    hint = " Save its .state_dict() instead." if callable(getattr(obj, "state_dict", None)) else ""
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or 'the top level'} "
                    "(arrays, tensors, numbers, strings, None, lists, tuples and dicts are "
                    f"supported).{hint}")


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _decode(node, archive):
    if "tensor" in node:
        return Tensor(archive[node["tensor"]])
    if "array" in node:
        return archive[node["array"]]
    if "value" in node:
        return node["value"]
    if "list" in node:
        return [_decode(v, archive) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, archive) for v in node["tuple"])
    if "dict" in node:
        return {k: _decode(v, archive) for k, v in node["dict"]}
    raise ValueError(f"unknown entry {sorted(node)}")


def save(obj, path) -> None:
    """Write obj (e.g. `model.state_dict()`, or a dict of several state dicts and numbers) to
    `path` as an .npz file, atomically.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"w": Tensor([1.0, 2.0]), "step": 3}, path)
    >>> load(path)["step"]
    3
    """
    path = Path(path)
    arrays: dict = {}
    meta = json.dumps({"format": _FORMAT, "tree": _encode(obj, "", arrays)})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # NOTE: mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder):
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """Read what `save` wrote: arrays as arrays, Tensors as Tensors, the structure as it was. A
    plain `.npz` of arrays (e.g. a PyTorch state dict exported with
    `np.savez(path, **{k: v.numpy() for k, v in sd.items()})`) loads as a dict of arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: {path} does not exist (or is not a file)")
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in _ZIP_MAGIC:
        what = "empty" if not head else f"it starts with {head!r}"
        raise ValueError(f"load: {path} is not an .npz checkpoint ({what}; an .npz file is a zip "
                         "archive starting with b'PK')")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {k: archive[k] for k in archive.files}
        odd = [k for k, v in contents.items() if not isinstance(v, np.ndarray)]
        if odd:  # NOTE: np.load hands back members not written by numpy as raw bytes
            raise ValueError(f"member(s) {', '.join(odd)} are not numpy arrays: it is a zip "
                             "archive but not an .npz checkpoint")
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as err:
        raise ValueError(f"load: {path} is not a readable .npz checkpoint (truncated or corrupted): "
                         f"{err}") from None
    except ValueError as err:
        reason = str(err)
        if "allow_pickle" in reason or "pickled" in reason:
            reason = "it contains pickled objects, which are never loaded (they could run code)"
        raise ValueError(f"load: {path} cannot be loaded: {reason}") from None
    meta = contents.pop(_META, None)
    if meta is None:
        return contents  # a plain archive of arrays
    try:
        info = json.loads(meta.tobytes().decode("utf-8"))
        if info.get("format") != _FORMAT:
            raise ValueError(f"format {info.get('format')} is not supported (expected {_FORMAT})")
        return _decode(info["tree"], contents)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"load: {path} has a damaged structure entry ({_META}): {err}") from None
