"""The report stage on evaluation outputs with planted per-image results, and the pairs
its paired tests compare."""

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest
import yaml

from fruitveg.core import params as P
from fruitveg.core.model_config import model_configs
from fruitveg.core.params import ParamError
from fruitveg.evaluation.headline import split
from fruitveg.evaluation.statistics import mcnemar_exact
from fruitveg.report.build import audit_facts, build
from fruitveg.report.inputs import ReportError, read_inputs
from fruitveg.report.pairs import derived_pairs
from fruitveg.report.settings import report_settings

from .conftest import REPO, config, model_block, write_export, write_history

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
data: {{source: synthetic, synthetic: {{train: 6, validation: 2, test: 5, leaks: 1}}}}
evaluate: {{batch_size: 8, bootstrap_resamples: 1000, threshold: 0.5, ece_bins: 15}}
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
    f1_ci = (None, None) if acc == 1 else (acc - 0.1, min(1, acc + 0.1))
    metrics = {"accuracy": acc, "accuracy_ci_low": acc - 0.1, "accuracy_ci_high": min(1, acc + 0.1),
               "balanced_accuracy": acc, "loss": 0.5, "f1_macro": acc, "f1_macro_ci_low": f1_ci[0],
               "f1_macro_ci_high": f1_ci[1], "ece": 0.1, "params": params,
               "images_per_s": 1000.0 / params, "latency_ms": params / 100,
               "n_test": len(rows)}  # fmt: skip
    headline, details = split(model, metrics)
    (folder / f"{model}.json").write_text(json.dumps(headline), encoding="utf-8")
    (folder / f"{model}_details.json").write_text(json.dumps(details), encoding="utf-8")
    val_accuracy = (0.4, 0.7, 0.6) if model == "binary_cnn" else (0.4, 0.4, 0.4)
    write_history(root, model, [(1.0, 0.5, 1.1, v) for v in val_accuracy])


def write_layouts_audit_and_lock(root: Path) -> None:
    """What the layouts, the audit and DVC's lock file say about the data."""
    train = {"multiclass": {"apple": 6, "banana": 7, "corn": 7, "sweetcorn": 5},  # banana: first
             "binary": {"fruit": 10, "vegetable": 12}}  # fmt: skip
    test = {"multiclass": dict.fromkeys(LABELS, 5), "binary": {"fruit": 4, "vegetable": 4}}
    for task in ("binary", "multiclass"):
        counts = {"train": train[task], "validation": dict.fromkeys(train[task], 2),
                  "test": test[task]}  # fmt: skip
        summary = {"task": task, "image_size": 64, "counts": counts,
                   "removed_duplicates_of_test": {"train": 1, "validation": 0},
                   "removed_copies_of_train": 2}  # fmt: skip
        path = root / "metrics" / "layout" / f"{task}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary), encoding="utf-8")
    # test_label_conflicts is not a count here: left out of the header, not shown as text.
    audit = {"duplicate_groups": 2, "leaked_test_images": 1, "test_duplicate_groups": 1,
             "test_label_conflicts": "n/a", "pairs_compared": 1234,
             "copies_by_evidence": {"exact": 3, "hash": 10, "match": 6}}  # fmt: skip
    (root / "metrics" / "audit").mkdir(parents=True)
    (root / "metrics" / "audit" / "report.json").write_text(json.dumps(audit), encoding="utf-8")
    (root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  download:\n    cmd: python stages/download.py\n"
        "    outs:\n    - path: data/raw\n      hash: md5\n      md5: 0123abcd.dir\n"
        "      size: 1000\n      nfiles: 142\n",
        encoding="utf-8",
    )


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
    for model, mistakes in MISTAKES.items():
        accuracy = 1 - len(mistakes) / len(IMAGES)
        write_export(tmp_path, model, accuracy, len(IMAGES), skipped=model == "vgg16")
    write_export(tmp_path, "binary_cnn", 7 / 8, 8)
    write_layouts_audit_and_lock(tmp_path)
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
    # Holm over the two: 2 * 0.125 for the smaller p, then max(0.25, 1 * 0.625).
    assert (vgg["p_holm"], attention["p_holm"]) == (pytest.approx(0.25), pytest.approx(0.625))

    top = content["confused_pairs"][0]
    assert top == {"classes": ["corn", "sweetcorn"], "errors": 4,
                   "by_model": {"cnn": 3, "cnn_attention": 1}}  # fmt: skip
    assert content["confused_pairs"][1]["classes"] == ["apple", "banana"]
    assert all("fruit" not in c["classes"] for c in content["confused_pairs"])  # 36-class only

    markdown = (evaluated / "metrics/report.md").read_text()
    assert ("| cnn | multiclass | none | 1 / 3 | 80.00 (70.00-90.00) | 80.00 "
            "| 0.8000 (0.7000-0.9000) | 0.5000 | 0.1000 |") in markdown  # fmt: skip
    assert "| vgg16 | multiclass | none | 1 / 3 | 100.00 (90.00-100.00) | 100.00 " in markdown
    assert "| 1.0000 (n/a) |" in markdown  # vgg16: every image right, no bootstrap spread
    assert "| binary_cnn | binary | none | 2 / 3 |" in markdown  # best val_accuracy: epoch 2
    assert "| 1e-5 |" in markdown
    assert "| cnn | vgg16 | 80.00 | 100.00 | -20.00 | 0 | 4 | 0.125 | 0.25 |" in markdown
    assert "corn ↔ sweetcorn | 4 | cnn 3, cnn_attention 1" in markdown
    # Early learning speed under the paired tests, one row per pair (histories: 0.4 x 3)
    speed = markdown.split("### Early learning speed")[1].split("## Most confused")[0]
    assert "| cnn | cnn_attention | 40.00 | 1 / 1 | 1 / 1 | same epoch |" in speed
    assert [(s["a"], s["b"]) for s in content["learning_speed"]] == list(tests)
    assert "multiclass: 20 images, one image = 5.00 points" in markdown
    for name in ("accuracy.png", "accuracy_vs_cost.png"):
        assert (evaluated / "plots/report" / name).stat().st_size > 10_000


