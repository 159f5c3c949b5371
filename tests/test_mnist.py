"""MNIST: IDX parsing, checksums, clear errors for bad files, the cache, the bundled data."""

import gzip
import hashlib
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.data import DataFileError, mnist, pima

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file of `arr`, written by hand from the format's description."""
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(big_endian[code]).tobytes()


def _write(path: Path, data: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture(scope="module")
def train():
    return mnist.load("train")


@pytest.fixture(scope="module")
def test_split():
    return mnist.load("test")


# ---------------------------------------------------------------------------- IDX parsing ----
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_read_idx_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    img = _write(tmp_path / "img", _idx_bytes(images), compress)
    lbl = _write(tmp_path / "lbl", _idx_bytes(labels), compress)
    got_images = mnist.read_idx(img, magic=mnist.IMAGES_MAGIC)
    got_labels = mnist.read_idx(lbl, magic=mnist.LABELS_MAGIC)
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 4, 3)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert int.from_bytes(_idx_bytes(images)[:4], "big") == 2051
    assert int.from_bytes(_idx_bytes(labels)[:4], "big") == 2049


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_multibyte_types_in_native_order(tmp_path, code, dtype):
    arr = (np.arange(12).reshape(3, 4) - 5).astype(dtype) * 3
    got = mnist.read_idx(_write(tmp_path / "x.idx", _idx_bytes(arr, code), compress=False))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_bad_magic_names_file_and_numbers(tmp_path):
    labels = _write(tmp_path / "labels.gz", _idx_bytes(np.zeros(4, np.uint8)), compress=True)
    with pytest.raises(DataFileError, match=r"labels\.gz: bad magic number 2049 .*expected 2051"):
        mnist.read_idx(labels, magic=mnist.IMAGES_MAGIC)
    junk = _write(tmp_path / "junk.gz", b"hello, this is not IDX", compress=True)
    with pytest.raises(DataFileError, match=r"junk\.gz: bad magic number .*not an IDX file"):
        mnist.read_idx(junk)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_read_idx_wrong_length(tmp_path, compress):
    data = _idx_bytes(np.zeros((5, 4, 3), np.uint8))
    short = _write(tmp_path / "short", data[:-7], compress)
    with pytest.raises(DataFileError, match=r"short: wrong length \(truncated\).*\(5, 4, 3\).*"
                                            r"60 data bytes, but the file has 53"):
        mnist.read_idx(short)
    long = _write(tmp_path / "long", data + b"\0\0", compress)
    with pytest.raises(DataFileError, match=r"long: wrong length \(2 bytes too long\)"):
        mnist.read_idx(long)
    header = _write(tmp_path / "header", data[:10], compress)
    with pytest.raises(DataFileError, match=r"header: truncated header: 3 dimensions need 16"):
        mnist.read_idx(header)
    tiny = _write(tmp_path / "tiny", data[:3], compress)
    with pytest.raises(DataFileError, match="too short for an IDX header"):
        mnist.read_idx(tiny)


def test_read_idx_truncated_or_corrupt_gzip(tmp_path):
    packed = gzip.compress(_idx_bytes(np.arange(200, dtype=np.uint8)))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataFileError, match=r"cut\.gz: corrupt or truncated gzip data"):
        mnist.read_idx(cut)
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # inside the CRC32 trailer
    bad = tmp_path / "crc.gz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(DataFileError, match=r"crc\.gz: corrupt or truncated gzip data"):
        mnist.read_idx(bad)
    with pytest.raises(DataFileError, match="no such file"):
        mnist.read_idx(tmp_path / "missing.gz")


# ------------------------------------------------------------------------ checksums, paths ----
@pytest.fixture
def not_bundled(tmp_path, monkeypatch):
    """Pretend the package ships no MNIST files (a slim install)."""
    monkeypatch.setattr(mnist, "BUNDLED_DIR", tmp_path / "no-bundle")
    mnist.clear_cache()
    yield tmp_path / "root"
    mnist.clear_cache()


