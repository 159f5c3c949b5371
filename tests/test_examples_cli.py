"""Every example behaves like a command-line tool: `--help` lists every option with a help text
and its default and runs nothing, bad values are argparse errors (exit status 2, one line naming
the option), and Ctrl-C during training stops after the current batch, saves what there is, says
where, and exits with status 130 (tested with a real SIGINT sent to a subprocess)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_examples_lesson import load_example

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))


def test_examples_all_listed():
    assert set(EXAMPLES) == {"activations", "draw_graph", "logistic_regression_pima", "mnist_cnn",
                             "mnist_lstm", "mnist_mlp", "mnist_transformer", "optimizers",
                             "quickstart", "sparse_autoencoder"}


class _Parser(Exception):
    """Raised instead of parsing, carrying the example's parser."""


def parser_of(name: str, monkeypatch) -> argparse.ArgumentParser:
    def capture(self, args=None, namespace=None):
        raise _Parser(self)

    module = load_example(name)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parser) as info:
        module.main([])
    return info.value.args[0]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_every_option_has_help_and_its_default(name, monkeypatch):
    parser = parser_of(name, monkeypatch)
    formatter = parser.formatter_class(prog=name)
    options = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    assert options, name
    for action in options:
        text = formatter._get_help_string(action)
        assert text and len(text) > 10, (name, action.option_strings)
        if action.default is not None and action.nargs != 0:  # flags default to off
            assert "default" in text, (name, action.option_strings, text)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_help_runs_nothing_and_writes_nothing(name, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), "--help"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage:") and "--help" in run.stdout
    assert list(tmp_path.iterdir()) == []  # no folder named --help, no outputs/


BAD_ARGUMENTS = [
    ("mnist_mlp", ["--epochs", "-1"], "argument --epochs: must be at least 1, got -1"),
    ("mnist_mlp", ["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    ("mnist_mlp", ["--lr", "0"], "argument --lr: must be greater than 0"),
    ("mnist_mlp", ["--preset", "fast"], "argument --preset: invalid choice"),
    ("mnist_mlp", ["--show", "0"], "argument --show: must be at least 1"),
    ("mnist_cnn", ["--channels", "0", "8"], "argument --channels: must be at least 1"),
    ("mnist_cnn", ["--epochs", "0"], "argument --epochs: must be at least 1"),
    ("mnist_lstm", ["--hidden", "-3"], "argument --hidden: must be at least 1"),
    ("mnist_lstm", ["--lr", "nan"], "argument --lr: must be finite"),
    ("mnist_transformer", ["--heads", "3"], "argument --heads: must divide --dim (64), got 3"),
    ("mnist_transformer", ["--patch", "5"], "argument --patch: invalid choice"),
    ("mnist_transformer", ["--dropout", "1"], "argument --dropout: must be below 1"),
    ("activations", ["--depth", "0"], "argument --depth: must be at least 1"),
    ("activations", ["--activations", "swish"], "argument --activations: invalid choice"),
    ("sparse_autoencoder", ["--rho", "1.5"], "argument --rho: must be below 1"),
    ("sparse_autoencoder", ["--batch-size", "0"], "argument --batch-size: must be at least 1"),
    ("logistic_regression_pima", ["--max-iters", "0"], "argument --max-iters: must be at least 1"),
    ("logistic_regression_pima", ["--lam", "-1"], "argument --lam: must be at least 0.0"),
    ("optimizers", ["--tol=-1e-8"], "argument --tol: must be greater than 0"),
    ("optimizers", ["--steps", "many"], "argument --steps: 'many' is not a whole number"),
    ("quickstart", ["--steps", "0"], "argument --steps: must be at least 1"),
    ("quickstart", ["--lr", "abc"], "argument --lr: 'abc' is not a number"),
    ("draw_graph", ["my/folder"], "unrecognized arguments: my/folder"),
]


@pytest.mark.parametrize(("name", "argv", "message"), BAD_ARGUMENTS)
def test_example_bad_value_is_a_usage_error(name, argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        load_example(name).main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:") and message in err, err
    assert list(tmp_path.iterdir()) == []  # nothing ran


# Ctrl-C: (example, its arguments, files it must have saved when interrupted early)
INTERRUPTIBLE = [
    ("mnist_mlp", [], ["mnist_mlp.npz", "curves.png", "first_layer_neurons.png"]),
    ("mnist_cnn", [], ["mnist_cnn.npz", "filters.png", "loss.png"]),
    ("mnist_lstm", [], ["mnist_lstm.npz", "loss.png", "reading.png"]),
    ("mnist_transformer", [], ["mnist_transformer.npz", "loss.png", "attention.png"]),
    ("activations", [], ["activations.png"]),
    ("sparse_autoencoder", [], ["features.png", "reconstructions.png"]),
    ("logistic_regression_pima", ["--max-iters", "100000", "--tol", "1e-300"], ["cost_curves.png"]),
    ("optimizers", ["--steps", "100000", "--tol", "1e-300"], ["rosenbrock.png"]),
]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize(("name", "argv", "saved"), INTERRUPTIBLE)
def test_example_ctrl_c_saves_what_there_is_and_exits_130(name, argv, saved, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *argv, "--out", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, deadline = [], time.monotonic() + 120
    for line in process.stdout:  # wait until training is under way
        lines.append(line)
        if "Ctrl-C stops after the current batch" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=120)
    stdout = "".join(lines) + rest
    assert process.returncode == 130, (stdout[-2000:], err[-2000:])
    assert "Traceback" not in err, err
    assert "stopping after this batch" in err
    assert "interrupted" in stdout and f"saved in {out}/" in stdout, stdout[-2000:]
    for file in saved:
        assert (out / file).stat().st_size > 1000, file
