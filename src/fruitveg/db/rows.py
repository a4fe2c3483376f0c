"""What a push stores: each model's epochs (from core.history) and the run they belong to."""

import math
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fruitveg.core.history import Epoch
from fruitveg.core.params import model_name
from fruitveg.db.backend import MAX_RUN, DbError


@dataclass(frozen=True)
class RunIdentity:
    """Which run the rows belong to: the git revision and, under `dvc exp`, the experiment."""

    git_rev: str | None
    exp_name: str | None

    @property
    def run(self) -> str:
        rev = self.git_rev or "no-git"
        return f"{rev}@{self.exp_name}" if self.exp_name else rev

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.run, "git_rev": self.git_rev, "exp_name": self.exp_name}


def _git_head(cwd: Path | None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):  # no git installed
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None  # not a repository, or no commit


def run_identity(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> RunIdentity:
    """The git revision (HEAD, or DVC's baseline under `dvc exp`) and DVC_EXP_NAME if set.

    `dvc exp run` (in the workspace or a queue worker) sets DVC_EXP_NAME and
    DVC_EXP_BASELINE_REV in the stage's environment; plain `dvc repro` sets neither.
    """
    environ = os.environ if environ is None else environ
    rev = environ.get("DVC_EXP_BASELINE_REV") or _git_head(cwd)
    identity = RunIdentity(git_rev=rev, exp_name=environ.get("DVC_EXP_NAME") or None)
    if len(identity.run) > MAX_RUN:
        raise DbError(f"run identity longer than {MAX_RUN} characters: {identity.run[:60]}...")
    exp = identity.exp_name
    if exp and exp != exp.rstrip():  # MySQL compares keys without trailing spaces
        raise DbError(f"DVC_EXP_NAME {exp!r} ends in white space: remove it")
    return identity


@dataclass(frozen=True)
class EpochRow:
    """One epoch as the table stores it: naive-UTC times, NULL for a non-finite number."""

    model_name: str
    epoch: int
    start_time: datetime
    end_time: datetime
    train_accuracy: float | None
    val_accuracy: float | None
    train_loss: float | None
    val_loss: float | None
    learning_rate: float | None


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)  # core.history has checked the form
    if moment.tzinfo is not None:  # stored as naive UTC (MySQL DATETIME has no zone)
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # MySQL DOUBLE holds no NaN or inf


def epoch_rows(model: str, history: list[Epoch]) -> list[EpochRow]:
    """One model's history (core.history.read) as table rows."""
    model_name(model)
    return [
        EpochRow(
            model_name=model,
            epoch=e.epoch,
            start_time=_utc(e.start_time),
            end_time=_utc(e.end_time),
            train_accuracy=_finite(e.accuracy),
            val_accuracy=_finite(e.val_accuracy),
            train_loss=_finite(e.loss),
            val_loss=_finite(e.val_loss),
            learning_rate=_finite(e.learning_rate),
        )
        for e in history
    ]