def test_baselines_and_each_models_test_against_the_majority_class(evaluated, stage):
    assert stage("report.py")[0] == 0
    content = json.loads((evaluated / "metrics/report.json").read_text())
    baselines = {(b["task"], b["baseline"]): b for b in content["baselines"]}
    # Multiclass: banana is first of the two most common training classes.
    majority = baselines["multiclass", "majority"]
    assert majority["label"] == "banana" and majority["accuracy"] == 5 / 20
    assert majority["balanced_accuracy"] == 0.25
    assert majority["f1_macro"] == pytest.approx(2 * 5 / (2 * 5 + 15) / 4)  # banana's F1 / 4
    assert (majority["accuracy_ci_low"], majority["accuracy_ci_high"]) == (
        pytest.approx(0.0865715), pytest.approx(0.4910459))  # fmt: skip
    chance = baselines["multiclass", "chance"]
    assert (chance["accuracy"], chance["balanced_accuracy"]) == (0.25, 0.25)
    assert chance["f1_macro"] == pytest.approx(0.25)  # 2 n_k / (n + K n_k), balanced classes
    binary = baselines["binary", "majority"]
    assert binary["label"] == "vegetable" and binary["accuracy"] == 0.5
    assert binary["f1_macro"] == pytest.approx((0 + 2 * 4 / (2 * 4 + 4)) / 2)
    assert baselines["binary", "chance"]["accuracy"] == 0.5

    vs = {r["model"]: r["against_majority"] for r in content["models"]}
    # cnn: right on 11 non-banana images, the majority right on none that cnn misses.
    assert (vs["cnn"]["only_model_correct"], vs["cnn"]["only_majority_correct"]) == (11, 0)
    assert vs["cnn"]["p_value"] == pytest.approx(2 / 2**11)
    attention = vs["cnn_attention"]
    assert (attention["only_model_correct"], attention["only_majority_correct"]) == (14, 1)
    assert attention["p_value"] == pytest.approx(2 * (1 + 15) / 2**15)  # = cnn's: a tie
    assert vs["binary_cnn"]["p_value"] == pytest.approx(2 * (1 + 5) / 2**5)
    # Holm over the four models: vgg16 4p, cnn 3p, cnn_attention max(2p, that), binary p.
    assert vs["vgg16"]["p_holm"] == pytest.approx(4 * 2 / 2**15)
    assert vs["cnn"]["p_holm"] == pytest.approx(3 * 2 / 2**11)
    assert vs["cnn_attention"]["p_holm"] == vs["cnn"]["p_holm"]
    assert vs["binary_cnn"]["p_holm"] == pytest.approx(0.375)

    markdown = (evaluated / "metrics/report.md").read_text()
    assert "| 0.000977 (0.00293) |" in markdown
    assert ("| *majority class: always banana* | multiclass | | | 25.00 (8.66-49.10) | 25.00 "
            "| 0.1000 | | | |") in markdown  # fmt: skip
    assert "| *chance: uniform guess (expected)* | binary | | | 50.00 | 50.00 |" in markdown
    # Baselines sit under their task's models.
    assert markdown.index("| *chance: uniform guess (expected)* | binary") < markdown.index(
        "| cnn | multiclass"
    )


