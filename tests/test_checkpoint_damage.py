"""Checkpoints are whole or refused: every single-byte flip and every truncation of a small
checkpoint either loads as exactly the original or raises a ValueError naming the file; files
crafted to crash a reader (huge claimed sizes, odd zip fields, deep nesting) get the same error;
any key a user can put in a state dict round-trips; a saving process killed with SIGKILL keeps the
previous checkpoint and its temporary file is removed by the next save; the umask is respected."""

import io
import json
import math
import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn, serialization


def _small_checkpoint():
    tg.manual_seed(3)
    lin = nn.Linear(3, 2)
    return {"model": lin.state_dict(), "w": Tensor([1.5, -2.0]), "step": 3,
            "opt": {0: {"exp_avg": np.arange(2, dtype=np.float64)}, "betas": (0.9, 0.999)},
            "mask": np.array([True, False]), "name": "lin", "none": None, "nan": math.nan}


def _same(a, b):
    """Exactly the same value: types (any dict for a dict: state dicts are OrderedDicts), keys and
    their order, dtypes, shapes and bits."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(type(k) is type(j) for k, j in zip(a, b)) and all(
            _same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Tensor):
        return not b.requires_grad and _same(a.data, b.data)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _outcome(path, original):
    """'same' when the file loads as the original, 'refused' on the clear error; anything else
    (another exception, a different result) fails the test with the reason."""
    try:
        out = tg.load(path)
    except ValueError as err:
        assert path.name in str(err), f"the error does not name the file: {err}"
        return "refused"
    assert _same(out, original), f"{path.name} loaded as something other than the original"
    return "same"


def test_checkpoint_equality_helper_catches_differences():
    ckpt = _small_checkpoint()
    assert _same(ckpt, _small_checkpoint())
    for change in (lambda c: c.update(step=4), lambda c: c["model"].pop("bias"),
                   lambda c: c["opt"][0]["exp_avg"].__setitem__(0, 1e-300),
                   lambda c: c.update(w=c["w"].data), lambda c: c.update(nan=0.0),
                   lambda c: c["opt"].update(betas=[0.9, 0.999])):
        other = _small_checkpoint()
        change(other)
        assert not _same(ckpt, other)


def test_every_byte_flip_loads_the_original_or_is_refused(tmp_path):
    original = _small_checkpoint()
    good = tmp_path / "good.npz"
    tg.save(original, good)
    data = good.read_bytes()
    path = tmp_path / "flipped.npz"
    counts = {"same": 0, "refused": 0}
    for i in range(len(data)):
        for mask in (0xFF, 0x01):  # every bit of the byte, and its lowest bit (a digit off by one)
            damaged = bytearray(data)
            damaged[i] ^= mask
            path.write_bytes(damaged)
            counts[_outcome(path, original)] += 1
    assert counts["same"] + counts["refused"] == 2 * len(data)
    # the flips that load are the zip fields no reader uses (timestamps, version made by, ...)
    assert counts["refused"] > 0.7 * 2 * len(data), counts


def test_every_truncation_is_refused(tmp_path):
    original = _small_checkpoint()
    good = tmp_path / "good.npz"
    tg.save(original, good)
    data = good.read_bytes()
    path = tmp_path / "short.npz"
    for n in range(len(data)):
        path.write_bytes(data[:n])
        assert _outcome(path, original) == "refused", n
    path.write_bytes(data)
    assert _outcome(path, original) == "same"


def test_flipped_zip_index_never_drops_an_entry(tmp_path):
    # the repro: a flip in the name of a member in the zip's central directory used to make
    # load return the dict without that member
    path = tmp_path / "lin.npz"
    tg.save(nn.Linear(2, 2).state_dict(), path)
    data = path.read_bytes()
    central = data.index(b"PK\x01\x02")  # the zip's index: one entry per member, at the end
    for name in (b"bias.npy", b"__tinygrad_lite__.npy"):
        at = data.rindex(name)
        assert at > central
        damaged = bytearray(data)
        damaged[at] ^= 0x01
        path.write_bytes(damaged)
        with pytest.raises(ValueError, match="lin.npz"):
            tg.load(path)


# ------------------------------------------------------------------------ crafted files ----
def _zip_with(path, members, comment=b""):
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
        z.comment = comment


def test_huge_claimed_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}  # 745 GiB
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, header)
    _zip_with(path, {"w.npy": stream.getvalue() + b"\0" * 64})
    assert path.stat().st_size < 1000
    with pytest.raises(ValueError, match=r"huge\.npz.*claims shape"):
        tg.load(path)


def test_huge_claimed_member_size_is_refused(tmp_path):
    path = tmp_path / "big.npz"
    tg.save({"w": np.ones(4)}, path)
    data = bytearray(path.read_bytes())
    at = data.rindex(b"PK\x01\x02")  # the last central-directory entry: patch its sizes
    data[at + 20:at + 28] = struct.pack("<II", 0xFFFFFFF0, 0xFFFFFFF0)
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"big\.npz .*claims \d+ bytes, more than"):
        tg.load(path)


def test_unsupported_compression_is_a_clear_error(tmp_path):
    path = tmp_path / "bz.npz"
    tg.save({"w": np.ones(4)}, path)
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = -1
        while (at := data.find(sig, at + 1)) >= 0:
            data[at + offset:at + offset + 2] = struct.pack("<H", 99)  # AES: NotImplementedError
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"bz\.npz"):
        tg.load(path)


def test_deeply_nested_structure_entry_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.npz"
    tree = '{"list": [' * 5000 + '{"value": 1}' + "]}" * 5000
    meta = json.dumps({"format": 1}).replace("}", ', "tree": ' + tree + "}").encode()
    np.savez(path, __tinygrad_lite__=np.frombuffer(meta, np.uint8))
    with pytest.raises(ValueError, match=r"deep\.npz.*nested"):
        tg.load(path)


def test_saving_a_structure_that_contains_itself_is_a_clear_error(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested more than"):
        tg.save({"x": loop}, tmp_path / "loop.npz")
    assert os.listdir(tmp_path) == []


def test_structure_entry_without_its_checksum_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    tg.save({"w": np.ones(2), "step": 1}, path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    _zip_with(path, members)  # the same members, the comment (with the checksum) gone
    with pytest.raises(ValueError, match=r"c\.npz has a damaged structure entry.*checksum"):
        tg.load(path)
    meta = np.frombuffer(members["__tinygrad_lite__.npy"][128:], np.uint8).tobytes()
    edited = meta.replace(b'"value": 1', b'"value": 7')
    assert edited != meta
    stream = io.BytesIO()
    np.lib.format.write_array(stream, np.frombuffer(edited, np.uint8))
    members["__tinygrad_lite__.npy"] = stream.getvalue()
    _zip_with(path, members, comment=serialization._COMMENT + b"%d" % zlib.crc32(meta))
    with pytest.raises(ValueError, match=r"c\.npz.*checksum"):
        tg.load(path)


def test_array_missing_from_the_manifest_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"w": np.ones(2), "b": np.zeros(3)}, path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist() if name != "b.npy"}
        comment = z.comment
    _zip_with(path, members, comment)
    with pytest.raises(ValueError, match=r"m\.npz is damaged: arrays missing: \['b'\]"):
        tg.load(path)


# --------------------------------------------------------------------------------- keys ----
@pytest.mark.parametrize("key", ["allow_pickle", "file", "__tinygrad_lite__", "", "a/b", "..",
                                 "x.npy", "nul\0byte", "back\\slash", "\udcff", "ключ", "array#0",
                                 " ", "a.b"])
def test_any_key_round_trips(tmp_path, key):
    original = {key: np.arange(3.0), "step": 3, "nested": {key: {key: Tensor([1.0])}},
                "array": np.ones(1), "a": {"b": np.zeros(1)}}
    path = tmp_path / "k.npz"
    tg.save(original, path)
    assert _same(tg.load(path), original)


# ---------------------------------------------------------------------- SIGKILL, umask ----
_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import tinygrad_lite as tg
    path = sys.argv[1]
    step = 0
    while True:
        step += 1
        tg.save({"w": np.full(1_000_000, step, dtype=np.float64), "step": step}, path)
        print(step, flush=True)
""")


