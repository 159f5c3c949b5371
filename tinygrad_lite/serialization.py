"""save / load: state dicts (and optimizer state) in a plain `.npz` file, never pickle.

Arrays go into the archive under their dotted path (`fc1.weight`, `model.0.bias`, `state.0.exp_avg`),
so `np.load(path)["fc1.weight"]` works from any tool. The structure around them (nested dicts with
str or int keys, lists, tuples, numbers, strings, None) is stored as JSON in one extra uint8 entry,
`__tinygrad_lite__`. What comes back is what went in: numpy arrays stay arrays (a state_dict holds
arrays), Tensors come back as Tensors (without grad), numbers as numbers, so
`model.load_state_dict(load(path))` works directly.

What `save` promises:

- **Atomic.** The file is written under a temporary name in the same folder, flushed and fsynced,
  then renamed over the target (`os.replace`): an interrupted save never leaves a broken file where a
  good one was. A save killed outright (SIGKILL, power loss) can leave its temporary file
  (`.<name>.<random>.<host>-<pid>.tmp`); the next save into that folder removes temporary files whose
  process is gone.
- **Whole or refused.** The structure entry holds a manifest (name, dtype, shape and CRC-32 of every
  array) and the zip comment holds the CRC-32 of the structure entry. `load` checks all of it, and the
  sizes every header claims against the file's size before allocating anything, so a damaged file
  raises a ValueError naming the file; a partial or altered state dict is never returned.
- **No pickle.** Only numeric and bool arrays are written; loading never unpickles anything.
- **The umask.** A new file gets the permissions `open()` would give it (0o666 minus the umask); an
  existing file keeps its mode.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import socket
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .tensor import Tensor

_META = "__tinygrad_lite__"
_FORMAT = 2  # 2: manifest + checksummed structure entry; 1 (no checks) is still read
_COMMENT = b"tinygrad_lite checkpoint; structure crc32="
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip
_MAX_DEPTH = 100  # nesting of dicts/lists in a checkpoint (state dicts use 3 or 4)
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand data by more than ~1032x


# ---------------------------------------------------------------------------------------- save ----
def _encode(obj, path, arrays, depth=0):
    """JSON-able description of obj; arrays are moved into `arrays` under their dotted path."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"save: {path} is nested more than {_MAX_DEPTH} levels deep (or contains "
                         "itself); a checkpoint holds state dicts, lists and numbers")
    if isinstance(obj, (Tensor, np.ndarray)):
        arr = obj.data if isinstance(obj, Tensor) else obj
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: {path or 'the array'} has dtype {arr.dtype}; only numeric and "
                            "bool arrays can be stored without pickle")
        key = _member_name(path or "array", arrays)
        arrays[key] = arr
        return {"tensor" if isinstance(obj, Tensor) else "array": key}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), path, arrays, depth)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, _join(path, i), arrays, depth + 1) for i, v in enumerate(obj)]
        return {"list" if isinstance(obj, list) else "tuple": items}
    if isinstance(obj, dict):
        if any(isinstance(k, np.integer) for k in obj):  # e.g. indices that came from numpy
            obj = {int(k) if isinstance(k, np.integer) else k: v for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} "
                                f"({type(k).__name__}) in {path or 'the top level'}")
        return {"dict": [[k, _encode(v, _join(path, k), arrays, depth + 1)] for k, v in obj.items()]}
    hint = " Save its .state_dict() instead." if callable(getattr(obj, "state_dict", None)) else ""
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or 'the top level'} "
                    "(arrays, tensors, numbers, strings, None, lists, tuples and dicts are "
                    f"supported).{hint}")


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _member_name(key, taken):
    """The archive name of an array: its dotted path when that survives a zip file's name rules
    unchanged and is free, else `array#<n>` (the manifest maps names back, so any key works)."""
    try:
        key.encode("utf-8")
        plain = "\0" not in key and "\\" not in key
    except UnicodeEncodeError:
        plain = False
    if not plain or key in taken or key == _META:
        key = f"array#{len(taken)}"
        while key in taken:
            key += "+"
    return key


