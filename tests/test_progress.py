"""The training-loop progress bar (tinygrad_lite.data.progress) and its plain fallback."""

from tinygrad_lite.data import plain_progress, progress


def test_plain_progress_reports_every_tenth(capsys):
    items = list(plain_progress(range(20), 20, "epoch 1/1"))
    assert items == list(range(20))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and "20/20 batches" in lines[-1]


def test_progress_disabled_returns_the_iterable_itself():
    data = [1, 2, 3]
    assert progress(data, 3, enabled=False) is data
