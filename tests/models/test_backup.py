"""The resume state: when a rerun carries on, and when it starts afresh."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fruitveg.core import history
from fruitveg.core.history import Epoch
from fruitveg.training.backup import Backup, fingerprint
from fruitveg.training.settings import train_settings

from .helpers import make_params, write_layout


def epochs(n: int) -> list[Epoch]:
    t = "2024-01-01T00:00:0{}.000000+00:00"
    row = (1.0, 0.5, 1.1, 0.4, 1e-3)  # loss, accuracy, val_loss, val_accuracy, lr
    return [Epoch(e, t.format(e - 1), t.format(e), *row) for e in range(1, n + 1)]


def saved(root: Path, fp: str, finished: int, rows: int, best: bool = True) -> Backup:
    """A backup as a run killed after `finished` epochs leaves it."""
    backup = Backup(root)
    backup.open(fp)
    backup.keras_dir.mkdir()
    (backup.keras_dir / "training_metadata.json").write_text(json.dumps({"epoch": finished}))
    history.write(backup.history, epochs(rows))
    if best:
        backup.best_weights.write_bytes(b"weights")
    return backup


def test_a_fresh_backup_records_its_fingerprint(tmp_path: Path) -> None:
    backup = Backup(tmp_path / "cnn")
    assert backup.open("abc") == (0, [])
    assert backup.fingerprint.read_text() == "abc"
    backup.remove()
    assert not backup.root.exists()


def test_the_same_fingerprint_resumes_with_the_kept_history(tmp_path: Path) -> None:
    backup = saved(tmp_path / "cnn", "abc", finished=2, rows=3)  # a third row half-written
    assert backup.open("abc") == (2, epochs(2))
    assert backup.best_weights.exists()


@pytest.mark.parametrize(
    "fp, finished, rows, best",
    [
        ("other", 2, 2, True),  # settings, layout or libraries changed
        ("abc", 2, 1, True),  # history behind the Keras state
        ("abc", 2, 2, False),  # no best weights yet
        ("abc", 0, 0, True),  # killed inside the first epoch
    ],
)
def test_anything_else_starts_afresh(
    tmp_path: Path, fp: str, finished: int, rows: int, best: bool
) -> None:
    backup = saved(tmp_path / "cnn", "abc", finished, rows, best)
    assert backup.open(fp) == (0, [])
    assert sorted(p.name for p in backup.root.iterdir()) == ["fingerprint.txt"]
    assert backup.fingerprint.read_text() == fp


def test_an_unreadable_history_starts_afresh(tmp_path: Path) -> None:
    backup = saved(tmp_path / "cnn", "abc", finished=1, rows=1)
    backup.history.write_text("not,a,history\n")
    assert backup.open("abc") == (0, [])


def test_the_fingerprint_follows_settings_and_layout_files(repo: Path) -> None:
    layout = write_layout(repo, "multiclass", ("a", "b"), {"train": 2, "validation": 1, "test": 1})
    s = train_settings(make_params(), "cnn")
    fp = fingerprint(s)
    assert fingerprint(train_settings(make_params(), "cnn")) == fp
    assert fingerprint(replace(s, seed=8)) != fp
    assert fingerprint(replace(s, model=replace(s.model, lr=2e-3))) != fp
    (layout / "test" / "a" / "extra.jpg").write_bytes(b"x")  # test images don't matter
    assert fingerprint(s) == fp
    (layout / "train" / "a" / "extra.jpg").write_bytes(b"x")
    assert fingerprint(s) != fp
