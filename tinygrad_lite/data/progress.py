"""A progress bar for training loops: tqdm's when it is installed, else a plain line every 10%."""

from __future__ import annotations

import time
from collections.abc import Iterable


def progress(iterable: Iterable, total: int, desc: str = "", enabled: bool = True):
    """Wrap `iterable` (e.g. a DataLoader) with a progress bar; unchanged when not enabled.

    >>> list(progress(range(3), 3, enabled=False))
    [0, 1, 2]
    """
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional
        return plain_progress(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc, leave=False, ncols=90)


def plain_progress(iterable: Iterable, total: int, desc: str = ""):
    """The fallback: a line `desc: i/total batches (seconds)` at every tenth of the way."""
    start, marks = time.perf_counter(), {max(1, round(total * k / 10)) for k in range(1, 11)}
    for i, item in enumerate(iterable, 1):
        yield item
        if i in marks:
            seconds = time.perf_counter() - start
            print(f"  {desc}: {i}/{total} batches ({seconds:.1f} s)", flush=True)
