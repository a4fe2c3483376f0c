"""Helpers for the evaluation, report, review and learning-rate-sweep tests."""

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fruitveg.core.model_config import ModelConfig

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


def model_block(task: str, arch: str = "cnn", attention: str = "none", lr: str = "1.0e-4") -> str:
    """One model's block of params.yaml, in flow style."""
    backbone = ", weights: none, freeze_backbone: false" if arch != "cnn" else ""
    return (
        f"{{task: {task}, arch: {arch}, attention: {attention}, lr: {lr}, epochs: 2, "
        f"batch_size: 8, optimizer: adam, dropout: 0.5{backbone}}}"
    )


def config(name: str, task: str = "multiclass", arch: str = "cnn", **changes) -> ModelConfig:
    """A model's settings as core.model_config reads them from a block like model_block's."""
    fields = dict(attention="none", lr=1e-4, epochs=2, batch_size=8, optimizer="adam", dropout=0.5)
    return ModelConfig(name=name, task=task, arch=arch, **(fields | changes))


@pytest.fixture
def stage(monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """Run stages/<script> in this process, in the current folder: (exit code, out, err).

    As `python stages/<script> args...` would, less the start of a fresh interpreter (and
    of TensorFlow), which the pipeline test covers.
    """

    def run_stage(script: str, *args: str) -> tuple[int, str, str]:
        path = REPO / "stages" / script
        monkeypatch.setattr(sys, "argv", [str(path), *args])
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run_stage


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


def write_export(
    root: Path, model: str, keras_accuracy: float, n_test: int, skipped: bool = False
) -> None:
    """metrics/export/<model>.json as export@<model> writes it: Keras, three formats that
    converted (int8 one image worse) and one the converter refused; or a skipped model."""
    size = 4_000_000
    path = root / "metrics" / "export" / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if skipped:
        why = "its architecture, vgg16, is not in params.yaml export.archs"
        content = {"model": model, "skipped": why, "formats": []}
        path.write_text(json.dumps(content), encoding="utf-8")
        return

    def row(fmt: str, ratio: float, accuracy: float, latency: float) -> dict:
        change = 100 * (accuracy - keras_accuracy)
        return {"format": fmt, "status": "ok", "reason": None, "size_bytes": int(size * ratio),
                "size_ratio": ratio, "accuracy": accuracy, "accuracy_ci_low": accuracy / 2,
                "accuracy_ci_high": min(1, accuracy + 0.1), "change_points": change,
                "p_value": 1.0 if change == 0 else 1.0 / n_test, "agreement": 1 - abs(change) / 100,
                "latency_ms": latency, "latency_ratio": latency / 2.0,
                "images_per_s": 1000 / latency}  # fmt: skip

    formats = [
        row("keras", 1.0, keras_accuracy, 2.0),
        row("float32", 0.99, keras_accuracy, 1.0),
        row("float16", 0.5, keras_accuracy, 1.0),
        {"format": "dynamic_int8", "status": "failed", "reason": "converter: simulated"},
        row("int8", 0.25, keras_accuracy - 1 / n_test, 0.5),
    ]
    content = {"model": model, "n_test": n_test, "threads": 2, "formats": formats}
    path.write_text(json.dumps(content), encoding="utf-8")


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
