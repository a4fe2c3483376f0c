"""The report stage on evaluation outputs with planted per-image results."""

import json
import math
import sys
from pathlib import Path

import pytest

from fruitveg.report import build as report

from .conftest import REPO, run, write_history

LABELS = ("apple", "banana", "corn", "sweetcorn")
IMAGES = [f"{label}/{i}.jpg" for label in LABELS for i in range(5)]
# Per model: the images it gets wrong and what it predicts for them.
MISTAKES = {
    "cnn": {"corn/0.jpg": "sweetcorn", "corn/1.jpg": "sweetcorn", "sweetcorn/0.jpg": "corn",
            "apple/0.jpg": "banana"},
    "cnn_attention": {"corn/0.jpg": "sweetcorn", "banana/1.jpg": "apple"},
    "vgg16": {},
}  # fmt: skip
PARAMS = """\
seed: 3
evaluate: {batch_size: 8, bootstrap_resamples: 1000, threshold: 0.5}
models:
  binary_cnn: {task: binary, lr: 0.0001}
  cnn: {task: multiclass, lr: 0.0001}
  cnn_attention: {task: multiclass, lr: 0.0001}
  vgg16: {task: multiclass, lr: 1e-05}   # as `dvc exp run -S` writes it
"""


def write_eval(root: Path, model: str, rows: list[tuple[str, str, str]], params: int) -> None:
    folder = root / "metrics" / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["path,actual,predicted,confidence"]
    lines += [f"{p},{a},{pred},0.9" for p, a, pred in rows]
    (folder / f"{model}_predictions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    acc = sum(a == p for _, a, p in rows) / len(rows)
    metrics = {"accuracy": acc, "accuracy_ci_low": acc - 0.1, "accuracy_ci_high": min(1, acc + 0.1),
               "loss": 0.5, "f1_macro": acc, "params": params, "images_per_s": 1000.0 / params,
               "latency_ms": params / 100, "n_test": len(rows)}  # fmt: skip
    (folder / f"{model}.json").write_text(json.dumps(metrics), encoding="utf-8")
    write_history(root, model, [(1.0, 0.5, 1.1, 0.4)] * 3)


@pytest.fixture
def evaluated(tmp_path: Path) -> Path:
    (tmp_path / "params.yaml").write_text(PARAMS, encoding="utf-8")
    for n, (model, mistakes) in enumerate(MISTAKES.items()):
        rows = [(p, p.split("/")[0], mistakes.get(p, p.split("/")[0])) for p in IMAGES]
        write_eval(tmp_path, model, rows, params=1000 * (n + 1))
    binary = [(f"fruit/{i}.jpg", "fruit", "fruit") for i in range(4)]
    binary += [(f"vegetable/{i}.jpg", "vegetable", "fruit" if i == 0 else "vegetable")
               for i in range(4)]  # fmt: skip
    write_eval(tmp_path, "binary_cnn", binary, params=500)
    return tmp_path


def test_report_tables_paired_tests_and_confused_pairs(evaluated):
    done = run(evaluated, sys.executable, str(REPO / "stages/report.py"))
    assert "cnn vs cnn_attention: p = 0.625" in done.stdout
    content = json.loads((evaluated / "metrics/report.json").read_text())

    rows = {r["model"]: r for r in content["models"]}
    assert list(rows) == ["binary_cnn", "cnn", "cnn_attention", "vgg16"]
    assert rows["cnn"]["accuracy"] == pytest.approx(16 / 20)
    assert rows["vgg16"]["lr"] == 1e-5
    assert rows["cnn"]["train_seconds"] == 30.0  # three 10-second epochs
    assert rows["binary_cnn"]["task"] == "binary"

    tests = {(t["a"], t["b"]): t for t in content["paired_tests"]}
    assert list(tests) == [("cnn", "cnn_attention"), ("cnn", "vgg16")]
    attention = tests["cnn", "cnn_attention"]
    assert (attention["only_a_correct"], attention["only_b_correct"]) == (1, 3)
    # exact two-sided: 2 * P(X <= 1), X ~ Binomial(4, 1/2)
    assert attention["p_value"] == pytest.approx(2 * (1 + 4) / 16)
    assert attention["verdict"] == "no detectable difference"
    vgg = tests["cnn", "vgg16"]
    assert (vgg["only_a_correct"], vgg["only_b_correct"]) == (0, 4)
    assert vgg["p_value"] == pytest.approx(2 / 16)
    assert vgg["accuracy_a"] - vgg["accuracy_b"] == pytest.approx(-4 / 20)

    top = content["confused_pairs"][0]
    assert top == {"classes": ["corn", "sweetcorn"], "errors": 4,
                   "by_model": {"cnn": 3, "cnn_attention": 1}}  # fmt: skip
    assert content["confused_pairs"][1]["classes"] == ["apple", "banana"]
    assert all("fruit" not in c["classes"] for c in content["confused_pairs"])  # 36-class only

    markdown = (evaluated / "metrics/report.md").read_text()
    assert "| cnn | multiclass | 80.00 (70.00-90.00) | 0.5000 |" in markdown
    assert "| 1e-5 |" in markdown
    assert "| cnn | vgg16 | 80.00 | 100.00 | -20.00" in markdown
    assert "corn ↔ sweetcorn | 4 | cnn 3, cnn_attention 1" in markdown
    assert "multiclass: 20 images, one image = 5.00 points" in markdown
    for name in ("accuracy.png", "accuracy_vs_cost.png"):
        assert (evaluated / "plots/report" / name).stat().st_size > 10_000


def test_pairs_on_different_test_images_are_refused(evaluated, monkeypatch):
    path = evaluated / "metrics/eval/cnn_attention_predictions.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    monkeypatch.chdir(evaluated)
    models = [report.ModelInfo(m, "multiclass", 1e-4) for m in ("cnn", "cnn_attention")]
    with pytest.raises(report.ReportError, match="cnn and cnn_attention were evaluated on diff"):
        report.build(models)


def test_missing_evaluation_is_named(evaluated):
    (evaluated / "metrics/eval/vgg16.json").unlink()
    failed = run(evaluated, sys.executable, str(REPO / "stages/report.py"), check=False)
    assert failed.returncode == 1
    assert "metrics/eval/vgg16.json: not found; run evaluate@vgg16 first" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_study_pairs():
    models = ["binary_cnn", "cnn", "cnn_attention", "vgg16", "resnet50", "vgg16_attention",
              "resnet50_attention"]  # fmt: skip
    assert report.study_pairs(models) == [
        ("cnn", "cnn_attention"), ("vgg16", "vgg16_attention"),
        ("resnet50", "resnet50_attention"), ("cnn", "vgg16"), ("cnn", "resnet50"),
    ]  # fmt: skip
    assert math.isclose(report.mcnemar_exact([True], [False])[2], 1.0)
