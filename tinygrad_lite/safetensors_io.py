"""`.safetensors` files for `tg.save` / `tg.load`, through the `safetensors` library's numpy API.

A safetensors file is a flat mapping of names to arrays (a JSON header, then the raw bytes): no code
runs on load, and PyTorch, JAX and Hugging Face read and write it. So it holds state dicts: a
`{name: array or Tensor}` dict, which `model.load_state_dict(tg.load(path))` takes back. Nested
checkpoints (a model and an optimizer, a step counter) stay in `.npz`; saving one here is refused.

Our files carry two metadata entries: `tinygrad_lite.entries` (the names in the order they were
saved, each marked "tensor" or "array", so Tensors come back as Tensors and a state dict in its
order) and `tinygrad_lite.sha256` (a digest of every name, dtype, shape and byte), so
a damaged file is refused even where its header still parses. The format itself has no checksum, so
a file written elsewhere is checked only for its structure.

The promises are those of `.npz`: the write is atomic (a temporary file in the same folder, flushed
and fsynced, then `os.replace`d; created with the umask's permissions, removed if anything fails),
and a load gives the whole file or raises a ValueError naming it, never part of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from .tensor import Tensor

_ENTRIES = "tinygrad_lite.entries"
_DIGEST = "tinygrad_lite.sha256"
# numpy dtypes the format has a name for (safetensors: BOOL, U8..U64, I8..I64, F16, F32, F64)
_DTYPES = {np.dtype(t) for t in (np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8,
                                 np.int16, np.int32, np.int64, np.float16, np.float32, np.float64)}


def _library():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError('.safetensors files need the safetensors package: pip install '
                          '"tinygrad-lite[safetensors]" (or pip install safetensors)') from None
    return safetensors.numpy


def _digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode("utf-8"))
        h.update(np.array(a, order="C", copy=None).tobytes())
    return h.hexdigest()


def save(obj, path) -> None:
    """Write a flat `{name: array or Tensor}` dict (a state dict) to `path` as .safetensors,
    atomically."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: a .safetensors file holds a flat dict of arrays (a state_dict), got a "
                        f"{type(obj).__name__}; use an .npz path for other objects")
    arrays, entries = {}, []
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: .safetensors names must be strings, got {name!r}")
        entries.append([name, "tensor" if isinstance(value, Tensor) else "array"])
        if not isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(f"save: {name!r} is a {type(value).__name__}; a .safetensors file holds "
                            "only arrays and Tensors (a flat state_dict). Use an .npz path for "
                            "nested checkpoints, numbers or strings")
        a = value.data if isinstance(value, Tensor) else value
        if a.dtype not in _DTYPES:
            raise TypeError(f"save: {name!r} has dtype {a.dtype}, which .safetensors cannot store "
                            "(bool, integers and float16/32/64 only); use an .npz path")
        arrays[name] = np.array(a, order="C", copy=None)
    metadata = {_ENTRIES: json.dumps(entries), _DIGEST: _digest(arrays)}
    atomic_write(Path(path), _library().save(arrays, metadata=metadata))


def load(path) -> dict:
    """Read a .safetensors file whole: `{name: array}` (Tensors where ours saved Tensors)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: {path} does not exist (or is not a file)")
    data = path.read_bytes()  # NOTE: one read, so the header and the arrays come from one file
    library = _library()
    try:
        arrays = library.load(data)
        metadata = _metadata(data)
    except Exception as err:  # safetensors raises its own SafetensorError, json/struct theirs
        raise ValueError(f"load: {path} is not a readable .safetensors file (truncated, corrupted "
                         f"or another format): {err}") from None
    if _DIGEST in metadata and metadata[_DIGEST] != _digest(arrays):
        raise ValueError(f"load: {path} is damaged: its arrays do not match the checksum written "
                         "with them")
    if _ENTRIES not in metadata:  # written elsewhere (PyTorch, ...): arrays in the file's order
        return dict(arrays)
    try:
        entries = json.loads(metadata[_ENTRIES])
        if sorted(name for name, _ in entries) != sorted(arrays):
            raise ValueError("it does not list the file's arrays")
    except (ValueError, TypeError) as err:
        raise ValueError(f"load: {path} has a damaged {_ENTRIES} entry: {err}") from None
    return {name: Tensor(arrays[name]) if kind == "tensor" else arrays[name] for name, kind in entries}


def _metadata(data: bytes) -> dict:
    """The header's `__metadata__` (str -> str): 8 bytes of length, then the JSON header."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("__metadata__ must map strings to strings")
    return metadata


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part: the
    .npz writer's temporary files (umask applied, cleaned up after a killed save) and rename."""
    # NOTE: serialization.py owns the temporary-file rules; its save writes a zip in place of data
    from .serialization import _create_temp, _fsync_dir, _remove_stale_temps

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path.parent)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():  # like open() on an existing file, the replacement keeps its mode
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(path.parent)