def save(obj, path) -> None:
    """Write obj (e.g. `model.state_dict()`, or a dict of several state dicts and numbers) to
    `path` as an .npz file, atomically; `load` gives back exactly this or refuses. A path ending
    in `.safetensors` writes a flat state dict in that format instead (tinygrad_lite.safetensors_io).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"w": Tensor([1.0, 2.0]), "step": 3}, path)
    >>> load(path)["step"]
    3
    """
    path = Path(path)
    if path.suffix.lower() == ".safetensors":  # a flat state dict in the safetensors format
        from . import safetensors_io
        return safetensors_io.save(obj, path)
    arrays: dict = {}
    tree = _encode(obj, "", arrays)
    arrays = {k: v if v.flags.c_contiguous else v.copy(order="C") for k, v in arrays.items()}
    manifest = {k: {"dtype": v.dtype.str, "shape": list(v.shape), "crc32": zlib.crc32(v.data)}
                for k, v in arrays.items()}
    meta = json.dumps({"format": _FORMAT, "tree": tree, "arrays": manifest}).encode("utf-8")
    arrays[_META] = np.frombuffer(meta, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path.parent)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
                for key, arr in arrays.items():
                    with archive.open(key + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
                archive.comment = _COMMENT + b"%d" % zlib.crc32(meta)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():  # NOTE: like open() on an existing file, the replacement keeps its mode
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(path.parent)


def _temp_tag():
    host = zlib.crc32(socket.gethostname().encode("utf-8", "replace"))
    return f"{host:08x}-{os.getpid()}"


_TEMP = re.compile(r"^\..+\.[0-9a-f]{16}\.([0-9a-f]{8})-(\d+)\.tmp$")


def _create_temp(path):
    """A new file beside `path`, created with mode 0o666 so the umask applies as for open()."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.{_temp_tag()}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                           0o666), str(tmp)
        except FileExistsError:  # pragma: no cover (a 64-bit random name taken)
            continue


def _remove_stale_temps(folder):
    """Remove temporary files left by saves into `folder` whose process (on this host) is gone,
    e.g. killed with SIGKILL mid-write. Files of running saves and other hosts are left alone."""
    host = _temp_tag().split("-")[0]
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TEMP.match(name)
        if match is None or match.group(1) != host or _alive(int(match.group(2))):
            continue
        try:
            os.remove(os.path.join(folder, name))
        except OSError:
            pass  # another save removed it first, or the folder is read-only: harmless


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


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


# ---------------------------------------------------------------------------------------- load ----
class _Damaged(Exception):
    """Internal: the file is not what it claims (the message continues "load: <path> ..."); load
    turns it into a ValueError naming the file."""


def _bad_member(name, what):
    return _Damaged(f"is damaged: member {name!r} {what}")


def _bad_structure(what):
    return _Damaged(f"has a damaged structure entry ({_META}): {what}")


# what a damaged zip or .npy header can raise from inside zipfile/numpy
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                TypeError, KeyError, IndexError, SyntaxError, NotImplementedError, OverflowError,
                RecursionError, zlib.error, UnicodeError)


def load(path):
    """Read what `save` wrote: arrays as arrays, Tensors as Tensors, the structure as it was;
    a damaged file raises a ValueError naming it, never returns part of its contents. A plain
    `.npz` of arrays (e.g. a PyTorch state dict exported with
    `np.savez(path, **{k: v.numpy() for k, v in sd.items()})`) loads as a dict of arrays.
    A `.safetensors` path is read as a safetensors file (a dict of arrays), as `save` writes one."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from . import safetensors_io
        return safetensors_io.load(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: {path} does not exist (or is not a file)")
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in _ZIP_MAGIC:
        what = "empty" if not head else f"it starts with {head!r}"
        raise ValueError(f"load: {path} is not an .npz checkpoint ({what}; an .npz file is a zip "
                         "archive starting with b'PK')")
    try:
        contents, comment = _read_members(path)
        meta = contents.pop(_META, None)
        marked = comment.startswith(_COMMENT)
        if meta is None and not marked:
            return contents  # a plain archive of arrays
        if meta is None:
            raise _bad_structure("it is missing, but the zip comment says it is a checkpoint")
        return _decode_checkpoint(meta, comment, marked, contents)
    except _Damaged as err:
        raise ValueError(f"load: {path} {err}; nothing was loaded") from None
    except _READ_ERRORS as err:
        raise ValueError(f"load: {path} is not a readable .npz checkpoint (truncated or corrupted): "
                         f"{type(err).__name__}: {err}") from None


def _read_members(path):
    """Every member of the zip as an array, with each header's claims checked before reading."""
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise _Damaged("is damaged: two members have the same name")
        contents = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Damaged(f"is not an .npz checkpoint: member {info.filename!r} is not a "
                               "numpy array (it is some other zip archive, or a damaged one)")
            contents[info.filename[:-4]] = _read_array(archive, info, size)
        return contents, archive.comment


def _read_array(archive, info, size):
    name = info.filename
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _bad_member(name, f"uses compression method {info.compress_type}; .npz files use "
                          "none or deflate")
    if info.flag_bits & 0x1:
        raise _bad_member(name, "is marked as encrypted; .npz files are not")
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO)
    if info.compress_size > size or info.file_size > limit + 1024:
        raise _bad_member(name, f"claims {info.file_size} bytes, more than a {size}-byte file can "
                          "hold")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise _bad_member(name, f"has .npy version {version}; 1.0 and 2.0 are read")
        if dtype.hasobject:
            raise _Damaged(f"cannot be loaded: member {name!r} contains pickled objects, which are "
                           "never loaded (they could run code)")
        count = math.prod(shape)
        if count * dtype.itemsize > info.file_size:
            raise _bad_member(name, f"claims shape {shape} of {dtype} ({count * dtype.itemsize} "
                              f"bytes) but holds {info.file_size} bytes")
        flat = np.empty(count, dtype=dtype)
        view = memoryview(flat.view(np.uint8))
        done = 0
        while done < len(view):
            n = member.readinto(view[done:])
            if not n:
                raise _bad_member(name, "ends before its data does (truncated)")
            done += n
        if member.read(1):  # NOTE: also makes zipfile check the member's CRC-32
            raise _bad_member(name, "has bytes after its array")
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _decode_checkpoint(meta, comment, marked, contents):
    if meta.dtype != np.uint8 or meta.ndim != 1:
        raise _bad_structure(f"it has dtype {meta.dtype} and shape {meta.shape}")
    raw = meta.tobytes()
    try:
        info = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise _bad_structure(f"nested deeper than {_MAX_DEPTH} levels") from None
    except ValueError as err:
        raise _bad_structure(f"not valid JSON: {err}") from None
    if not isinstance(info, dict) or info.get("format") not in (1, _FORMAT):
        what = info.get("format") if isinstance(info, dict) else info
        raise _bad_structure(f"format {what!r:.40} is not supported (expected {_FORMAT})")
    if info["format"] == _FORMAT:
        if not marked or comment[len(_COMMENT):] != b"%d" % zlib.crc32(raw):
            raise _bad_structure("it does not match its checksum in the zip comment")
        _check_manifest(info.get("arrays"), contents)
    elif marked:
        raise _bad_structure("a format-1 entry in a format-2 file")
    try:
        return _decode(info.get("tree"), contents, 0)
    except RecursionError:
        raise _bad_structure(f"nested deeper than {_MAX_DEPTH} levels") from None


def _check_manifest(manifest, contents):
    if not isinstance(manifest, dict):
        raise _bad_structure("the manifest of arrays is missing")
    missing, extra = sorted(set(manifest) - set(contents)), sorted(set(contents) - set(manifest))
    if missing or extra:
        raise _Damaged(f"is damaged: arrays missing: {missing[:5]}, arrays not in the manifest: "
                       f"{extra[:5]}")
    for key, arr in contents.items():
        entry = manifest[key]
        if not isinstance(entry, dict) or (entry.get("dtype"), entry.get("shape")) != (
                arr.dtype.str, list(arr.shape)):
            raise _Damaged(f"is damaged: array {key!r} is {arr.dtype.str} {list(arr.shape)}, the "
                           f"manifest says {entry!r:.80}")
        if entry.get("crc32") != zlib.crc32(arr.data if arr.flags.c_contiguous else arr.tobytes()):
            raise _Damaged(f"is damaged: array {key!r} does not match its checksum")


def _decode(node, arrays, depth):
    if depth > _MAX_DEPTH:
        raise _bad_structure(f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(node, dict) or len(node) != 1:
        raise _bad_structure(f"unknown entry {node!r:.60}")
    ((kind, value),) = node.items()
    if kind in ("tensor", "array"):
        if not isinstance(value, str) or value not in arrays:
            raise _bad_structure(f"it refers to an array {value!r:.60} that is not in the file")
        return Tensor(arrays[value]) if kind == "tensor" else arrays[value]
    if kind == "value" and (value is None or isinstance(value, (bool, int, float, str))):
        return value
    if kind in ("list", "tuple") and isinstance(value, list):
        items = [_decode(v, arrays, depth + 1) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(value, list):
        out = {}
        for pair in value:
            if (not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool)
                    or not isinstance(pair[0], (str, int))):
                raise _bad_structure(f"bad dict item {pair!r:.60}")
            out[pair[0]] = _decode(pair[1], arrays, depth + 1)
        return out
    raise _bad_structure(f"unknown entry {node!r:.60}")
