"""Helpers for training scripts: a progress bar that suits terminals and logs, Ctrl-C that stops
after the current batch, and argparse number types that refuse nonsense (`--epochs -1`)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable


def progress(iterable: Iterable, total: int, desc: str = "", enabled: bool = True):
    """Wrap `iterable` (e.g. a DataLoader) with a progress bar when stdout is a terminal.

    The bar is tqdm's when it is installed, else a plain line every 10%. When stdout is not a
    terminal (a log file, a pipe) or `enabled` is False the iterable comes back unchanged, so a log
    holds the loop's own line per epoch instead of a stream of carriage-return updates.

    >>> list(progress(range(3), 3, enabled=False))
    [0, 1, 2]
    """
    if not enabled or not _is_terminal(sys.stdout):
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional
        return plain_progress(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc, leave=False, ncols=90)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def plain_progress(iterable: Iterable, total: int, desc: str = ""):
    """The fallback: a line `desc: i/total batches (seconds)` at every tenth of the way."""
    start, marks = time.perf_counter(), {max(1, round(total * k / 10)) for k in range(1, 11)}
    for i, item in enumerate(iterable, 1):
        yield item
        if i in marks:
            seconds = time.perf_counter() - start
            print(f"  {desc}: {i}/{total} batches ({seconds:.1f} s)", flush=True)


class StopOnInterrupt:
    """Ctrl-C (SIGINT) during training asks to stop after the current batch instead of raising
    KeyboardInterrupt in the middle of an update; a second Ctrl-C stops at once.

    The loop checks the flag (`if stop: break`) after each batch; afterwards the script saves what
    it has and exits with status 130, the shell's code for "ended by Ctrl-C". Outside the main
    thread (where Python cannot catch signals) it does nothing.

    >>> with StopOnInterrupt(hint=None) as stop:
    ...     bool(stop)
    False
    """

    EXIT_STATUS = 130
    HINT = "(Ctrl-C stops after the current batch and saves what there is)"

    def __init__(self, hint: str | None = HINT) -> None:
        self.requested = False
        self.hint = hint  # printed on entering the block, so the user knows
        self._previous = None

    def __bool__(self) -> bool:
        return self.requested

    def __enter__(self) -> StopOnInterrupt:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            if self.hint:
                print(self.hint, flush=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:  # the second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this batch and saving what there is "
              "(press Ctrl-C again to quit at once, saving nothing)", file=sys.stderr, flush=True)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """argparse help for example scripts: the description as written, every option's default
    (unless its help already says it, it is a flag, or there is none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.nargs == 0 or action.default is None:
            return text
        return super()._get_help_string(action)


def at_least(minimum: float, kind: Callable = int) -> Callable[[str], float]:
    """An argparse `type`: a finite `kind` number >= minimum, else argparse's usage error.

    >>> at_least(1)("3")
    3
    >>> at_least(1)("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be at least 1, got 0
    """
    return _bounded(minimum, kind, strict=False)


def greater_than(bound: float, kind: Callable = float) -> Callable[[str], float]:
    """An argparse `type`: a finite `kind` number > bound (a learning rate: greater_than(0)).

    >>> greater_than(0)("0.5")
    0.5
    """
    return _bounded(bound, kind, strict=True)


def _bounded(bound: float, kind: Callable, strict: bool) -> Callable[[str], float]:
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if value < bound or (strict and value == bound):
            raise argparse.ArgumentTypeError(
                f"must be {'greater than' if strict else 'at least'} {bound}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse
