"""tg.save / tg.load with .safetensors paths: round trips, PyTorch in both directions, atomic
writes, damaged files refused whole, no pickle."""

import os
import stat

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn

st = pytest.importorskip("safetensors.numpy")


def _model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))


def test_safetensors_state_dict_round_trip(tmp_path):
    model = _model()
    model(Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)))  # stats
    path = tmp_path / "model.safetensors"
    tg.save(model.state_dict(), path)
    loaded = tg.load(path)
    assert list(loaded) == list(model.state_dict())
    for name, value in model.state_dict().items():
        assert isinstance(loaded[name], np.ndarray) and loaded[name].dtype == value.dtype
        assert loaded[name].shape == value.shape
        np.testing.assert_array_equal(loaded[name], value)
    other = _model()
    other.load_state_dict(loaded)
    x = Tensor(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(other.eval()(x).numpy(), model.eval()(x).numpy())


def test_safetensors_is_chosen_by_extension_and_readable_by_the_library(tmp_path):
    path = tmp_path / "w.SAFETENSORS"
    tg.save({"w": np.arange(6, dtype=np.int16).reshape(2, 3), "t": Tensor([1.5, 2.5])}, path)
    with open(path, "rb") as f:
        assert f.read(2) != b"PK"  # not a zip (.npz)
    raw = st.load_file(str(path))
    np.testing.assert_array_equal(raw["w"], np.arange(6, dtype=np.int16).reshape(2, 3))
    loaded = tg.load(path)
    assert isinstance(loaded["t"], Tensor) and loaded["t"].tolist() == [1.5, 2.5]
    assert isinstance(loaded["w"], np.ndarray) and loaded["w"].dtype == np.int16


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float16,
                                   np.float32, np.float64])
def test_safetensors_keeps_dtypes_shapes_and_empty_arrays(dtype, tmp_path):
    arrays = {"a": (np.arange(12) % 3).astype(dtype).reshape(3, 4), "scalar": np.ones((), dtype),
              "empty": np.zeros((0, 2), dtype), "strided": np.arange(10).astype(dtype)[::2]}
    tg.save(arrays, tmp_path / "a.safetensors")
    loaded = tg.load(tmp_path / "a.safetensors")
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(loaded[k], v)


def test_safetensors_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="npz"):
        tg.save({"model": {"w": np.ones(2)}}, path)  # nested: use .npz
    with pytest.raises(TypeError, match="npz"):
        tg.save({"w": np.ones(2), "step": 3}, path)
    with pytest.raises(TypeError, match="complex"):
        tg.save({"w": np.ones(2, np.complex64)}, path)
    with pytest.raises(TypeError, match="flat dict"):
        tg.save([np.ones(2)], path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_safetensors_from_pytorch_loads_into_our_model_and_ours_into_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(),
                                 torch.nn.Linear(3, 2))
    theirs(torch.randn(6, 4))  # running statistics
    theirs.eval()
    safetensors.torch.save_file(theirs.state_dict(), str(tmp_path / "torch.safetensors"))
    ours = _model().eval()
    ours.load_state_dict(tg.load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), expected, rtol=1e-6, atol=1e-6)

    ours2 = _model()
    ours2(Tensor(x))  # other running statistics
    ours2.eval()
    tg.save(ours2.state_dict(), tmp_path / "ours.safetensors")
    back = safetensors.torch.load_file(str(tmp_path / "ours.safetensors"))
    theirs.load_state_dict(back)  # strict: every name and shape must match PyTorch's
    with torch.no_grad():
        got = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ours2(Tensor(x)).numpy(), rtol=1e-6, atol=1e-6)


def test_safetensors_damaged_files_are_refused_whole(tmp_path):
    path = tmp_path / "m.safetensors"
    tg.save(_model().state_dict(), path)
    data = path.read_bytes()
    cases = {
        "truncated": data[:-7],
        "header cut": data[:20],
        "empty": b"",
        "a flipped byte in the arrays": data[:-5] + bytes([data[-5] ^ 0x40]) + data[-4:],
        "another format": b"PK\x03\x04" + data[4:],
        "a broken header": data[:8] + b"[" + data[9:],
    }
    for what, damaged in cases.items():
        path.write_bytes(damaged)
        with pytest.raises(ValueError, match="load: .*m.safetensors"):
            tg.load(path)  # a message naming the file, for every kind of damage
        assert what
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.safetensors")


def test_safetensors_foreign_file_without_checksum_loads(tmp_path):
    st.save_file({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "f.safetensors"))
    assert tg.load(tmp_path / "f.safetensors")["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_safetensors_write_is_atomic_and_respects_umask_and_mode(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    old = os.umask(0o027)
    try:
        tg.save({"w": np.ones(3)}, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    os.chmod(path, 0o600)
    tg.save({"w": np.zeros(3)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a replaced file keeps its mode

    import tinygrad_lite.safetensors_io as sio

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sio.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"w": np.full(3, 7.0)}, path)
    assert tg.load(path)["w"].tolist() == [0.0, 0.0, 0.0]  # the old file, whole
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]  # no temporary file left
