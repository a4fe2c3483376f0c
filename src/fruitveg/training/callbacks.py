"""The Keras callbacks of a training run that are the pipeline's own."""

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fruitveg.core import history
from fruitveg.core.errors import PipelineError
from fruitveg.core.history import Epoch
from fruitveg.training.backup import Backup
from fruitveg.training.settings import TrainSettings


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _as_float32(value: Any) -> float:
    # The optimizer keeps the rate as float32; print it as the number params.yaml gave.
    return float(str(np.float32(value)))


class EpochHistory(keras.callbacks.Callback):
    """Per-epoch history rows, written to the backup and the published CSV every epoch.

    It also adds the learning rate to the epoch's logs (for dvclive) and, when stdout is
    not a terminal, prints one concise line per epoch.
    """

    def __init__(
        self, s: TrainSettings, rows: list[Epoch], targets: list[Path], concise: bool
    ) -> None:
        super().__init__()
        self.s = s
        self.rows = rows
        self.targets = targets
        self.concise = concise
        self._start = ""
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch != len(self.rows):  # Keras fell back to an older backup than the one read
            raise RuntimeError(
                f"{self.s.name}: resumed at epoch {epoch + 1}, but the history kept holds "
                f"{len(self.rows)} epochs; the backup has changed, run the stage again"
            )
        self._start = _now()
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        lr = _as_float32(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["learning_rate"] = lr
        row = Epoch(
            epoch=epoch + 1,
            start_time=self._start,
            end_time=_now(),
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            val_loss=float(logs["val_loss"]),
            val_accuracy=float(logs["val_accuracy"]),
            learning_rate=lr,
        )
        best = max((r.val_accuracy for r in self.rows), default=-math.inf)
        self.rows.append(row)
        for target in self.targets:
            history.write(target, self.rows)
        if self.concise:
            mark = "  *best" if row.val_accuracy > best else ""
            print(
                f"{self.s.name} epoch {epoch + 1}/{self.s.model.epochs}: loss {row.loss:.4f} "
                f"accuracy {row.accuracy:.4f} val_loss {row.val_loss:.4f} "
                f"val_accuracy {row.val_accuracy:.4f} lr {lr:g} "
                f"{time.perf_counter() - self._t0:.1f}s{mark}",
                flush=True,
            )


class EpochSeeds(keras.callbacks.Callback):
    """Set every random layer's seed state from the epoch number at the start of each epoch.

    Dropout and augmentation draw from SeedGenerator states that Keras does not save with
    the weights; a resumed run would otherwise restart them and differ from an uninterrupted
    one. Keyed by (initial seed, epoch), epoch e draws the same numbers either way.
    """

    STEP_SPAN = 2**20  # counter values reserved per epoch (calls per epoch stay far below)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._states = [v for v in self.model.variables if "seed_generator_state" in v.path]
        self._initial = [np.array(keras.ops.convert_to_numpy(v))[0] for v in self._states]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for state, seed in zip(self._states, self._initial, strict=True):
            state.assign(np.array([seed, epoch * self.STEP_SPAN], dtype=state.dtype))


class SealBackup(keras.callbacks.Callback):
    """Seal the backup's state (training.backup) at the end of each epoch. Must come after
    every callback that writes a file of that state, BackupAndRestore included."""

    def __init__(self, backup: Backup) -> None:
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.backup.seal(epoch + 1)


class StopOnNaN(keras.callbacks.Callback):
    """End the run at the first loss that is not finite: the weights have diverged (a
    learning rate too high) and every later epoch, checkpoint and evaluation would be NaN.

    First among the callbacks, so that no other one saves anything of that epoch. The
    batch losses are Python numbers already (ModelCheckpoint makes the callbacks run in
    step with training), so the check costs nothing.
    """

    def __init__(self, s: TrainSettings) -> None:
        super().__init__()
        self.s = s
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        steps = (self.params or {}).get("steps")
        self._check((logs or {}).get("loss"), f"batch {batch + 1}/{steps or '?'}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # The last batch's update can make the weights NaN with every loss before finite.
        self._check((logs or {}).get("val_loss"), "validation", "validation loss")

    def _check(self, value: Any, where: str, what: str = "loss") -> None:
        if value is None or math.isfinite(float(value)):
            return
        m = self.s.model
        raise PipelineError(
            f"{m.name}: training diverged: the {what} is {float(value)} in epoch "
            f"{self._epoch + 1}/{m.epochs}, {where}; lower models.{m.name}.lr ({m.lr:g}, "
            f"{m.optimizer}) and run again. No model was written"
        )
