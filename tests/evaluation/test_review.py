"""scripts/review.py: metrics and params diff between two commits of a real DVC repository,
and whether per-image test predictions changed beyond run-to-run variation."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from scipy import stats

from fruitveg.evaluation import paired

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


def parsed(review, sides: dict[str, str]) -> dict[str, dict[str, tuple[str, str]]]:
    return {model: review.outcomes(text, model) for model, text in sides.items()}


@pytest.mark.timeout(30)  # the review's own exact sum took 55 s for this alone
def test_review_shares_the_reports_mcnemar_and_handles_20000_discordant_images():
    review = load_review()
    assert review.mcnemar_p is paired.mcnemar_p and review.holm is paired.holm  # one of each
    # 20,100 test images, 20,000 of them discordant: old alone right on 9,900, new on 10,100.
    old = predictions(set(range(9_900, 20_000)), n=20_100)
    new = predictions(set(range(9_900)), n=20_100)
    (row,) = review.compare(*(parsed(review, {"cnn": side}) for side in (old, new)))
    assert (row["only_old"], row["only_new"], row["changed_predictions"]) == (9_900, 10_100, 20_000)
    assert row["p"] == pytest.approx(stats.binomtest(9_900, 20_000, 0.5).pvalue, rel=1e-12)
    assert row["verdict"] == "within run-to-run variation"


def test_review_tells_run_to_run_noise_from_a_change():
    review = load_review()
    base = predictions({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
    old = {"cnn": base, "vgg16": base, "resnet50": base, "gone": base}
    new = {
        "cnn": base,  # identical
        "vgg16": predictions({1, 2, 3, 4, 5, 6, 7, 8, 11, 12}),  # two images swap
        "resnet50": predictions(set(range(1, 31))),  # 20 more wrong, none fewer
    }
    rows = {r["model"]: r for r in review.compare(parsed(review, old), parsed(review, new))}
    assert set(rows) == {"cnn", "vgg16", "resnet50"}  # only models in both
    assert rows["cnn"]["changed_predictions"] == 0 and rows["cnn"]["p"] == 1.0
    assert rows["cnn"]["verdict"] == "same predictions"
    assert (rows["vgg16"]["only_old"], rows["vgg16"]["only_new"]) == (2, 2)
    assert rows["vgg16"]["verdict"] == "within run-to-run variation"
    assert (rows["resnet50"]["only_old"], rows["resnet50"]["only_new"]) == (20, 0)
    assert rows["resnet50"]["p_holm"] == pytest.approx(2 * 2 / 2**20)  # cnn: nothing to test
    assert rows["resnet50"]["verdict"] == "changed"
    other_images = review.compare(
        parsed(review, {"cnn": base}), parsed(review, {"cnn": predictions(set(), n=99)})
    )
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


def git(repo: Path, *args: str) -> None:
    run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args)


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch) -> tuple[Path, object]:
    """A git repository with dvc.yaml and one committed model (cnn, 100 images, 3 wrong,
    trained in bfloat16 on avx512_core_bf16), and the review with DVC's diffs left out."""
    repo = tmp_path / "repo"
    folder = repo / "metrics" / "eval"
    folder.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")
    (folder / "cnn_predictions.csv").write_text(predictions({1, 2, 3}), encoding="utf-8")
    facts = {"precision": "bfloat16", "xla": False, "cpu_isa": "avx512_core_bf16"}
    details = {"n_test": 100, "trained_with": facts}
    (folder / "cnn_details.json").write_text(json.dumps(details), encoding="utf-8")
    run(repo, "git", "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cnn")
    review = load_review()
    monkeypatch.setattr(review, "dvc_diff", lambda *args: "")  # git alone is under test here
    return repo, review


def test_review_says_what_changed_in_training_beside_the_changed_predictions(
    reviewed, monkeypatch, capsys
):
    repo, review = reviewed
    folder = repo / "metrics" / "eval"
    # A fresh clone on a CPU without native bfloat16 retrained cnn in float32.
    (folder / "cnn_predictions.csv").write_text(predictions({1, 2, 4, 5}), encoding="utf-8")
    facts = {"precision": "float32", "xla": False, "cpu_isa": "avx2"}
    details = {"n_test": 100, "trained_with": facts}
    (folder / "cnn_details.json").write_text(json.dumps(details), encoding="utf-8")
    monkeypatch.chdir(repo)
    assert review.main([]) == 0
    table = capsys.readouterr().out.split("#### cnn")[1]
    assert (
        "Trained with, old → new: precision bfloat16 → float32; "
        "CPU instruction set (oneDNN) avx512_core_bf16 → avx2." in table
    )

    # A side whose details predate the record: the other side's facts, said once.
    (folder / "cnn_details.json").write_text('{"n_test": 100}', encoding="utf-8")
    assert review.main([]) == 0
    assert (
        "Trained with: not recorded in the new revision; the other: precision bfloat16; "
        "XLA off; device not recorded; CPU instruction set (oneDNN) avx512_core_bf16;"
    ) in capsys.readouterr().out


def test_review_works_from_a_subfolder_and_refuses_outside_a_repository(
    reviewed, monkeypatch, capsys, tmp_path
):
    repo, review = reviewed
    (repo / "metrics/eval/cnn_predictions.csv").write_text(predictions({1, 2, 4}))
    monkeypatch.chdir(repo / "metrics" / "eval")
    assert review.main([]) == 0
    out = capsys.readouterr().out
    assert "| 100 | 97.00 | 97.00 | +0.00 | 2 | 1 | 1 |" in out  # HEAD against the workspace
    assert "No model's predictions in both revisions." not in out

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert review.main([]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"review: no dvc.yaml in {outside} or any folder above it: run inside the repository\n"
    )


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"path,actual,confidence\na/0.jpg,a,0.9\n", "no column predicted in its header line"),
        (b"path,actual,predicted\na/0.jpg,a\n", "line 2 has too few fields"),
        (
            b"path,actual,predicted\na/0.jpg,a,a\na/0.jpg,a,b\n",
            "line 3: image 'a/0.jpg' listed twice",
        ),
        (b"path,actual,predicted\na/\xff.jpg,a,a\n", "not UTF-8 text (byte 0xff at offset 24)"),
        (b"", "no column path, actual, predicted in its header line"),
    ],
    ids=["missing column", "short row", "duplicate", "not UTF-8", "empty"],
)
def test_a_malformed_predictions_file_is_one_line_naming_it(
    reviewed, monkeypatch, capsys, content, problem
):
    repo, review = reviewed
    (repo / "metrics/eval/cnn_predictions.csv").write_bytes(content)
    monkeypatch.chdir(repo)
    assert review.main([]) == 1
    assert capsys.readouterr().err == f"review: metrics/eval/cnn_predictions.csv: {problem}\n"
    git(repo, "commit", "-q", "-am", "bad predictions")  # the same, read from git
    assert review.main(["HEAD", "HEAD"]) == 1
    assert capsys.readouterr().err == f"review: HEAD:metrics/eval/cnn_predictions.csv: {problem}\n"
