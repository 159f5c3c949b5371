"""tinygrad_lite.save / load: round trips of state dicts and nested optimizer-like state, atomic
writes (a failure mid-write leaves the previous file intact and no temporary file), and clear
errors for missing, truncated, foreign and pickle-carrying files."""

import math
import os
import stat
import zipfile

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).relu().flatten(1))


def _leftovers(folder, keep):
    return sorted(name for name in os.listdir(folder) if name not in keep)


# ------------------------------------------------------------------------------- round trips ----
def test_state_dict_round_trip_through_a_file_restores_outputs(tmp_path):
    net = _Net()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32))
    net(x)  # one training step of batch norm moves the running statistics
    net.eval()
    expected = net(x).data
    tg.save(net.state_dict(), tmp_path / "net.npz")

    tg.manual_seed(99)
    other = _Net().eval()
    assert not np.allclose(other(x).data, expected)
    loaded = tg.load(tmp_path / "net.npz")
    assert list(loaded) == list(net.state_dict())
    other.load_state_dict(loaded)
    np.testing.assert_array_equal(other(x).data, expected)
    assert int(other.bn.num_batches_tracked.data) == 1
    assert other.bn.num_batches_tracked.dtype == np.int64
    for k, v in net.state_dict().items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape


def test_round_trip_of_optimizer_like_state_keeps_int_keys_tuples_and_numbers(tmp_path):
    rng = np.random.default_rng(1)
    state = {
        "state": {0: {"step": 3, "exp_avg": rng.standard_normal((2, 3)).astype(np.float32)},
                  1: {"step": 3, "momentum_buffer": None}},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                          "name": "body", "params": [0, 1]}],
        "epoch": np.int64(7),
        "best": float("inf"),
        "history": [0.5, float("nan")],
        "empty": {},
    }
    tg.save(state, tmp_path / "opt.npz")
    out = tg.load(tmp_path / "opt.npz")
    assert set(out["state"]) == {0, 1} and all(isinstance(k, int) for k in out["state"])
    assert out["state"][0]["step"] == 3 and out["state"][1]["momentum_buffer"] is None
    np.testing.assert_array_equal(out["state"][0]["exp_avg"], state["state"][0]["exp_avg"])
    assert out["state"][0]["exp_avg"].dtype == np.float32
    group = out["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["eps"] == 1e-8 and group["amsgrad"] is False and group["name"] == "body"
    assert group["params"] == [0, 1]
    assert out["epoch"] == 7 and isinstance(out["epoch"], int)
    assert out["best"] == math.inf and math.isnan(out["history"][1])
    assert out["empty"] == {}


def test_round_trip_keeps_tensors_as_tensors_and_arrays_as_arrays(tmp_path):
    obj = {"t": Tensor(np.arange(6, dtype=np.float64).reshape(2, 3), requires_grad=True),
           "a": np.array([1, 2, 3], dtype=np.int32),
           "flags": np.array([True, False]),
           "scalar": np.array(2.5, dtype=np.float32),
           "nothing": np.zeros((0, 4), dtype=np.float32),
           "list_of_tensors": [Tensor([1.0]), Tensor([2.0, 3.0])]}
    tg.save(obj, tmp_path / "mixed.npz")
    out = tg.load(tmp_path / "mixed.npz")
    assert isinstance(out["t"], Tensor) and out["t"].dtype == np.float64
    assert not out["t"].requires_grad
    np.testing.assert_array_equal(out["t"].data, obj["t"].data)
    assert type(out["a"]) is np.ndarray and out["a"].dtype == np.int32
    np.testing.assert_array_equal(out["flags"], [True, False])
    assert out["scalar"].shape == () and out["scalar"].dtype == np.float32
    assert out["nothing"].shape == (0, 4)
    assert [t.tolist() for t in out["list_of_tensors"]] == [[1.0], [2.0, 3.0]]


def test_model_and_optimizer_checkpoint_resumes_training(tmp_path):
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((8, 3)).astype(np.float32))
    y = Tensor(rng.standard_normal((8, 1)).astype(np.float32))

    def make():
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        return model, tg.optim.Adam(model.parameters(), lr=0.01)

    def step(model, opt):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    model, opt = make()
    for _ in range(3):
        step(model, opt)
    tg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
            tmp_path / "ckpt.npz")
    expected = [step(model, opt) for _ in range(2)]

    tg.manual_seed(5)
    model2, opt2 = make()
    ckpt = tg.load(tmp_path / "ckpt.npz")
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    assert ckpt["epoch"] == 3
    np.testing.assert_allclose([step(model2, opt2) for _ in range(2)], expected, rtol=1e-6)


