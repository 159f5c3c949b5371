"""tinygrad_lite.data.progress: the progress bar (terminal and log forms), Ctrl-C that stops after
the current batch, and the argparse number types the examples use."""

import argparse
import io
import os
import signal
import sys

import pytest

from tinygrad_lite.data import plain_progress, progress
from tinygrad_lite.data.progress import StopOnInterrupt, at_least, greater_than


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_progress_reports_every_tenth(capsys):
    items = list(plain_progress(range(20), 20, "epoch 1/1"))
    assert items == list(range(20))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and "20/20 batches" in lines[-1]


def test_progress_disabled_returns_the_iterable_itself():
    data = [1, 2, 3]
    assert progress(data, 3, enabled=False) is data


def test_progress_writes_nothing_into_a_log(monkeypatch):
    log = io.StringIO()  # not a terminal, like `python example.py > log.txt`
    monkeypatch.setattr(sys, "stdout", log)
    data = list(range(50))
    assert progress(data, 50, "epoch 1/1") is data
    assert log.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    bar = progress(range(5), 5, "epoch 1/1")
    assert bar is not None and list(bar) == list(range(5))
    if "tqdm" not in sys.modules:  # the plain fallback prints to stdout
        assert "5/5 batches" in terminal.getvalue()


def test_progress_without_tqdm_falls_back_to_plain_lines(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    assert list(progress(range(10), 10, "epoch 2/3")) == list(range(10))
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("  epoch 2/3: 10/10 batches")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_stop_on_interrupt_finishes_the_batch_then_stops(capsys):
    done = []
    with StopOnInterrupt() as stop:
        for batch in range(10):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of batch 3
            done.append(batch)  # the rest of the batch still runs
            if stop:
                break
    assert done == [0, 1, 2, 3] and stop.requested
    printed = capsys.readouterr()
    assert StopOnInterrupt.HINT in printed.out  # said on entry, so the user knows
    assert "stopping after this batch" in printed.err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_stop_on_interrupt_second_ctrl_c_raises():
    with pytest.raises(KeyboardInterrupt), StopOnInterrupt():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(("parse", "text", "message"), [
    (at_least(1), "0", "must be at least 1, got 0"),
    (at_least(1), "-1", "must be at least 1, got -1"),
    (at_least(0), "1.5", "'1.5' is not a whole number"),
    (greater_than(0), "0", "must be greater than 0, got 0"),
    (greater_than(0), "nan", "must be finite"),
    (greater_than(0), "inf", "must be finite"),
    (greater_than(0), "fast", "'fast' is not a number"),
])
def test_argparse_number_types_refuse_bad_values(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


def test_argparse_number_types_in_a_parser(capsys):
    ap = argparse.ArgumentParser(prog="train")
    ap.add_argument("--epochs", type=at_least(1), default=3)
    ap.add_argument("--lr", type=greater_than(0), default=0.1)
    assert vars(ap.parse_args(["--epochs", "2", "--lr", "1e-3"])) == {"epochs": 2, "lr": 1e-3}
    with pytest.raises(SystemExit) as exit_info:
        ap.parse_args(["--epochs", "-1"])
    assert exit_info.value.code == 2
    assert "argument --epochs: must be at least 1, got -1" in capsys.readouterr().err
