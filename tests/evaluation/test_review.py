"""scripts/review.py: metrics and params diff between two commits of a real DVC repository."""

import json
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run

REVIEW = str(REPO / "scripts" / "review.py")
pytestmark = pytest.mark.slow  # starts dvc and git


def commit(repo: Path, accuracy: float, lr: str, message: str) -> str:
    (repo / "params.yaml").write_text(f"models:\n  cnn:\n    lr: {lr}\n", encoding="utf-8")
    metrics = repo / "metrics" / "eval" / "cnn.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"accuracy": accuracy, "loss": 0.3}), encoding="utf-8")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)
    return run(repo, "git", "rev-parse", "--short", "HEAD").stdout.strip()


def test_review_shows_a_changed_metric_and_param_between_two_commits(git_dvc_repo):
    repo = git_dvc_repo
    (repo / "dvc.yaml").write_text(
        "params:\n  - params.yaml\nmetrics:\n  - metrics/eval/cnn.json\n", encoding="utf-8"
    )
    old = commit(repo, 0.9, "1.0e-4", "baseline")
    new = commit(repo, 0.925, "1.0e-3", "higher learning rate")

    out = run(repo, sys.executable, REVIEW, old, new).stdout
    assert f"## DVC review: `{old}` → `{new}`" in out
    metrics_part, params_part = out.split("### Parameters")
    rows = [line.split("|")[1:-1] for line in metrics_part.splitlines() if "cnn.json" in line]
    assert [[c.strip() for c in row] for row in rows] == [
        ["metrics/eval/cnn.json", "accuracy", "0.9", "0.925", "0.025"]
    ]  # loss did not change, so it is not listed
    assert "| params.yaml | models.cnn.lr | 0.0001    | 0.001     |" in params_part

    same = run(repo, sys.executable, REVIEW, new, new).stdout
    assert "No metrics changed." in same and "No params changed." in same

    bad = run(repo, sys.executable, REVIEW, "no-such-rev", check=False)
    assert bad.returncode == 1 and "no-such-rev" in bad.stderr
