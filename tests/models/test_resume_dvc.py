"""Kill `dvc repro` mid-training with SIGKILL; the next `dvc repro` resumes and ends the same."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .helpers import TRAIN_SCRIPT, env, history_values, make_params, run, write_layout, write_params

# The train stage as the pipeline declares it (the lead's dvc.yaml), for one model here.
DVC_YAML = """\
stages:
  train:
    foreach: ${{models}}
    do:
      cmd: {python} {script} ${{key}}
      deps:
        - data/layouts/${{item.task}}
      params:
        - seed
        - train
        - models.${{key}}
      outs:
        - data/models/${{key}}
        - plots/history/${{key}}.csv:
            cache: false
        - metrics/train/${{key}}:
            cache: false
metrics:
  - metrics/train/cnn/metrics.json
"""


def make_repo(root: Path) -> None:
    root.mkdir()
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "test@example.com")
    run(root, "git", "config", "user.name", "test")
    run(root, sys.executable, "-m", "dvc", "init", "-q")
    # ~90 small steps an epoch: long enough to be killed inside an epoch, short to run.
    write_layout(root, "multiclass", ("a", "b", "c"), {"train": 60, "validation": 6}, size=40)
    p = make_params(cnn={"epochs": 3, "batch_size": 2})
    p["models"] = {"cnn": p["models"]["cnn"]}
    write_params(root, p)
    (root / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable, script=TRAIN_SCRIPT))
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "tiny pipeline")


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "dvc", *args)


def history_rows(path: Path) -> int:
    try:
        return max(len(path.read_text().splitlines()) - 1, 0)
    except FileNotFoundError:
        return 0


def test_sigkill_mid_epoch_then_repro_resumes_to_the_same_history(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repo(root)
    history = root / "plots/history/cnn.csv"
    dvc(root, "repro")
    reference = history_values(history)
    assert len(reference) == 4  # header + 3 epochs

    # Rerun from scratch and SIGKILL dvc and the stage together once epoch 1 is written.
    with (tmp_path / "killed.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro", "--force"],
            cwd=root,
            env=env(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        saved = root / "data/train_backup/cnn/keras/training_metadata.json"
        while not saved.exists():  # BackupAndRestore has saved epoch 1: epoch 2 is starting
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)  # into epoch 2 (about a second long here)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = history_rows(history)
    assert 1 <= finished < 3, f"killed too late: {finished} epochs finished"
    backup = root / "data/train_backup/cnn"
    meta = json.loads((backup / "keras/training_metadata.json").read_text())
    assert meta["epoch"] == finished

    resumed = dvc(root, "repro")
    assert f"resuming after epoch {finished} from data/train_backup/cnn" in resumed.stdout
    assert f"cnn epoch {finished}/3" not in resumed.stdout
    assert "cnn epoch 3/3" in resumed.stdout
    assert history_values(history) == reference
    assert not backup.exists()
    assert not (root / "data/train_backup").exists()
    assert "up to date" in dvc(root, "status").stdout
    shown = json.loads(dvc(root, "metrics", "show", "--json").stdout)
    metrics = next(iter(shown.values()))["data"]["metrics/train/cnn/metrics.json"]["data"]
    assert metrics["step"] == 2 and "accuracy" in metrics["eval"]
