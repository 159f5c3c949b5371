"""MNIST: the 70,000 handwritten digits, read from the original IDX gzip files.

The four files ship inside the package (`files/mnist/`, terms in `files/PROVENANCE.md`). A slim
install without them downloads them once into a cache folder from `MIRRORS`. Every file's sha256 is
checked before it is parsed, and the decoded arrays are kept in memory, so a second `load` only
converts and copies.

>>> from tinygrad_lite.data import mnist
>>> images, labels = mnist.load("test")
>>> images.shape, images.dtype, labels[:5].tolist()
((10000, 28, 28), dtype('float32'), [7, 2, 1, 0, 4])
"""

from __future__ import annotations

import gzip
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .download import DataFileError, cache_dir, fetch, verify_sha256

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# URL prefixes serving the four original files, tried in order (torchvision's and TensorFlow's).
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
MIRRORS_ENV = "TINYGRAD_LITE_MNIST_MIRRORS"
BUNDLED_DIR = Path(__file__).resolve().parent / "files" / "mnist"
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

# The IDX format: two zero bytes, a type code, the number of dimensions, then one big-endian
# uint32 per dimension, then the data in C order.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_verified: set[tuple] = set()  # (path, size, mtime) of files whose sha256 was checked
_cache_lock = threading.Lock()


def load(
    split: str = "train",
    normalize: bool = True,
    flatten: bool = False,
    *,
    root: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """`(images, labels)` of the "train" (60,000) or "test" (10,000) split as new numpy arrays.

    images: float32 in [0, 1] shaped (N, 28, 28), or (N, 784) with `flatten=True`; uint8 0..255
    with `normalize=False`. labels: int64 digits 0..9. Files come from the package, else from
    `root` (default `cache_dir("mnist")`), else are downloaded there from `mirrors` (default: the
    TINYGRAD_LITE_MNIST_MIRRORS variable, comma-separated, else `MIRRORS`) unless `download=False`.

    >>> x, y = load("test", flatten=True)
    >>> x.shape, float(x.max()), y.dtype
    ((10000, 784), 1.0, dtype('int64'))
    """
    images_path, labels_path = paths(split, root=root, mirrors=mirrors, download=download,
                                     progress=progress)
    images, labels = _decoded(images_path, labels_path)
    if normalize:
        x = np.divide(images, np.float32(255), dtype=np.float32)
    else:
        x = images.copy()
    if flatten:
        x = x.reshape(len(x), -1)
    return x, labels.copy()


def paths(
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[Path, Path]:
    """The (images, labels) IDX files of `split`: bundled, else in `root`, else downloaded there."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser() if root is not None else cache_dir("mnist")
    return tuple(_locate(name, root, mirrors, download, progress) for name in FILES[split])


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Parse an IDX file (gzip-compressed or raw) into a read-only ndarray in native byte order.

    `magic` (2051 for MNIST images, 2049 for labels) is checked when given. The data must be
    exactly as long as the header's dimensions say; errors name the file and what is wrong.
    """
    raw = _read_maybe_gzip(Path(path))
    if len(raw) < 4:
        raise DataFileError(f"{path}: too short for an IDX header ({len(raw)} bytes, needs 4+)")
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise DataFileError(
            f"{path}: bad magic number {found} (0x{found:08x}), expected {magic} "
            f"({_describe_magic(magic)}); is it the right file?"
        )
    if raw[:2] != b"\0\0" or raw[2] not in _IDX_TYPES:
        raise DataFileError(f"{path}: bad magic number {found} (0x{found:08x}): not an IDX file")
    ndim = raw[3]
    data_start = 4 + 4 * ndim
    if len(raw) < data_start:
        raise DataFileError(
            f"{path}: truncated header: {ndim} dimensions need {data_start} header bytes, "
            f"the file has {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:data_start])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(dims, dtype=np.int64))
    expected, actual = count * dtype.itemsize, len(raw) - data_start
    if actual != expected:
        what = "truncated" if actual < expected else f"{actual - expected} bytes too long"
        raise DataFileError(
            f"{path}: wrong length ({what}): the header says shape {tuple(dims)} of {dtype.name}, "
            f"{expected} data bytes, but the file has {actual}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=data_start).reshape(dims)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
        arr.flags.writeable = False
    return arr


def clear_cache() -> None:
    """Forget the decoded arrays kept in memory (the next `load` reads the files again)."""
    with _cache_lock:
        _cache.clear()
        _verified.clear()


def _mirror_list(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return [mirrors] if isinstance(mirrors, str) else list(mirrors)
    env = os.environ.get(MIRRORS_ENV, "").strip()
    if env:
        return [m for m in env.replace(" ", ",").split(",") if m]
    return list(MIRRORS)


def _locate(name: str, root: Path, mirrors, download_missing: bool, progress: bool) -> Path:
    """A verified copy of `name`: bundled, else in `root`, else downloaded into `root`."""
    for folder in (BUNDLED_DIR, root):
        path = folder / name
        if path.is_file():
            _verify_once(path, SHA256[name])
            return path
    if not download_missing:
        raise DataFileError(
            f"MNIST file {name} is neither bundled ({BUNDLED_DIR}) nor in {root}; "
            "pass download=True or copy the file there"
        )
    hint = (f"Set {MIRRORS_ENV} (comma-separated URL prefixes) or pass mirrors=[...], "
            f"or copy {name} into {root} yourself.")
    return fetch(name, SHA256[name], _mirror_list(mirrors), root, progress=progress, hint=hint)


def _verify_once(path: Path, sha256: str) -> None:
    """Check a file's sha256, skipping files already checked and unchanged since."""
    key = _file_key(path)
    if key not in _verified:
        verify_sha256(path, sha256)
        _verified.add(key)


def _file_key(path: Path) -> tuple:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _decoded(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images and int64 labels of two files, decoded once per process (read-only)."""
    key = (_file_key(images_path), _file_key(labels_path))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC).astype(np.int64)
    labels.flags.writeable = False
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataFileError(
            f"{images_path} and {labels_path} do not match: images {images.shape}, labels "
            f"{labels.shape} (expected (N, 28, 28) and (N,))"
        )
    with _cache_lock:
        _cache[key] = (images, labels)
    return images, labels


def _read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with gzip's magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise DataFileError(f"{path}: corrupt or truncated gzip data ({e})") from None


def _describe_magic(magic: int) -> str:
    known = {IMAGES_MAGIC: "MNIST images: unsigned bytes, 3 dimensions",
             LABELS_MAGIC: "MNIST labels: unsigned bytes, 1 dimension"}
    return known.get(magic, f"IDX type code 0x{(magic >> 8) & 0xFF:02x}, {magic & 0xFF} dimensions")
