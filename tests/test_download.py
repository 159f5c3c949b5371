"""Downloads from mirrors, against a local HTTP server on 127.0.0.1 (never the internet)."""

import hashlib
import http.server
import shutil
import socket
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.data import DataFileError, DownloadError, cache_dir, download, mnist

BUNDLED = Path(mnist.__file__).parent / "files" / "mnist"
LABELS = "t10k-labels-idx1-ubyte.gz"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; paths under /short/ announce the full length but send half the bytes."""

    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        if self.path.startswith("/short/"):
            body = (Path(self.directory) / "good" / self.path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`http://127.0.0.1:PORT`, serving good/ (the real test-split files), bad/ (a corrupted copy
    of the labels) and nothing else (404)."""
    folder = tmp_path_factory.mktemp("mirror")
    (folder / "good").mkdir()
    (folder / "bad").mkdir()
    for name in mnist.FILES["test"]:
        shutil.copy(BUNDLED / name, folder / "good" / name)
    corrupted = bytearray((BUNDLED / LABELS).read_bytes())
    corrupted[100] ^= 0xFF
    (folder / "bad" / LABELS).write_bytes(bytes(corrupted))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=folder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    _Handler.requests.clear()


@pytest.fixture
def dead_mirror():
    """A URL on a local port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _fetch(mirrors, dest, **kwargs):
    return download.fetch(LABELS, mnist.SHA256[LABELS], mirrors, dest, progress=False, **kwargs)


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------------------------ fetch ----
def test_fetch_downloads_and_verifies(server, tmp_path):
    path = _fetch([server + "/good/"], tmp_path / "dest")
    assert path == tmp_path / "dest" / LABELS
    assert path.read_bytes() == (BUNDLED / LABELS).read_bytes()
    assert _leftovers(tmp_path / "dest") == [LABELS]  # no .part file left behind


def test_fetch_skips_a_404_mirror(server, tmp_path):
    path = _fetch([server + "/missing", server + "/good"], tmp_path)  # with or without a slash
    assert hashlib.sha256(path.read_bytes()).hexdigest() == mnist.SHA256[LABELS]
    assert _Handler.requests == [f"/missing/{LABELS}", f"/good/{LABELS}"]


def test_fetch_skips_a_corrupted_file(server, tmp_path):
    path = _fetch([server + "/bad/", server + "/good/"], tmp_path)
    assert path.read_bytes() == (BUNDLED / LABELS).read_bytes()
    assert _Handler.requests == [f"/bad/{LABELS}", f"/good/{LABELS}"]
    assert _leftovers(tmp_path) == [LABELS]


def test_fetch_corrupted_file_leaves_nothing_behind(server, tmp_path):
    with pytest.raises(DownloadError, match="sha256 mismatch: expected " + mnist.SHA256[LABELS]):
        _fetch([server + "/bad/"], tmp_path)
    assert _leftovers(tmp_path) == []


def test_fetch_short_transfer_moves_on(server, tmp_path):
    short = r"/short/.*(incomplete transfer: received 2271 of 4542|IncompleteRead)"
    with pytest.raises(DownloadError, match=short):
        _fetch([server + "/short/"], tmp_path / "a")
    assert _leftovers(tmp_path / "a") == []
    path = _fetch([server + "/short/", server + "/good/"], tmp_path / "b")
    assert path.read_bytes() == (BUNDLED / LABELS).read_bytes()


def test_fetch_all_mirrors_failing_lists_each(server, tmp_path, dead_mirror):
    mirrors = [dead_mirror, server + "/missing/", server + "/bad/", "nonsense://x/"]
    with pytest.raises(DownloadError) as info:
        _fetch(mirrors, tmp_path, hint="Try another mirror.")
    message = str(info.value)
    assert f"could not download {LABELS} from any of 4 mirror(s)" in message
    lines = message.splitlines()
    assert lines[1].startswith(f"  {dead_mirror}{LABELS}: connection failed")
    assert lines[2] == f"  {server}/missing/{LABELS}: HTTP 404 File not found"
    assert lines[3].startswith(f"  {server}/bad/{LABELS}: sha256 mismatch: expected ")
    assert lines[4].startswith(f"  nonsense://x/{LABELS}: ")
    assert lines[5] == "Try another mirror."
    assert _leftovers(tmp_path) == []


def test_fetch_needs_a_mirror(tmp_path):
    with pytest.raises(DownloadError, match="list of mirrors is empty"):
        _fetch([], tmp_path)


def test_fetch_from_a_file_url(tmp_path):
    path = _fetch([BUNDLED.as_uri()], tmp_path)
    assert path.read_bytes() == (BUNDLED / LABELS).read_bytes()


def test_fetch_progress_bar_with_tqdm(server, tmp_path, capsys):
    pytest.importorskip("tqdm")
    download.fetch(LABELS, mnist.SHA256[LABELS], [server + "/good/"], tmp_path, progress=True)
    assert LABELS in capsys.readouterr().err


def test_fetch_progress_fallback_without_tqdm(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` now fails
    download.fetch(LABELS, mnist.SHA256[LABELS], [server + "/good/"], tmp_path, progress=True)
    err = capsys.readouterr().err
    assert f"downloading {LABELS}: 100% (0.0 of 0.0 MiB)" in err and err.endswith("\n")
    assert err.count("\r") >= 2  # redrawn as it goes, not one line per chunk
    assert err.count("\r") <= 22


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_LITE_CACHE", str(tmp_path / "c"))
    assert cache_dir("mnist") == tmp_path / "c" / "mnist"
    monkeypatch.delenv("TINYGRAD_LITE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("mnist") == tmp_path / "xdg" / "tinygrad_lite" / "mnist"


# ---------------------------------------------------------------------------- mnist.load ----
@pytest.fixture
def not_bundled(tmp_path, monkeypatch):
    """Pretend the package ships no MNIST files (a slim install)."""
    monkeypatch.setattr(mnist, "BUNDLED_DIR", tmp_path / "no-bundle")
    mnist.clear_cache()
    yield tmp_path
    mnist.clear_cache()


def test_mnist_load_downloads_when_not_bundled(server, not_bundled):
    root = not_bundled / "cache"
    x, y = mnist.load("test", root=root, mirrors=[server + "/missing/", server + "/good/"],
                      progress=False)
    assert sorted(p.name for p in root.iterdir()) == sorted(mnist.FILES["test"])
    assert x.shape == (10000, 28, 28) and y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    count = len(_Handler.requests)
    mnist.clear_cache()
    x2, _ = mnist.load("test", root=root, download=False)  # found in the cache, no request
    assert len(_Handler.requests) == count
    np.testing.assert_array_equal(x2, x)


def test_mnist_environment_chooses_mirrors_and_cache(server, not_bundled, monkeypatch):
    monkeypatch.setenv("TINYGRAD_LITE_MNIST_MIRRORS", f"{server}/bad/, {server}/good/")
    monkeypatch.setenv("TINYGRAD_LITE_CACHE", str(not_bundled / "env-cache"))
    _, y = mnist.load("test", normalize=False, progress=False)
    assert (not_bundled / "env-cache" / "mnist" / LABELS).is_file()
    assert f"/bad/{LABELS}" in _Handler.requests and len(y) == 10000


def test_mnist_all_mirrors_failing_names_them_and_the_way_out(server, not_bundled, dead_mirror):
    root = not_bundled / "cache"
    with pytest.raises(DownloadError) as info:
        mnist.load("test", root=root, mirrors=[dead_mirror, server + "/missing/"], progress=False)
    message = str(info.value)
    assert dead_mirror in message and f"{server}/missing/" in message
    assert "TINYGRAD_LITE_MNIST_MIRRORS" in message and str(root) in message
    assert _leftovers(root) == []


def test_mnist_corrupt_download_is_not_kept(server, not_bundled):
    root = not_bundled / "cache"
    root.mkdir()
    shutil.copy(BUNDLED / "t10k-images-idx3-ubyte.gz", root)  # the labels must be downloaded
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        mnist.load("test", root=root, mirrors=[server + "/bad/"], progress=False)
    assert _leftovers(root) == ["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(DataFileError, match="neither bundled"):
        mnist.load("test", root=root, download=False)
