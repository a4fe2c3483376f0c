"""Two learning-rate experiments of one model on the real pipeline (tiny configuration):
the documented `dvc exp show` fits in 120 columns, and a rerun of the same commit on the
same machine leaves `dvc metrics diff` empty (no timing among the DVC metrics)."""

import csv
import io
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..repo_copy import copy_repo
from .conftest import REPO, env, run

pytestmark = pytest.mark.slow  # runs the whole pipeline three times, on tiny data
MODELS = ("binary_cnn", "cnn", "cnn_attention")


def exp_show_args() -> list[str]:
    """The invocation README.md's "Experiments and review" documents, as arguments."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Experiments and review")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if "exp show" in line]
    documented = [line.strip() for line in lines if "--only-changed" in line]
    assert documented, "README.md documents no `dvc exp show --only-changed ...`"
    args = shlex.split(documented[0].split("#")[0])
    assert args[:3] == ["dvc", "exp", "show"]
    return args[1:]


def in_terminal(cwd: Path, args: list[str], columns: int) -> str:
    """What `args` print in a terminal `columns` wide (DVC sizes its table to a terminal)."""
    leader, follower = pty.openpty()
    done = subprocess.run(
        args, cwd=cwd, env=env(cwd) | {"COLUMNS": str(columns), "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE, timeout=120,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower is closed and everything read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 0, done.stderr
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # bold and colours: no width on screen


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exp") / "repo"
    copy_repo(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["synthetic"] = {"train": 3, "validation": 2, "test": 2, "leaks": 2}
    params["layout"]["image_size"] = 32
    params["models"] = {k: v | {"epochs": 1, "batch_size": 16} for k, v in
                        params["models"].items() if k in MODELS}  # fmt: skip
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q", "-b", "main")
    run(root, "git", "config", "user.name", "test")
    run(root, "git", "config", "user.email", "test@example.invalid")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "tiny")
    run(root, "dvc", "repro", "-q", timeout=900)
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "first run")
    return root


def test_a_rerun_of_the_same_commit_leaves_no_metrics_diff(repo: Path) -> None:
    run(repo, "dvc", "repro", "-f", "-q", timeout=900)  # every stage again, training too
    assert run(repo, "dvc", "metrics", "diff").stdout.strip() == ""
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "second run", check=False)  # timings, history times


def test_one_models_learning_rate_sweep_reads_in_120_columns(repo: Path) -> None:
    for name, rate in (("cnn-lr-1e-2", "0.01"), ("cnn-lr-1e-4", "0.0001")):
        run(repo, "dvc", "exp", "run", "-q", "-n", name, "-S", f"models.cnn.lr={rate}", timeout=900)
    args = exp_show_args()
    table = run(repo, sys.executable, "-m", "dvc", *args, "--csv").stdout
    header = next(csv.reader(io.StringIO(table)))
    # --csv adds rev and typ, which the table folds into the Experiment column.
    shown = [c for c in header if c not in ("Experiment", "rev", "typ")]
    assert "models.cnn.lr" in shown and "cnn.loss" in shown, header
    assert set(shown) <= {"models.cnn.lr", "cnn.accuracy", "cnn.acc_low", "cnn.acc_high",
                          "cnn.loss", "cnn.f1_macro"}, header  # fmt: skip
    printed = in_terminal(repo, [sys.executable, "-m", "dvc", *args, "--no-pager"], 120)
    print(f"\n$ {shlex.join(['dvc', *args])}\n{printed}")
    assert "…" not in printed and max(map(len, printed.splitlines())) <= 120, printed
    assert printed.count("0.01") >= 1 and printed.count("0.0001") >= 1