def test_header_says_what_was_measured(evaluated, stage):
    assert stage("report.py")[0] == 0
    header = json.loads((evaluated / "metrics/report.json").read_text())["header"]
    assert header["raw_md5"] == "0123abcd.dir" and header["raw_files"] == 142
    assert header["images_per_split"]["multiclass"] == {"train": 25, "validation": 8, "test": 20}
    assert header["audit"] == {
        "duplicate_groups": 2, "leaked_test_images": 1, "test_duplicate_groups": 1,
        "pairs_compared": 1234, "copies_by_evidence": {"exact": 3, "hash": 10, "match": 6},
    }  # fmt: skip
    markdown = (evaluated / "metrics/report.md").read_text()
    assert "6 train, 2 validation and 5 test images per class, 1 test pictures planted" in markdown
    assert "md5 `0123abcd.dir` (142 files), as DVC recorded data/raw in dvc.lock" in markdown
    assert "**Image size**: 64 px square" in markdown
    assert "multiclass: train 25, validation 8, test 20" in markdown
    assert "binary: 1 from train, 0 from validation" in markdown
    assert "groups of near duplicates within test: 1" in markdown
    assert (
        "groups of copies in data/raw: 2, copies found: 3 exact, 10 by hash, 6 by matching, "
    ) in markdown
    assert "pairs of pictures compared closely: 1234." in markdown
    assert "from validation: binary: 2; multiclass: 2" in markdown
    assert "**These numbers come from the offline synthetic default**" in markdown
    assert "planted in train as leaks; its own train/validation/test splits" in markdown
    assert header["placeholder_backbones"] == [] and "Placeholder" not in markdown

    # Another source: no synthetic warning; no lock file: said so, not invented. A random
    # backbone left frozen is named as the placeholder it is, whatever the data.
    (evaluated / "dvc.lock").unlink()
    params = P.load()
    params["data"] = {"source": "kaggle", "kaggle_dataset": "owner/fruits"}
    params["models"]["vgg16"]["freeze_backbone"] = True
    (evaluated / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    assert stage("report.py")[0] == 0
    markdown = (evaluated / "metrics/report.md").read_text()
    assert "the Kaggle dataset owner/fruits" in markdown and "synthetic default" not in markdown
    assert "not recorded (dvc.lock has no download stage yet" in markdown
    assert (
        "- **Placeholder backbones** (vgg16): random weights (`weights: none`), frozen" in markdown
    )


@pytest.mark.parametrize(
    "audit, shown",
    [
        ({"duplicate_groups": 4}, {"duplicate_groups": 4}),  # an older audit's report
        ({"copies_by_evidence": {"exact": 1, "hash": 2}}, {}),  # a kind missing
        ({"copies_by_evidence": {"exact": 1, "hash": "2", "match": 0}}, {}),
        ({"copies_by_evidence": [1, 2, 3], "pairs_compared": None}, {}),
        (
            {"copies_by_evidence": {"match": 0, "hash": 0, "exact": 5}},
            {"copies_by_evidence": {"match": 0, "hash": 0, "exact": 5}},
        ),
    ],
)
def test_audit_facts_are_each_optional(audit, shown):
    assert audit_facts(audit) == shown


def test_header_says_once_what_each_model_was_trained_with(evaluated, stage):
    # What evaluate copied from beside each model: cnn and cnn_attention in bfloat16, vgg16
    # in float32 (auto's choice per architecture), all on one machine; binary_cnn's predates
    # the record.
    same = {"xla": False, "cpu_isa": "avx512_core_bf16", "intra_op_threads": 0, "cpus": 2,
            "tensorflow": "2.21.0"}  # fmt: skip
    for model, precision in (("cnn", "bfloat16"), ("cnn_attention", "bfloat16"),
                             ("vgg16", "float32")):  # fmt: skip
        path = evaluated / f"metrics/eval/{model}_details.json"
        details = json.loads(path.read_text()) | {"trained_with": same | {"precision": precision}}
        path.write_text(json.dumps(details), encoding="utf-8")
    assert stage("report.py")[0] == 0
    header = json.loads((evaluated / "metrics/report.json").read_text())["header"]
    assert header["trained_with"]["vgg16"] == same | {"precision": "float32"}
    assert header["trained_with"]["binary_cnn"] is None
    (line,) = [x for x in (evaluated / "metrics/report.md").read_text().splitlines()
               if x.startswith("- **Trained with**")]  # fmt: skip
    assert (
        "precision not recorded (binary_cnn), bfloat16 (cnn, cnn_attention), float32 (vgg16); "
        "XLA not recorded (binary_cnn), off (cnn, cnn_attention, vgg16); "
    ) in line
    assert "intra-op threads not recorded (binary_cnn), TensorFlow's default (cnn," in line
    assert "; Keras not recorded." in line  # no model recorded it: said once

    for model in ("binary_cnn", "vgg16"):  # every model the same: each fact once
        path = evaluated / f"metrics/eval/{model}_details.json"
        details = json.loads(path.read_text()) | {"trained_with": same | {"precision": "bfloat16"}}
        path.write_text(json.dumps(details), encoding="utf-8")
    assert stage("report.py")[0] == 0
    markdown = (evaluated / "metrics/report.md").read_text()
    assert "stage recorded it): precision bfloat16; XLA off; device not recorded; " in markdown
    assert "CPU instruction set (oneDNN) avx512_core_bf16;" in markdown


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


def test_lightening_table_and_picture_show_every_model_in_every_format(evaluated, stage):
    code, _, err = stage("report.py")
    assert code == 0, err
    content = json.loads((evaluated / "metrics/report.json").read_text())
    table = content["lightening"]
    models = ["binary_cnn", "cnn", "cnn_attention"]  # params.yaml's order; vgg16 skipped
    assert [r["model"] for r in table] == [m for m in models for _ in range(5)] + ["vgg16"]
    assert table[-1]["status"] == "skipped"
    cnn = {r["format"]: r for r in table if r["model"] == "cnn"}
    assert cnn["int8"]["change_points"] == pytest.approx(-5.0)  # one image of 20
    assert cnn["dynamic_int8"]["status"] == "failed"
    markdown = (evaluated / "metrics/report.md").read_text()
    section = markdown[markdown.index("## Lightening") :]
    int8 = "| cnn | int8 | 1.00 | 0.250 | 75.00 (37.50-85.00) | -5.00 | 0.05 | 95.0 | 0.50 | 0.25 "
    assert int8 in section
    assert "| cnn | dynamic_int8 | | | | | | | | | | failed |" in section
    keras = "| cnn | keras | 4.00 | 1.000 | 80.00 (40.00-90.00) |  |  | 100.0 | 2.00 | 1.00 "
    assert keras in section
    assert "Not exported in this configuration (`export.archs`): vgg16." in section
    assert "| vgg16 |" not in section
    assert (evaluated / "plots/report/lightening.png").stat().st_size > 10_000


def test_a_missing_export_is_named(evaluated, stage):
    (evaluated / "metrics/export/cnn_attention.json").unlink()
    code, _, err = stage("report.py")
    assert code == 1
    assert "metrics/export/cnn_attention.json: not found; run export@cnn_attention first" in err


def test_a_skipped_layout_is_never_counted_as_data(evaluated, stage):
    """layout@binary of a params.yaml without binary in `tasks` writes an empty layout: the
    report refuses it for a binary model (check_params refuses such a model before), and
    leaves it out of the header without one."""
    skipped = {"task": "binary", "skipped": "not in params.yaml tasks"}
    (evaluated / "metrics/layout/binary.json").write_text(json.dumps(skipped))
    code, _, err = stage("report.py")
    assert code == 1
    assert err == (
        "error: metrics/layout/binary.json: binary is not in params.yaml tasks; "
        "its layout is empty\n"
    )
    params = P.load()
    del params["models"]["binary_cnn"]
    (evaluated / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    assert stage("report.py")[0] == 0
    header = json.loads((evaluated / "metrics/report.json").read_text())["header"]
    assert list(header["images_per_split"]) == list(header["image_size"]) == ["multiclass"]
    assert "binary" not in (evaluated / "metrics/report.md").read_text().split("## ")[0]


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


def test_headline_metrics_not_under_the_models_name_are_named(evaluated, stage):
    path = evaluated / "metrics/eval/vgg16.json"
    path.write_text(json.dumps(json.loads(path.read_text())["vgg16"]))  # the pre-split layout
    code, _, err = stage("report.py")
    assert code == 1 and "metrics/eval/vgg16.json: expected one object, under 'vgg16'" in err
    (evaluated / "metrics/eval/vgg16_details.json").unlink()
    path.write_text(json.dumps({"vgg16": {"accuracy": 0.5}}))
    code, _, err = stage("report.py")
    assert code == 1 and "metrics/eval/vgg16_details.json: not found" in err


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
