"""Helpers for the evaluation, report, review and learning-rate-sweep tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HISTORY_HEADER = "epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate\n"


def env(cwd: Path) -> dict[str, str]:
    """This interpreter's folder first on PATH (stages call `python`); DVC state in `cwd`."""
    return os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def run(cwd: Path, *args: str, check: bool = True, timeout: float = 300):
    done = subprocess.run(
        args, cwd=cwd, env=env(cwd), capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def write_history(root: Path, model: str, rows: list[tuple[float, float, float, float]]) -> None:
    """plots/history/<model>.csv with one 10-second epoch per (loss, acc, val_loss, val_acc)."""
    lines = [HISTORY_HEADER]
    for epoch, (loss, acc, val_loss, val_acc) in enumerate(rows, start=1):
        start = f"2026-11-28T08:{epoch:02d}:00.000000+00:00"
        end = f"2026-11-28T08:{epoch:02d}:10.000000+00:00"
        lines.append(f"{epoch},{start},{end},{loss},{acc},{val_loss},{val_acc},0.0001\n")
    path = root / "plots" / "history" / f"{model}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def git_dvc_repo(tmp_path: Path) -> Path:
    """An empty git + DVC repository with a local identity (dvc exp commits)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run(repo, "git", "init", "-q", "-b", "main")
    run(repo, "git", "config", "user.name", "test")
    run(repo, "git", "config", "user.email", "test@example.invalid")
    run(repo, sys.executable, "-m", "dvc", "init", "-q")
    return repo
