"""Helpers for the database tests: temporary stage directories and their environment."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from mariadb_server import DATABASE, PASSWORD, USER, MariaDB

REPO = Path(__file__).resolve().parents[2]
PUSH = REPO / "stages" / "push_db.py"
SHOW = REPO / "stages" / "show_logs.py"
MODELS = ("binary_cnn", "cnn", "resnet50")
EPOCHS = 4


def history_csv(model: str, epochs: int = EPOCHS, lr: float = 1e-4, shift: float = 0.0) -> str:
    lines = ["epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate"]
    for e in range(1, epochs + 1):
        lines.append(
            f"{e},2026-11-28T08:{e:02d}:00.123456+00:00,2026-11-28T08:{e:02d}:30.654321+00:00,"
            f"{1.0 / e + shift:.6f},{0.5 + e / 100 + shift:.6f},{1.1 / e:.6f},{0.4 + e / 100:.6f},"
            f"{lr}"
        )
    return "\n".join(lines) + "\n"


@dataclass
class Repo:
    root: Path
    models: tuple[str, ...]

    def write_params(self, db: dict) -> None:
        params = {"models": {m: {"lr": 1e-4} for m in self.models}, "db": db}
        (self.root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")

    def _cmd(self, script: Path, args: tuple[str, ...], env: dict[str, str] | None) -> dict:
        return {
            "args": [sys.executable, str(script), *args],
            "cwd": self.root,
            "env": clean_env(env),
            "text": True,
        }

    def push(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(**self._cmd(PUSH, (), env), capture_output=True, timeout=120)

    def show(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(**self._cmd(SHOW, args, env), capture_output=True, timeout=120)

    def start_push(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            **self._cmd(PUSH, (), env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    @property
    def sqlite(self) -> Path:
        return self.root / "data" / "push_db" / "training_logs.sqlite"

    def receipt(self) -> dict:
        return json.loads((self.root / "data" / "push_db" / "receipt.json").read_text())

    @property
    def rows(self) -> int:
        return len(self.models) * EPOCHS


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any database or DVC settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FRUITVEG_DB_", "DVC_EXP_")) and k != "DVC_ROOT"
    }
    return env | (extra or {})


def mysql_env(server: MariaDB, **extra: str) -> dict[str, str]:
    return {
        "FRUITVEG_DB_HOST": "127.0.0.1",
        "FRUITVEG_DB_PORT": str(server.port),
        "FRUITVEG_DB_NAME": DATABASE,
        "FRUITVEG_DB_USER": USER,
        "FRUITVEG_DB_PASSWORD": PASSWORD,
    } | extra


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pause_env(folder: Path, after_rows: int) -> dict[str, str]:
    """Make a push stop inside its transaction after `after_rows` rows (see fruitveg.db)."""
    folder.mkdir(exist_ok=True)
    return {
        "FRUITVEG_DB_TEST_PAUSE_AFTER_ROWS": str(after_rows),
        "FRUITVEG_DB_TEST_PAUSE_DIR": str(folder),
    }


def paused(folder: Path) -> int:
    return len(list(folder.glob("paused.*")))


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