def test_saved_arrays_are_readable_with_plain_numpy(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    tg.save(net.state_dict(), tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["0.weight"], net[0].weight.data)
        np.testing.assert_array_equal(archive["2.bias"], net[2].bias.data)


def test_plain_npz_of_arrays_loads_as_a_dict_and_into_a_model(tmp_path):
    # the way a PyTorch state dict is exported: np.savez(path, **{k: v.numpy() ...})
    src = nn.Linear(3, 2)
    np.savez(tmp_path / "torch_like.npz", weight=src.weight.data, bias=src.bias.data)
    loaded = tg.load(tmp_path / "torch_like.npz")
    assert set(loaded) == {"weight", "bias"}
    dst = nn.Linear(3, 2)
    dst.load_state_dict(loaded)
    np.testing.assert_array_equal(dst.weight.data, src.weight.data)


def test_dotted_keys_that_collide_still_round_trip(tmp_path):
    obj = {"a.b": np.array([1.0]), "a": {"b": np.array([2.0])}, "__tinygrad_lite__": np.array([3.0])}
    tg.save(obj, tmp_path / "c.npz")
    out = tg.load(tmp_path / "c.npz")
    assert out["a.b"].tolist() == [1.0] and out["a"]["b"].tolist() == [2.0]
    assert out["__tinygrad_lite__"].tolist() == [3.0]


def test_save_accepts_str_paths_and_creates_folders(tmp_path):
    path = str(tmp_path / "deep" / "er" / "x.npz")
    tg.save({"w": np.ones(2)}, path)
    assert tg.load(path)["w"].tolist() == [1.0, 1.0]


def test_saved_file_has_ordinary_permissions(tmp_path):
    tg.save({"w": np.ones(2)}, tmp_path / "perm.npz")
    mode = stat.S_IMODE(os.stat(tmp_path / "perm.npz").st_mode)
    assert mode & 0o044, oct(mode)  # not mkstemp's private 0600


# ---------------------------------------------------------------------------------- atomic ----
def _good_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.arange(3.0)}, path)
    return path, path.read_bytes()


def test_save_failing_mid_write_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path, before = _good_file(tmp_path)

    def broken_write(file, arr, **kwargs):
        file.write(b"\x93NUMPY half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"ckpt.npz"}) == []
    monkeypatch.undo()
    assert tg.load(path)["w"].tolist() == [0.0, 1.0, 2.0]


def test_save_failing_at_rename_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path, before = _good_file(tmp_path)

    def broken_replace(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        tg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"ckpt.npz"}) == []


def test_save_interrupted_by_keyboard_interrupt_cleans_up(tmp_path, monkeypatch):
    path, before = _good_file(tmp_path)

    def interrupted(file, arr, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path, {"ckpt.npz"}) == []


@pytest.mark.parametrize("bad", [
    {"w": np.array([object(), 1], dtype=object)},
    {"w": {1, 2}},
    {(1, 2): np.ones(1)},
    {1.5: np.ones(1)},
    {"w": np.array(["a", "b"])},
])
def test_save_rejects_unstorable_values_before_touching_the_file(tmp_path, bad):
    path, before = _good_file(tmp_path)
    with pytest.raises(TypeError, match="save"):
        tg.save(bad, path)
    assert path.read_bytes() == before and _leftovers(tmp_path, {"ckpt.npz"}) == []


# ---------------------------------------------------------------------------------- errors ----
def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        tg.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.05])
def test_load_truncated_file_is_a_clear_error(tmp_path, keep):
    net = nn.Linear(20, 20)
    path = tmp_path / "trunc.npz"
    tg.save(net.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="trunc.npz"):
        tg.load(path)


def test_load_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz"):
        tg.load(path)


def test_load_text_file_is_a_clear_error_not_a_pickle_complaint(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("epoch 3, loss 0.25\n")
    with pytest.raises(ValueError, match="notes.txt") as info:
        tg.load(path)
    assert "pickle" not in str(info.value)


def test_load_single_npy_array_is_a_clear_error(tmp_path):
    path = tmp_path / "arr.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match="arr.npy"):
        tg.load(path)


def test_load_npz_holding_a_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([{"a": 1}, None], dtype=object))  # object arrays are pickled
    with pytest.raises(ValueError, match=r"evil.npz.*pickle"):
        tg.load(path)


def test_load_zip_that_is_not_an_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="other.zip"):
        tg.load(path)


def test_load_damaged_structure_entry_is_a_clear_error(tmp_path):
    path = tmp_path / "damaged.npz"
    np.savez(path, __tinygrad_lite__=np.frombuffer(b'{"format": 1, "tree": {"dict": [["w"',
                                                    dtype=np.uint8))
    with pytest.raises(ValueError, match="damaged.npz"):
        tg.load(path)


def test_failed_load_leaves_the_model_unchanged(tmp_path):
    net = nn.Linear(3, 2)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    path = tmp_path / "bad.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError):
        net.load_state_dict(tg.load(path))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_numpy_integer_keys_are_stored_as_ints(tmp_path):
    state = {np.int64(0): {"step": np.int32(4)}, np.int32(2): {"step": 1}}
    tg.save(state, tmp_path / "np_keys.npz")
    out = tg.load(tmp_path / "np_keys.npz")
    assert out == {0: {"step": 4}, 2: {"step": 1}}
    assert all(type(k) is int for k in out)


def test_saving_a_module_or_optimizer_itself_points_to_state_dict(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"Linear.*state_dict\(\)"):
        tg.save(model, tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"SGD at model.*state_dict\(\)"):
        tg.save({"model": tg.optim.SGD(model.parameters(), lr=0.1)}, tmp_path / "o.npz")
    assert _leftovers(tmp_path, set()) == []
