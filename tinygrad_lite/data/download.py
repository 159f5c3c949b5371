"""Data files on disk: sha256 checks, the cache folder, and downloads from a list of mirrors.

Only the standard library (urllib) downloads, so a slim install needs nothing extra; tqdm draws the
progress bar when it is installed. A download goes to a `.part` file in the destination folder and
is renamed into place (`os.replace`, atomic) only once its sha256 matches, so a half-written or
corrupt file never sits under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

CACHE_ENV = "TINYGRAD_LITE_CACHE"
_CHUNK = 1 << 16


class DataFileError(ValueError):
    """A data file that is missing, corrupt, truncated or not in the expected format."""


class DownloadError(OSError):
    """No mirror could provide a file; the message lists each mirror tried and why it failed."""


def cache_dir(name: str = "") -> Path:
    """The folder for downloaded data: `$TINYGRAD_LITE_CACHE/name` or `~/.cache/tinygrad_lite/name`.

    >>> cache_dir("mnist").name
    'mnist'
    """
    base = os.environ.get(CACHE_ENV)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "tinygrad_lite")
    return Path(base).expanduser() / name if name else Path(base).expanduser()


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise DataFileError naming the file, the expected and the actual sha256 if they differ."""
    actual = sha256_file(path)
    if actual != expected:
        raise DataFileError(
            f"{path}: sha256 mismatch: expected {expected}, got {actual}. The file is corrupt, "
            "truncated or a different file; delete it (a download fetches it again) or reinstall."
        )


def fetch(
    filename: str,
    sha256: str,
    mirrors: Sequence[str],
    dest_dir: str | os.PathLike,
    *,
    progress: bool = True,
    timeout: float = 30.0,
    hint: str = "",
) -> Path:
    """Fetch `filename` from the first mirror that serves it with the right sha256; return its path.

    Each mirror is a URL prefix (`https://host/path/`, `file:///folder/`); the file's URL is the
    prefix plus `filename`. A mirror that fails (connection error, HTTP error, wrong length or
    checksum) is skipped; when all fail, DownloadError lists each URL and its reason, then `hint`.
    """
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    if not mirrors:
        raise DownloadError(f"cannot download {filename}: the list of mirrors is empty. {hint}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch_verified(url, dest, sha256, progress=progress, timeout=timeout)
            return dest
        except Exception as e:  # NOTE: any failure (network, HTTP, checksum) moves on to the next
            failures.append(f"  {url}: {_reason(e)}")
    raise DownloadError(
        f"could not download {filename} from any of {len(mirrors)} mirror(s):\n"
        + "\n".join(failures) + (f"\n{hint}" if hint else "")
    )


def _fetch_verified(url: str, dest: Path, sha256: str, *, progress: bool, timeout: float) -> None:
    """Stream `url` into a .part file beside `dest`, check length and sha256, then rename it."""
    import urllib.request  # NOTE: imported here so that `import tinygrad_lite` stays quick

    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            digest, received = hashlib.sha256(), 0
            with _progress_bar(dest.name, total, progress) as advance:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    advance(len(chunk))
        if total is not None and received != total:
            raise DataFileError(f"incomplete transfer: received {received} of {total} bytes")
        actual = digest.hexdigest()
        if actual != sha256:
            raise DataFileError(f"sha256 mismatch: expected {sha256}, got {actual}")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _reason(e: BaseException) -> str:
    """A short description of why a mirror failed."""
    import urllib.error

    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"connection failed ({e.reason})"
    return f"{type(e).__name__}: {e}" if not isinstance(e, DataFileError) else str(e)


@contextlib.contextmanager
def _progress_bar(name: str, total: int | None, enabled: bool):
    """Yield `advance(n_bytes)`: tqdm's bar if tqdm is installed, else a plain one on stderr."""
    if not enabled:
        yield lambda n: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        with tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                  file=sys.stderr, leave=False) as bar:
            yield bar.update
        return
    bar = _PlainProgress(name, total)
    yield bar.advance
    bar.close()


class _PlainProgress:
    """A progress line on stderr for when tqdm is not installed: updated every 5 percent."""

    def __init__(self, name: str, total: int | None, stream=None):
        self.name, self.total, self.done, self.shown = name, total, 0, -1
        self.stream = stream or sys.stderr

    def advance(self, n: int) -> None:
        self.done += n
        step = 100 * self.done // self.total // 5 if self.total else self.done >> 20
        if step != self.shown:
            self.shown = step
            self._write()

    def _write(self) -> None:
        mb = self.done / 2**20
        if self.total:
            text = f"{100 * self.done // self.total:3d}% ({mb:.1f} of {self.total / 2**20:.1f} MiB)"
        else:
            text = f"{mb:.1f} MiB"
        self.stream.write(f"\rdownloading {self.name}: {text}")
        self.stream.flush()

    def close(self) -> None:
        self._write()
        self.stream.write("\n")
        self.stream.flush()
