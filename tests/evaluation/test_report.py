"""The report stage on evaluation outputs with planted per-image results, and the pairs
its paired tests compare."""

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest

from fruitveg.core import params as P
from fruitveg.core.model_config import model_configs
from fruitveg.core.params import ParamError
from fruitveg.evaluation.statistics import mcnemar_exact
from fruitveg.report.build import build
from fruitveg.report.inputs import ReportError, read_inputs
from fruitveg.report.pairs import derived_pairs
from fruitveg.report.settings import report_settings

from .conftest import REPO, config, model_block, write_history

LABELS = ("apple", "banana", "corn", "sweetcorn")
IMAGES = [f"{label}/{i}.jpg" for label in LABELS for i in range(5)]
# Per model: the images it gets wrong and what it predicts for them.
MISTAKES = {
    "cnn": {"corn/0.jpg": "sweetcorn", "corn/1.jpg": "sweetcorn", "sweetcorn/0.jpg": "corn",
            "apple/0.jpg": "banana"},
    "cnn_attention": {"corn/0.jpg": "sweetcorn", "banana/1.jpg": "apple"},
    "vgg16": {},
}  # fmt: skip
PARAMS = f"""\
seed: 3
evaluate: {{batch_size: 8, bootstrap_resamples: 1000, threshold: 0.5}}
models:
  binary_cnn: {model_block("binary")}
  cnn: {model_block("multiclass")}
  cnn_attention: {model_block("multiclass", attention="se")}
  vgg16: {model_block("multiclass", arch="vgg16", lr="1e-05")}   # as `dvc exp run -S` writes it
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
def evaluated(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "params.yaml").write_text(PARAMS, encoding="utf-8")
    for n, (model, mistakes) in enumerate(MISTAKES.items()):
        rows = [(p, p.split("/")[0], mistakes.get(p, p.split("/")[0])) for p in IMAGES]
        write_eval(tmp_path, model, rows, params=1000 * (n + 1))
    binary = [(f"fruit/{i}.jpg", "fruit", "fruit") for i in range(4)]
    binary += [(f"vegetable/{i}.jpg", "vegetable", "fruit" if i == 0 else "vegetable")
               for i in range(4)]  # fmt: skip
    write_eval(tmp_path, "binary_cnn", binary, params=500)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_tables_paired_tests_and_confused_pairs(evaluated, stage):
    code, out, err = stage("report.py")
    assert code == 0, err
    assert "cnn vs cnn_attention: p = 0.625" in out
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


def test_report_writes_long_format_tables_of_every_model(evaluated, stage):
    assert stage("report.py")[0] == 0
    history = read_csv(evaluated / "plots/report/history.csv")
    assert list(history[0]) == [
        "model", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"
    ]  # fmt: skip
    assert [(r["model"], r["epoch"]) for r in history[:4]] == [
        ("binary_cnn", "1"), ("binary_cnn", "2"), ("binary_cnn", "3"), ("cnn", "1")
    ]  # fmt: skip
    assert {r["model"] for r in history} == {"binary_cnn", "cnn", "cnn_attention", "vgg16"}
    assert float(history[0]["val_accuracy"]) == 0.4

    confusion = read_csv(evaluated / "plots/report/confusion.csv")
    assert list(confusion[0]) == ["model", "actual", "predicted"]
    assert len(confusion) == 8 + 3 * 20
    mistakes = {(r["model"], r["actual"], r["predicted"]) for r in confusion
                if r["actual"] != r["predicted"]}  # fmt: skip
    assert mistakes == {
        ("binary_cnn", "vegetable", "fruit"), ("cnn", "corn", "sweetcorn"),
        ("cnn", "sweetcorn", "corn"), ("cnn", "apple", "banana"),
        ("cnn_attention", "corn", "sweetcorn"), ("cnn_attention", "banana", "apple"),
    }  # fmt: skip


def test_pairs_on_different_test_images_are_refused(evaluated):
    path = evaluated / "metrics/eval/cnn_attention_predictions.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    settings = report_settings(P.load())
    with pytest.raises(ReportError, match="cnn and cnn_attention were evaluated on diff"):
        build(settings, read_inputs(settings.models))


def test_missing_evaluation_is_named(evaluated, stage):
    (evaluated / "metrics/eval/vgg16.json").unlink()
    code, _, err = stage("report.py")
    assert code == 1
    assert "metrics/eval/vgg16.json: not found; run evaluate@vgg16 first" in err
    assert "Traceback" not in err


def test_pairs_of_the_study_follow_from_the_models_settings():
    models = model_configs(P.load(REPO / "params.yaml"))
    assert derived_pairs(models) == [
        ("cnn", "cnn_attention"), ("vgg16", "vgg16_attention"),
        ("resnet50", "resnet50_attention"), ("cnn", "vgg16"), ("cnn", "resnet50"),
    ]  # fmt: skip
    # An eighth model, one block: paired with every model it differs from only in attention.
    cnn = next(m for m in models if m.name == "cnn")
    cbam = dataclasses.replace(cnn, name="cnn_cbam", attention="cbam")
    pairs = derived_pairs([*models, cbam])
    assert pairs[:3] == [("cnn", "cnn_attention"), ("cnn", "cnn_cbam"),
                         ("cnn_attention", "cnn_cbam")]  # fmt: skip
    assert math.isclose(mcnemar_exact([True], [False])[2], 1.0)


def test_derived_pairs_put_the_attention_free_model_first_and_need_the_same_network():
    se = config("small_se", attention="se")
    plain = config("small", attention="none")
    other_lr = config("small_fast", attention="none", lr=1e-3)
    wider = config("small_wide", attention="none", dropout=0.2)
    binary = config("binary_se", task="binary", attention="se")
    vgg = config("vgg", arch="vgg16", weights=None, lr=1e-5)
    vgg_binary = config("vgg_binary", task="binary", arch="vgg16")
    # A learning rate is a training setting, not the network: small_fast keeps its pair.
    # small_wide differs in dropout, binary_se in task; the backbone pairs need no equal lr.
    assert derived_pairs([se, other_lr, wider, binary, plain, vgg, vgg_binary]) == [
        ("small_fast", "small_se"), ("small", "small_se"),
        ("small_fast", "vgg"), ("small_wide", "vgg"), ("small", "vgg"),
    ]  # fmt: skip


def test_listed_pairs_replace_the_derived_ones_and_bad_ones_name_the_setting(tmp_path):
    (tmp_path / "params.yaml").write_text(PARAMS + "report:\n  pairs: [[vgg16, cnn]]\n")
    params = P.load(tmp_path / "params.yaml")
    assert report_settings(params).pairs == (("vgg16", "cnn"),)
    params["report"]["pairs"] = []
    assert report_settings(params).pairs == (("cnn", "cnn_attention"), ("cnn", "vgg16"))
    for pairs, message in [
        ([["cnn", "alexnet"]], r"'report.pairs' item 1 \['cnn', 'alexnet'\]: unknown model "
                               r"'alexnet' \(models: has binary_cnn, cnn, cnn_attention, vgg16\)"),
        ([["cnn", "binary_cnn"]], "item 1 .*: cnn \\(multiclass\\) and binary_cnn \\(binary\\) "
                                  "differ in task"),
        ([["cnn", "cnn"]], "paired with itself"),
        ([["cnn", "vgg16"], ["vgg16", "cnn"]], "item 2 .*listed twice"),
        ([["cnn"]], "item 1 \\['cnn'\\]: expected \\[model A, model B\\]"),
        ("cnn,vgg16", "'report.pairs' must be a list"),
    ]:  # fmt: skip
        params["report"]["pairs"] = pairs
        with pytest.raises(ParamError, match=message):
            report_settings(params)