def _temps(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@pytest.mark.slow
def test_sigkill_while_saving_keeps_a_whole_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "ckpt.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    kills, left_behind = 0, 0
    while kills < 8 and left_behind < 2:
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "1" or path.exists(), proc.stderr.read()
        time.sleep(0.05 + 0.03 * kills)  # land somewhere inside a later save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        kills += 1
        left_behind += bool(_temps(tmp_path))
        out = tg.load(path)  # the previous checkpoint, whole
        assert set(out) == {"w", "step"} and np.all(out["w"] == out["step"]), out["step"]
    assert left_behind >= 1, "no kill landed inside a save; the test did not test anything"
    tg.save({"w": np.zeros(2), "step": 0}, path)  # a later save removes the dead saves' files
    assert _temps(tmp_path) == [] and os.listdir(tmp_path) == ["ckpt.npz"]


def test_stale_temp_files_of_live_processes_and_other_files_are_kept(tmp_path):
    tag = serialization._temp_tag()
    host = tag.split("-")[0]
    mine = tmp_path / f".ckpt.npz.{'0' * 16}.{tag}.tmp"  # this (live) process: a save in flight
    other_host = tmp_path / f".ckpt.npz.{'1' * 16}.{int(host, 16) ^ 1:08x}-99999999.tmp"
    dead = tmp_path / f".ckpt.npz.{'2' * 16}.{host}-99999999.tmp"  # no such pid
    user = tmp_path / "notes.tmp"
    for f in (mine, other_host, dead, user):
        f.write_bytes(b"x")
    tg.save({"w": np.ones(1)}, tmp_path / "other.npz")
    assert not dead.exists() and mine.exists() and other_host.exists() and user.exists()


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o002])
def test_new_file_respects_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        tg.save({"w": np.ones(1)}, tmp_path / "u.npz")
        with open(tmp_path / "ref", "wb"):
            pass
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "u.npz").st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE(os.stat(tmp_path / "ref").st_mode), oct(mode)


def test_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "keep.npz"
    tg.save({"w": np.ones(1)}, path)
    os.chmod(path, 0o640)
    tg.save({"w": np.zeros(1)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
