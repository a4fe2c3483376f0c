"""scripts/review.py: metrics and params diff between two commits of a real DVC repository,
and whether per-image test predictions changed beyond run-to-run variation."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fruitveg.evaluation.statistics import holm, mcnemar_exact

from .conftest import REPO, run

REVIEW = str(REPO / "scripts" / "review.py")


def commit(repo: Path, accuracy: float, lr: str, message: str) -> str:
    (repo / "params.yaml").write_text(f"models:\n  cnn:\n    lr: {lr}\n", encoding="utf-8")
    metrics = repo / "metrics" / "eval" / "cnn.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"accuracy": accuracy, "loss": 0.3}), encoding="utf-8")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)
    return run(repo, "git", "rev-parse", "--short", "HEAD").stdout.strip()


@pytest.mark.slow  # starts dvc and git
def test_review_shows_a_changed_metric_and_param_between_two_commits(git_dvc_repo):
    repo = git_dvc_repo
    (repo / "dvc.yaml").write_text(
        "params:\n  - params.yaml\nmetrics:\n  - metrics/eval/cnn.json\n", encoding="utf-8"
    )
    old = commit(repo, 0.9, "1.0e-4", "baseline")
    new = commit(repo, 0.925, "1.0e-3", "higher learning rate")

    out = run(repo, sys.executable, REVIEW, old, new).stdout
    assert f"## DVC review: `{old}` → `{new}`" in out
    params_part, metrics_part = out.split("### Parameters")[1].split("### Headline metrics")
    rows = [line.split("|")[1:-1] for line in metrics_part.splitlines() if "cnn.json" in line]
    assert [[c.strip() for c in row] for row in rows] == [
        ["metrics/eval/cnn.json", "accuracy", "0.9", "0.925", "0.025"]
    ]  # loss did not change, so it is not listed
    assert "| params.yaml | models.cnn.lr | 0.0001    | 0.001     |" in params_part

    same = run(repo, sys.executable, REVIEW, new, new).stdout
    assert "No metrics changed." in same and "No params changed." in same

    bad = run(repo, sys.executable, REVIEW, "no-such-rev", check=False)
    assert bad.returncode == 1 and "no-such-rev" in bad.stderr


def load_review():
    spec = importlib.util.spec_from_file_location("review", REVIEW)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def predictions(wrong: set[int], n: int = 100) -> str:
    """A predictions CSV of n images, `wrong` the indices answered wrongly."""
    rows = ["path,actual,predicted,confidence"]
    rows += [f"a/{i}.jpg,a,{'b' if i in wrong else 'a'},0.9" for i in range(n)]
    return "\n".join(rows) + "\n"


def test_review_statistics_match_the_packages():
    review = load_review()
    for only_old, only_new in [(0, 0), (0, 3), (9, 2), (5, 5), (40, 60), (1, 200)]:
        old = [True] * only_old + [False] * only_new + [True] * 10
        new = [False] * only_old + [True] * only_new + [True] * 10
        expected = mcnemar_exact(np.array(old), np.array(new))[2]
        assert review.mcnemar_p(only_old, only_new) == pytest.approx(expected, rel=1e-12)
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    assert review.holm(p) == pytest.approx(holm(p))


def test_review_tells_run_to_run_noise_from_a_change():
    review = load_review()
    base = predictions({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
    old = {"cnn": base, "vgg16": base, "resnet50": base, "gone": base}
    new = {
        "cnn": base,  # identical
        "vgg16": predictions({1, 2, 3, 4, 5, 6, 7, 8, 11, 12}),  # two images swap
        "resnet50": predictions(set(range(1, 31))),  # 20 more wrong, none fewer
    }
    rows = {r["model"]: r for r in review.compare(old, new)}
    assert set(rows) == {"cnn", "vgg16", "resnet50"}  # only models in both
    assert rows["cnn"]["changed_predictions"] == 0 and rows["cnn"]["p"] == 1.0
    assert rows["cnn"]["verdict"] == "same predictions"
    assert (rows["vgg16"]["only_old"], rows["vgg16"]["only_new"]) == (2, 2)
    assert rows["vgg16"]["verdict"] == "within run-to-run variation"
    assert (rows["resnet50"]["only_old"], rows["resnet50"]["only_new"]) == (20, 0)
    assert rows["resnet50"]["p_holm"] == pytest.approx(2 * 2 / 2**20)  # cnn: nothing to test
    assert rows["resnet50"]["verdict"] == "changed"
    other_images = review.compare({"cnn": base}, {"cnn": predictions(set(), n=99)})
    assert other_images[0]["verdict"] == "changed" and not other_images[0]["same_images"]


@pytest.mark.slow  # starts dvc and git
def test_review_compares_a_rerun_in_the_workspace_with_the_committed_predictions(git_dvc_repo):
    repo = git_dvc_repo
    (repo / "dvc.yaml").write_text(
        "params:\n  - params.yaml\nmetrics:\n  - metrics/eval/cnn.json\n", encoding="utf-8"
    )
    commit(repo, 0.9, "1.0e-4", "baseline")
    folder = repo / "metrics" / "eval"
    for model in ("cnn", "vgg16"):
        (folder / f"{model}_predictions.csv").write_text(predictions({1, 2, 3}))
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "predictions")
    (folder / "resnet50_predictions.csv").write_text(predictions({1, 2, 3}))
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "resnet50")
    # A rerun: one borderline image of cnn flips each way; vgg16 loses 25 images; resnet50
    # predicts every image as before.
    (folder / "cnn_predictions.csv").write_text(predictions({1, 2, 4}))
    (folder / "vgg16_predictions.csv").write_text(predictions(set(range(1, 29))))

    out = run(repo, sys.executable, REVIEW).stdout
    section = out.split("### Test predictions per model: noise or change?")[1]
    section = section.split("### Parameters")[0]
    assert "**Changed**: vgg16." in section
    tables = section.split("#### ")[1:]
    assert [t.split()[0] for t in tables] == ["cnn", "vgg16"]  # one table per changed model
    assert (
        "| 100 | 97.00 | 97.00 | +0.00 | 2 | 1 | 1 | 1 | 1 | within run-to-run variation |"
        in (tables[0])
    )
    assert "| 100 | 97.00 | 72.00 | -25.00 | 25 | 25 | 0 |" in tables[1]
    assert tables[1].rstrip().splitlines()[4].endswith("| changed |")
    assert "Same prediction for every test image: resnet50." in section
