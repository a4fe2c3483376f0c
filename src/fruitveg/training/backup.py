"""A model's resume state in data/train_backup/<model>/, outside the stage's outputs.

DVC deletes a stage's outputs before rerunning it, so everything needed to resume after a
kill lives here: Keras' BackupAndRestore state, the best weights so far and the history so
far, with a fingerprint of what they were made from. A rerun with the same fingerprint
carries on from the last finished epoch; any other starts afresh.
"""

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import tensorflow as tf

from fruitveg.core import history
from fruitveg.core.history import Epoch, HistoryError
from fruitveg.training.settings import TrainSettings


def fingerprint(s: TrainSettings) -> str:
    """What the backup was made from: settings, layout files and library versions."""
    layout = s.layout.root
    files = sorted(
        f"{f.relative_to(layout).as_posix()}:{f.stat().st_size}"
        for split in ("train", "validation")
        for f in (layout / split).rglob("*")
        if f.is_file()
    )
    weights = None
    if s.model.weights not in (None, "imagenet"):
        with open(s.model.weights, "rb") as fh:
            weights = hashlib.file_digest(fh, "sha256").hexdigest()
    blob = json.dumps(
        {
            "settings": asdict(s),
            "files": files,
            "weights_file": weights,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        sort_keys=True,
        default=str,  # the layout's Path
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Backup:
    """The resume state of one model in data/train_backup/<model>/."""

    root: Path

    @property
    def keras_dir(self) -> Path:  # BackupAndRestore owns this folder alone
        return self.root / "keras"

    @property
    def best_weights(self) -> Path:
        return self.root / "best.weights.h5"

    @property
    def history(self) -> Path:
        return self.root / "history.csv"

    @property
    def fingerprint(self) -> Path:
        return self.root / "fingerprint.txt"

    def restored_epoch(self) -> int:
        """Epochs finished in the saved state (what BackupAndRestore will resume after)."""
        meta = self.keras_dir / "training_metadata.json"
        if not meta.exists():
            return 0
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (ValueError, KeyError, TypeError):
            return 0

    def kept_history(self, epochs: int) -> list[Epoch]:
        """The first `epochs` rows of the history kept here; none if unreadable."""
        try:
            return history.read(self.history)[:epochs]
        except HistoryError:
            return []

    def open(self, fingerprint: str) -> tuple[int, list[Epoch]]:
        """Start afresh or resume; returns (finished epochs, their history rows)."""
        if self.root.exists():
            same = self.fingerprint.exists() and self.fingerprint.read_text() == fingerprint
            done = self.restored_epoch() if same else 0
            rows = self.kept_history(done) if done else []
            if done and len(rows) == done and self.best_weights.exists():
                return done, rows
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.fingerprint.write_text(fingerprint)
        return 0, []

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