def test_mnist_checksum_mismatch_names_expected_and_actual(not_bundled):
    root = not_bundled
    root.mkdir()
    content = gzip.compress(_idx_bytes(np.zeros((2, 28, 28), np.uint8)))  # a valid IDX, wrong file
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(content)
    actual = hashlib.sha256(content).hexdigest()
    expected = mnist.SHA256["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(DataFileError, match=rf"t10k-images-idx3-ubyte\.gz: sha256 mismatch: "
                                            rf"expected {expected}, got {actual}"):
        mnist.load("test", root=root, download=False)


def test_mnist_truncated_bundled_style_file_fails_checksum(not_bundled):
    root = not_bundled
    root.mkdir()
    for name in mnist.FILES["test"]:
        shutil.copy(Path(mnist.__file__).parent / "files" / "mnist" / name, root / name)
    labels = root / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])
    with pytest.raises(DataFileError, match="t10k-labels-idx1-ubyte.gz: sha256 mismatch"):
        mnist.load("test", root=root, download=False)


def test_mnist_missing_without_download(not_bundled):
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte\.gz is neither bundled"):
        mnist.load("test", root=not_bundled, download=False)


def test_mnist_unknown_split():
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        mnist.load("val")


def test_checksums_in_code_match_provenance_note():
    note = (Path(mnist.__file__).parent / "files" / "PROVENANCE.md").read_text()
    table = dict(re.findall(r"^\| ([\w.-]+\.(?:gz|csv)) \|[^\n]*?\| ([0-9a-f]{64}) \|", note, re.M))
    assert table == {**mnist.SHA256, **pima.SHA256}


def test_bundled_files_have_the_known_checksums():
    folder = Path(mnist.__file__).parent / "files"
    for sub, sums in (("mnist", mnist.SHA256), ("pima", pima.SHA256)):
        for name, digest in sums.items():
            assert hashlib.sha256((folder / sub / name).read_bytes()).hexdigest() == digest


# ------------------------------------------------------------------------------ real data ----
def test_mnist_train_shapes_dtypes_and_counts(train):
    images, labels = train
    assert images.shape == (60000, 28, 28) and images.dtype == np.float32
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == TRAIN_COUNTS
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    assert round(float(images.mean(dtype=np.float64)), 4) == 0.1307
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_mnist_test_shapes_dtypes_and_counts(test_split):
    images, labels = test_split
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert np.bincount(labels, minlength=10).tolist() == TEST_COUNTS
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_mnist_raw_and_flat_views_agree(test_split):
    images, labels = test_split
    raw, raw_labels = mnist.load("test", normalize=False)
    assert raw.dtype == np.uint8 and raw.max() == 255
    np.testing.assert_array_equal(raw_labels, labels)
    np.testing.assert_allclose(images, raw / np.float32(255), rtol=0, atol=1e-7)
    flat, _ = mnist.load("test", flatten=True)
    assert flat.shape == (10000, 784)
    np.testing.assert_array_equal(flat, images.reshape(10000, 784))
    raw_flat, _ = mnist.load("test", normalize=False, flatten=True)
    assert raw_flat.shape == (10000, 784) and raw_flat.dtype == np.uint8


def test_mnist_second_load_uses_cache_and_returns_fresh_arrays(monkeypatch):
    mnist.clear_cache()
    first_x, first_y = mnist.load("test", normalize=False)

    def fail(*args, **kwargs):
        raise AssertionError("read_idx called although the split was cached")

    monkeypatch.setattr(mnist, "read_idx", fail)
    x, y = mnist.load("test", normalize=False)
    np.testing.assert_array_equal(x, first_x)
    x[0, 0, 0], y[0] = 77, 9  # the caller owns its arrays: the cache is untouched
    again_x, again_y = mnist.load("test", normalize=False)
    assert again_x[0, 0, 0] == first_x[0, 0, 0] != 77 and again_y[0] == 7
    mnist.clear_cache()
    with pytest.raises(AssertionError, match="read_idx called"):
        mnist.load("test")
