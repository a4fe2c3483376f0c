"""The resume state: a rerun carries on only from a sealed, unchanged state of the same inputs."""

import json
from collections.abc import Callable
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


def saved(root: Path, fp: str, finished: int, rows: int | None = None) -> Backup:
    """A backup as a run killed after `finished` epochs leaves it: every file, then sealed."""
    backup = Backup(root)
    backup.open(fp)
    backup.keras_dir.mkdir()
    backup.keras_metadata.write_text(json.dumps({"epoch": finished, "batch": 0}))
    (backup.keras_dir / "latest.weights.h5").write_bytes(b"weights %d" % finished)
    history.write(backup.history, epochs(finished if rows is None else rows))
    backup.best_weights.write_bytes(b"best")
    backup.seal(finished)
    return backup


def test_a_fresh_backup_is_an_empty_folder(tmp_path: Path) -> None:
    backup = Backup(tmp_path / "cnn")
    assert backup.open("abc") == (0, [], "")
    assert list(backup.root.iterdir()) == []
    backup.remove()
    assert not backup.root.exists()


def test_a_sealed_unchanged_state_resumes_with_its_history(tmp_path: Path) -> None:
    saved(tmp_path / "cnn", "abc", finished=2)
    backup = Backup(tmp_path / "cnn")
    assert backup.open("abc") == (2, epochs(2), "")
    assert backup.best_weights.exists() and backup.manifest.exists()


def later_weights(backup: Backup) -> None:
    """Weights of epoch 3 beside the metadata of epoch 2: killed between Keras' two writes."""
    (backup.keras_dir / "latest.weights.h5").write_bytes(b"weights 3")


def later_history(backup: Backup) -> None:
    history.write(backup.history, epochs(3))


def no_manifest(backup: Backup) -> None:
    backup.manifest.unlink()


def broken_manifest(backup: Backup) -> None:
    backup.manifest.write_text('{"epochs": 2, "files":')


def no_best(backup: Backup) -> None:
    backup.best_weights.unlink()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (later_weights, "keras/latest.weights.h5 differs from the one saved after epoch 2"),
        (later_history, "history.csv differs from the one saved after epoch 2"),
        (no_best, "best.weights.h5 is missing"),
        (no_manifest, "no finished epoch was recorded"),
        (broken_manifest, "manifest.json is unreadable"),
    ],
)
def test_a_state_that_changed_after_its_seal_starts_afresh_saying_why(
    tmp_path: Path, change: Callable[[Backup], None], reason: str
) -> None:
    change(saved(tmp_path / "cnn", "abc", finished=2))
    backup = Backup(tmp_path / "cnn")
    assert backup.open("abc") == (0, [], reason)
    assert list(backup.root.iterdir()) == []


def test_other_settings_start_afresh(tmp_path: Path) -> None:
    saved(tmp_path / "cnn", "abc", finished=2)
    resume = Backup(tmp_path / "cnn").open("other")
    assert resume == (0, [], "it was made from other settings, layout files or libraries")


def test_parts_sealed_from_different_epochs_start_afresh(tmp_path: Path) -> None:
    """Sealed as written, yet the history does not hold the epochs the metadata says."""
    saved(tmp_path / "cnn", "abc", finished=2, rows=1)
    resume = Backup(tmp_path / "cnn").open("abc")
    assert resume == (0, [], "its parts disagree on the epochs finished (manifest: 2)")


def test_an_unreadable_history_starts_afresh(tmp_path: Path) -> None:
    backup = saved(tmp_path / "cnn", "abc", finished=1)
    backup.history.write_text("not,a,history\n")
    backup.seal(1)
    assert Backup(backup.root).open("abc") == (
        0,
        [],
        "its Keras metadata or history is unreadable",
    )


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
