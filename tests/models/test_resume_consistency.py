"""A backup whose files come from different epochs is never resumed from.

Keras writes the backup's weights and its epoch metadata as two files; a kill between
the two leaves the weights of epoch 2 beside metadata saying epoch 1. Resuming from that
would train epochs 2 and 3 again from epoch 2's weights: a different history, no error.
"""

import shutil
from pathlib import Path

import pytest

from fruitveg.training import callbacks
from fruitveg.training.loop import train
from fruitveg.training.settings import train_settings

from .helpers import history_values, make_params, write_layout

LABELS = ("apple", "banana", "corn")
BACKUP = Path("data/train_backup/cnn")


class Killed(BaseException):
    """Stands for SIGKILL: nothing in train() catches it."""


@pytest.mark.slow  # trains eight tiny epochs: about 20 s on two cores
def test_weights_of_a_later_epoch_beside_earlier_metadata_restart_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    p = make_params(cnn={"epochs": 3})
    for name in ("whole", "mixed"):
        write_layout(tmp_path / name, "multiclass", LABELS, {"train": 5, "validation": 2})
    monkeypatch.chdir(tmp_path / "whole")
    train(train_settings(p, "cnn"), verbose=False)
    reference = history_values(tmp_path / "whole/plots/history/cnn.csv")

    # A run that keeps its backup after epoch 1, then dies once epoch 2 is saved.
    monkeypatch.chdir(tmp_path / "mixed")
    after_epoch_1 = tmp_path / "after_epoch_1"
    begin = callbacks.EpochSeeds.on_epoch_begin

    def snapshot_then_die(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:  # EpochSeeds runs first: epoch 1's backup is complete
            shutil.copytree(BACKUP, after_epoch_1)
        if epoch == 2:
            raise Killed
        begin(self, epoch, logs)

    with monkeypatch.context() as patch:
        patch.setattr(callbacks.EpochSeeds, "on_epoch_begin", snapshot_then_die)
        with pytest.raises(Killed):
            train(train_settings(p, "cnn"), verbose=False)
    later = (BACKUP / "keras/latest.weights.h5").read_bytes()
    shutil.rmtree(BACKUP)
    shutil.copytree(after_epoch_1, BACKUP)
    (BACKUP / "keras/latest.weights.h5").write_bytes(later)  # epoch 2's weights, epoch 1's rest
    capsys.readouterr()

    summary = train(train_settings(p, "cnn"), verbose=False)
    out = capsys.readouterr().out
    assert "resuming" not in out
    assert (
        f"starting afresh: the backup in {BACKUP} was removed, "
        "keras/latest.weights.h5 differs from the one saved after epoch 1"
    ) in out
    assert "cnn epoch 1/3" in out
    assert history_values(Path("plots/history/cnn.csv")) == reference
    assert summary["epochs"] == 3
    assert not Path("data/train_backup").exists()
