"""The stage under real DVC: `dvc repro` fills the SQLite default, a second repro pushes
nothing new, and `dvc exp run` rows carry the experiment's name beside the revision."""

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from db_helpers import PUSH, Repo, clean_env

pytestmark = pytest.mark.slow  # every test here runs dvc

DVC = Path(sys.executable).with_name("dvc")


def sh(repo: Path, *args: str) -> str:
    env = clean_env(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(repo.parent / "dvc-site-cache"),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": f"{DVC.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def init_repo(repo: Repo) -> str:
    """A git + DVC repository holding only the push_db stage; returns its first commit."""
    root = repo.root
    stage = {
        "cmd": f"{sys.executable} {PUSH}",
        "deps": ["plots/history"],
        "params": ["db", "models"],
        "outs": ["data/push_db/receipt.json"],
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"push_db": stage}}))
    (root / ".gitignore").write_text("/data/\n")
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "init")
    return sh(root, "git", "rev-parse", "HEAD").strip()


def test_dvc_repro_and_exp_run_push_once_per_run(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    root = repo.root
    head = init_repo(repo)

    assert f"push_db: {repo.rows} rows into SQLite file" in sh(root, "dvc", "repro")
    assert "push_db:" not in sh(root, "dvc", "repro")  # unchanged: the stage is skipped
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "lock")
    lock_head = sh(root, "git", "rev-parse", "HEAD").strip()
    sh(root, "dvc", "exp", "run", "-n", "lr-high", "-S", "models.cnn.lr=0.001")

    with sqlite3.connect(repo.sqlite) as conn:
        runs = dict(conn.execute("SELECT run, COUNT(*) FROM training_logs GROUP BY run"))
        exp_names = {n for (n,) in conn.execute("SELECT DISTINCT exp_name FROM training_logs")}
    assert runs == {head: repo.rows, f"{lock_head}@lr-high": repo.rows}
    assert exp_names == {None, "lr-high"}


def test_parallel_queue_workers_share_the_workspace_database(
    make_repo: Callable[..., Repo],
) -> None:
    """Queued experiments run in temporary copies; DVC_ROOT sends their rows to the
    workspace's SQLite file, from two workers at once."""
    repo = make_repo()
    init_repo(repo)
    for lr in ("0.1", "0.01"):
        sh(repo.root, "dvc", "exp", "run", "--queue", "-S", f"models.cnn.lr={lr}")
    try:
        # The worker detaches and keeps inherited pipes open: give it none.
        sh(repo.root, "sh", "-c", "dvc queue start -j 2 >/dev/null 2>&1 </dev/null")
        for _ in range(240):
            status = sh(repo.root, "dvc", "queue", "status")
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(0.5)
    finally:
        sh(repo.root, "dvc", "queue", "stop")
    assert status.count("Success") == 2, status
    with sqlite3.connect(repo.sqlite) as conn:
        runs = dict(conn.execute("SELECT exp_name, COUNT(*) FROM training_logs GROUP BY 1"))
    assert len(runs) == 2 and set(runs.values()) == {repo.rows}, runs
    assert set(runs) <= set(status.split())  # the queue's experiment names
