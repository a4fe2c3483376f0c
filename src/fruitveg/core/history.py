"""The per-epoch training history: one CSV per model, plots/history/<model>.csv.

Training writes it, evaluation draws its curves, the report sums its durations and
push_db stores it; this module alone knows its columns and how to read and write it.
"""

import csv
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

from fruitveg.core.atomic import atomic_file
from fruitveg.core.errors import PipelineError


class HistoryError(PipelineError):
    """A history file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Epoch:
    epoch: int  # from 1
    start_time: str  # ISO 8601, UTC
    end_time: str
    loss: float  # NaN where training diverged
    accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float

    @property
    def seconds(self) -> float:
        start, end = datetime.fromisoformat(self.start_time), datetime.fromisoformat(self.end_time)
        return (end - start).total_seconds()


COLUMNS = tuple(f.name for f in fields(Epoch))
METRICS = COLUMNS[3:]  # loss .. learning_rate


def _parse(rec: dict[str, str], where: str) -> Epoch:
    try:
        epoch = int(rec["epoch"])
        for key in ("start_time", "end_time"):
            datetime.fromisoformat(rec[key])
        values = [float(rec[k]) for k in METRICS]
    except (TypeError, ValueError) as exc:
        raise HistoryError(f"{where}: {exc}") from None
    if epoch < 1:
        raise HistoryError(f"{where}: epoch {epoch} is below 1")
    return Epoch(epoch, rec["start_time"], rec["end_time"], *values)


def read(path: Path) -> list[Epoch]:
    """Every epoch of a history file, in order; errors name the file and line."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise HistoryError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = [_parse(rec, f"{path}, line {n}") for n, rec in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise HistoryError(f"{path}: training history not found (dvc repro)") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise HistoryError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise HistoryError(f"{path}: no epochs recorded")
    if [r.epoch for r in rows] != list(range(1, len(rows) + 1)):
        raise HistoryError(f"{path}: epochs must run 1, 2, 3, ... without gaps or repeats")
    return rows


def write(path: Path, rows: list[Epoch]) -> None:
    with atomic_file(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(astuple(r) for r in rows)


def train_seconds(rows: list[Epoch]) -> float:
    """Time spent in the epochs themselves (a resumed run's pause is not training time)."""
    return sum(r.seconds for r in rows)
