"""A model's resume state in data/train_backup/<model>/, outside the stage's outputs.

DVC deletes a stage's outputs before rerunning it, so everything needed to resume after a
kill lives here: Keras' BackupAndRestore state, the best weights so far and the history so
far, and a manifest that seals them, after each finished epoch, as one consistent state made
from a fingerprint of the inputs. A rerun with the same fingerprint and an intact sealed
state carries on from that epoch; anything else starts afresh, saying why.
"""

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import keras
import tensorflow as tf

from fruitveg.core import history
from fruitveg.core.atomic import write_json
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


class Resume(NamedTuple):
    """What Backup.open found: the epochs to carry on after, and why a backup was dropped."""

    epochs: int  # finished epochs (0: start afresh)
    rows: list[Epoch]  # their history rows
    discarded: str = ""  # why a backup found there was not used; "" when none was dropped


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class Backup:
    """The resume state of one model in data/train_backup/<model>/.

    Its files are written one by one at the end of each epoch (Keras' weights and epoch
    metadata, the best weights, the history), so a kill can leave them from different
    epochs. After the last of them, seal() records the epoch, the fingerprint and the
    SHA-256 of each in a manifest, written atomically; open() resumes only from a state
    that still matches its manifest.
    """

    root: Path
    fingerprint: str = ""  # what the state is made from; set by open(), sealed with it

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
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def keras_metadata(self) -> Path:
        return self.keras_dir / "training_metadata.json"

    def state_files(self) -> list[Path]:
        """Every file a resume reads."""
        weights = self.keras_dir / "latest.weights.h5"
        return [weights, self.keras_metadata, self.best_weights, self.history]

    def seal(self, epochs: int) -> None:
        """Record the state after `epochs` finished epochs, once all its files are written."""
        files = {
            f.relative_to(self.root).as_posix(): _sha256(f)
            for f in self.state_files()
            if f.is_file()
        }
        manifest = {"fingerprint": self.fingerprint, "epochs": epochs, "files": files}
        write_json(self.manifest, manifest)

    def _resumable(self) -> Resume:
        """The sealed state, or Resume(0, [], why not)."""
        if not self.manifest.is_file():
            return Resume(0, [], "no finished epoch was recorded")
        try:
            manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
            epochs, files = int(manifest["epochs"]), dict(manifest["files"])
            same = manifest["fingerprint"] == self.fingerprint
        except (ValueError, KeyError, TypeError):
            return Resume(0, [], f"{self.manifest.name} is unreadable")
        if not same:
            return Resume(0, [], "it was made from other settings, layout files or libraries")
        for f in self.state_files():
            name = f.relative_to(self.root).as_posix()
            if name not in files:
                return Resume(0, [], f"{name} was not written")
            if not f.is_file():
                return Resume(0, [], f"{name} is missing")
            if _sha256(f) != files[name]:
                return Resume(0, [], f"{name} differs from the one saved after epoch {epochs}")
        try:
            meta_epochs = json.loads(self.keras_metadata.read_text(encoding="utf-8"))["epoch"]
            rows = history.read(self.history)
        except (ValueError, KeyError, TypeError, HistoryError):
            return Resume(0, [], "its Keras metadata or history is unreadable")
        if not epochs or meta_epochs != epochs or len(rows) != epochs:
            return Resume(0, [], f"its parts disagree on the epochs finished (manifest: {epochs})")
        return Resume(epochs, rows)

    def open(self, fingerprint: str, resume: bool = True) -> Resume:
        """Carry on from a sealed, unchanged state made from the same fingerprint; else
        (or when not to resume) remove whatever is there and start afresh."""
        self.fingerprint = fingerprint
        if not self.root.exists():
            self.root.mkdir(parents=True)
            return Resume(0, [])
        found = self._resumable() if resume else Resume(0, [], "multi-worker runs never resume")
        if found.epochs:
            return found
        shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        return found

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
