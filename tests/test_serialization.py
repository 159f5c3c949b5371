"""tinygrad_lite.save / load: round trips (flat state dicts, nested optimizer-like state), the
archive's layout, atomic writes (a failure mid-write keeps the previous file and leaves no temporary
file) and clear errors for truncated, foreign and pickle-carrying files."""

import os
import pickle

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, serialization


def files_in(folder):
    return sorted(os.listdir(folder))


def test_save_and_load_are_reexported():
    assert tg.save is serialization.save and tg.load is serialization.load


def test_flat_state_dict_round_trip_keeps_values_dtypes_and_types(tmp_path):
    sd = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5], np.float64),
          "count": np.array(7, np.int64), "mask": np.array([True, False]),
          "t": Tensor([1.0, 2.0]), "step": 3, "lr": 0.01, "name": "mlp", "none": None}
    path = tmp_path / "ckpt.npz"
    tg.save(sd, path)
    out = tg.load(path)
    assert list(out) == list(sd)
    for k in ("w", "b", "count", "mask"):
        assert type(out[k]) is np.ndarray and out[k].dtype == sd[k].dtype
        np.testing.assert_array_equal(out[k], sd[k])
    assert isinstance(out["t"], Tensor) and out["t"].tolist() == [1.0, 2.0]
    assert out["t"].dtype == np.float32 and not out["t"].requires_grad
    assert (out["step"], out["lr"], out["name"], out["none"]) == (3, 0.01, "mlp", None)
    assert files_in(tmp_path) == ["ckpt.npz"]


def test_nested_optimizer_like_state_round_trips(tmp_path):
    state = {"model": {"fc.weight": np.ones((2, 2), np.float32)},
             "optimizer": {"state": {0: {"step": 5, "exp_avg": np.full(3, 0.5)}},
                           "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
             "epoch": 2}
    tg.save(state, tmp_path / "all.npz")
    out = tg.load(tmp_path / "all.npz")
    assert out["epoch"] == 2
    assert list(out["optimizer"]["state"]) == [0]  # int keys stay ints
    np.testing.assert_array_equal(out["optimizer"]["state"][0]["exp_avg"], np.full(3, 0.5))
    assert out["optimizer"]["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]


def test_archive_is_plain_numpy_with_dotted_names(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    tg.save({"model": model.state_dict()}, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert "model.0.weight" in archive.files and "model.1.running_var" in archive.files
        np.testing.assert_array_equal(archive["model.0.weight"], model[0].weight.data)


def test_model_round_trip_restores_outputs_and_buffers(tmp_path):
    a = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    a(Tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)))
    b = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    tg.save(a.state_dict(), str(tmp_path / "sub" / "model.npz"))  # str path, folder created
    b.load_state_dict(tg.load(tmp_path / "sub" / "model.npz"))
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32))
    np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)
    assert int(b[1].num_batches_tracked.data) == 1


def test_plain_npz_loads_as_a_dict_of_arrays(tmp_path):
    lin = nn.Linear(2, 2)
    np.savez(tmp_path / "plain.npz", **lin.state_dict())  # e.g. exported from PyTorch
    out = tg.load(tmp_path / "plain.npz")
    assert sorted(out) == ["bias", "weight"]
    nn.Linear(2, 2).load_state_dict(out)


# ---------------------------------------------------------------------------------- atomicity ----
def test_failure_mid_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.ones(3)}, path)

    def broken_write(f, arr, **kwargs):
        f.write(b"\x93NUMPY half an array")  # something reached the disk before the failure
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(3))
    assert files_in(tmp_path) == ["ckpt.npz"]


def test_failure_at_the_rename_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.ones(3)}, path)

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # even an interrupt cleans up

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(3))
    assert files_in(tmp_path) == ["ckpt.npz"]


def test_unstorable_values_fail_before_any_file_is_written(tmp_path):
    for bad in ({"f": lambda x: x}, {"o": np.array([{}], dtype=object)}, {(1, 2): np.ones(1)}):
        with pytest.raises(TypeError):
            tg.save(bad, tmp_path / "bad.npz")
    assert files_in(tmp_path) == []


# ------------------------------------------------------------------------------- bad files ----
def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.ones((50, 50))}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ckpt\.npz.*(truncated|corrupted)"):
        tg.load(path)


def test_foreign_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello, not a checkpoint")
    with pytest.raises(ValueError, match=r"notes\.npz is not an \.npz checkpoint.*b'hell'"):
        tg.load(text)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz.*empty"):
        tg.load(empty)
    raw_pickle = tmp_path / "model.pt"
    raw_pickle.write_bytes(pickle.dumps({"w": [1, 2]}))
    with pytest.raises(ValueError, match=r"model\.pt is not an \.npz"):
        tg.load(raw_pickle)
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        tg.load(tmp_path / "nothing.npz")


def test_npz_holding_a_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.ones(2), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"evil\.npz.*pickled"):
        tg.load(path)


def test_damaged_structure_entry_is_a_clear_error(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, __tinygrad_lite__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ValueError, match=r"odd\.npz has a damaged structure entry"):
        tg.load(path)
