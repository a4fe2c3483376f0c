"""Kill `dvc repro` mid-training with SIGKILL; the next `dvc repro` resumes and ends the same."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .helpers import REPO, env, history_values, make_params, run, write_layout, write_params

pytestmark = pytest.mark.slow  # dvc repro in subprocesses, three epochs trained twice


def stages() -> dict:
    """The train stage exactly as dvc.yaml declares it (command, code deps, params, outs),
    and check_params, whose output it depends on."""
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: declared[name] for name in ("check_params", "train")}


def make_repo(root: Path) -> None:
    """A git + DVC repository holding the train stage, its code and one tiny model."""
    root.mkdir()
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "test@example.com")
    run(root, "git", "config", "user.name", "test")
    run(root, sys.executable, "-m", "dvc", "init", "-q")
    pipeline = stages()
    deps = dict.fromkeys(pipeline["check_params"]["deps"] + pipeline["train"]["do"]["deps"])
    made = {
        next(iter(out)) if isinstance(out, dict) else out
        for out in pipeline["check_params"]["outs"]
    }
    for dep in deps:
        if "${" in dep or dep in made:  # the layout, written below; check_params' output
            continue
        (root / dep).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / dep).is_dir():
            shutil.copytree(REPO / dep, root / dep, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / dep, root / dep)
    shutil.copy2(REPO / ".dvcignore", root / ".dvcignore")  # no bytecode in the code deps
    # ~90 small steps an epoch: long enough to be killed inside an epoch, short to run.
    write_layout(root, "multiclass", ("a", "b", "c"), {"train": 60, "validation": 6}, size=40)
    p = make_params(cnn={"epochs": 3, "batch_size": 2})
    p["models"] = {"cnn": p["models"]["cnn"]}
    p["tasks"] = ["multiclass"]  # check_params: cnn's task
    write_params(root, p)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": pipeline}, sort_keys=False))
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "tiny pipeline")


def code_env(root: Path) -> dict[str, str]:
    """The stage imports the package copied into `root`: only the code its deps name."""
    return {"PYTHONPATH": str(root / "src")}


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "dvc", *args, **code_env(root))


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
            env=env(root, **code_env(root)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        saved = root / "data/train_backup/cnn/manifest.json"
        while not saved.exists():  # epoch 1's backup is sealed: epoch 2 is starting
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
    # dvclive's summary (a plain output, not a DVC metric) counts the replayed epochs too.
    metrics = json.loads((root / "metrics/train/cnn/metrics.json").read_text())
    assert metrics["step"] == 2 and "accuracy" in metrics["eval"]
