"""save / load: state dicts (and optimizer state) in a plain `.npz` file, never pickle.

Arrays go into the archive as themselves; the structure around them (nested dicts with str or int
keys, lists, numbers, strings, None) is stored as JSON in one extra entry. The write is atomic: a
temporary file in the same folder, flushed to disk, then renamed over the target, so an interrupted
save never leaves a broken file where a good one was. Loading never executes anything from the file
(`allow_pickle=False`), and a truncated or foreign file raises an error that names it.
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


def _encode(obj, arrays):
    """JSON-able description of obj; arrays are moved into `arrays` and referenced by key."""
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = obj.data
        return {"tensor": key}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("save: object arrays cannot be stored without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__}")
        return {"dict": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    raise TypeError(f"save: cannot store a {type(obj).__name__} (arrays, tensors, numbers, "
                    "strings, None, lists, tuples and dicts are supported)")


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
    """Write obj (e.g. `model.state_dict()`, or a dict of several state dicts) to `path` (.npz).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"w": Tensor([1.0, 2.0]), "step": 3}, path)
    >>> load(path)["step"]
    3
    """
    path = Path(path)
    arrays: dict = {}
    meta = json.dumps({"format": _FORMAT, "tree": _encode(obj, arrays)})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read what `save` wrote. A plain `.npz` of arrays (e.g. a PyTorch state dict exported with
    `np.savez(path, **{k: v.numpy() for k, v in sd.items()})`) loads as a dict of arrays."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not an .npz archive")
            contents = {k: archive[k] for k in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"load: {path} is not a readable .npz checkpoint (truncated, corrupted "
                         f"or a different format): {err}") from None
    except ValueError as err:
        reason = str(err)
        if "allow_pickle" in reason:
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
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"load: {path} has a damaged structure entry: {err}") from None
