"""evaluate@<model> on tiny real Keras models and layouts whose right answers are known.

The models are nearest-colour classifiers with hand-set weights, so which test images they
get wrong is planted: accuracy, the confused pair and the ROC AUC are known in advance.
"""

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from fruitveg.core.params import ParamError, load
from fruitveg.evaluation.evaluate import evaluate
from fruitveg.evaluation.headline import unnest
from fruitveg.evaluation.settings import EvaluateSettings, evaluate_settings
from fruitveg.scoring.loading import EvaluationError
from fruitveg.scoring.test_logits import score_test_split

from .conftest import config, model_block, write_history

SIZE = 8
SCALE = 20.0
# Class colours (RGB in 0-1); the last sweetcorn image is painted nearly corn's colour,
# with sweetcorn third nearest (so top-3 still counts it right).
PROTOTYPES = {
    "apple": (0.8, 0.1, 0.1),
    "banana": (0.9, 0.9, 0.2),
    "corn": (0.9, 0.6, 0.1),
    "sweetcorn": (0.5, 0.8, 0.4),
}
# Binary: grey level per image; the 0.65 fruit is the one mistake at threshold 0.5.
GREYS = {"fruit": (0.2, 0.3, 0.65), "vegetable": (0.55, 0.7, 0.8)}
MISLEADING = (0.8, 0.65, 0.2)
# What train@<model> records beside a model (fruitveg.core.trained_with), as a bfloat16 run.
TRAINED_WITH = {"precision": "bfloat16", "xla": False, "cpu_isa": "avx512_core_bf16"}


def settings(name: str, task: str) -> EvaluateSettings:
    model = config(name, task)
    return EvaluateSettings(model, bootstrap_resamples=500, threshold=0.5, seed=7)


def save_image(path: Path, rgb: tuple[float, float, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((SIZE, SIZE, 3), np.round(np.array(rgb) * 255), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=100)


def save_model(root: Path, name: str, model: keras.Model, labels: list[str], task: str) -> None:
    """A trained model's folder as train@<name> leaves it, its test split scored."""
    folder = root / "data" / "models" / name
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    (folder / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    (folder / "trained_with.json").write_text(json.dumps(TRAINED_WITH), encoding="utf-8")
    score_test_split(folder, root / "data" / "layouts" / task)
    write_history(root, name, [(1.2, 0.5, 1.3, 0.4), (0.8, 0.7, 0.9, 0.6), (0.7, 0.8, 1.0, 0.55)])


def colour_model(n_out: int, activation: str) -> tuple[keras.Model, keras.layers.Dense]:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(n_out, activation=activation)
    return keras.Model(inputs, dense(x)), dense


def make_multiclass(root: Path, name: str = "cnn", scale: float = SCALE) -> None:
    labels = sorted(PROTOTYPES)
    for label in labels:
        for i in range(3):
            colour = MISLEADING if (label, i) == ("sweetcorn", 2) else PROTOTYPES[label]
            save_image(root / f"data/layouts/multiclass/test/{label}/{label} {i}.jpg", colour)
    # logit_k = s * (2 p_k . x - |p_k|^2): the nearest prototype wins.
    model, dense = colour_model(len(labels), "softmax")
    p = np.array([PROTOTYPES[label] for label in labels]).T
    dense.set_weights([2 * scale * p, -scale * (p**2).sum(axis=0)])
    save_model(root, name, model, labels, "multiclass")


def make_binary(root: Path, scale: float = SCALE) -> None:
    for label, greys in GREYS.items():
        for i, g in enumerate(greys):
            save_image(root / f"data/layouts/binary/test/{label}/{label}_{i}.jpg", (g, g, g))
    model, dense = colour_model(1, "sigmoid")
    dense.set_weights([np.full((3, 1), scale / 3), np.array([-scale * 0.5])])
    save_model(root, "binary_cnn", model, ["fruit", "vegetable"], "binary")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def is_png(path: Path) -> bool:
    with Image.open(path) as im:
        return im.format == "PNG" and im.width > 100


def test_multiclass_evaluation_writes_every_output(tmp_path, monkeypatch):
    make_multiclass(tmp_path)
    monkeypatch.chdir(tmp_path)
    metrics = evaluate(settings("cnn", "multiclass"))

    # The DVC metrics hold the headline only; every other number is in the details file.
    headline = json.loads(Path("metrics/eval/cnn.json").read_text())
    details = json.loads(Path("metrics/eval/cnn_details.json").read_text())
    assert list(headline["cnn"]) == ["accuracy", "acc_low", "acc_high", "loss", "f1_macro"]
    assert headline["cnn"]["acc_low"] == metrics["accuracy_ci_low"]
    # What the model was trained with, copied from beside it: it decides numbers too.
    assert details.pop("trained_with") == TRAINED_WITH
    assert unnest("cnn", headline) | details == metrics
    assert {"images_per_s", "latency_ms", "n_test", "ece"} <= details.keys()
    assert metrics["accuracy"] == pytest.approx(11 / 12, abs=1e-6)
    assert metrics["n_test"] == 12
    assert metrics["params"] == 3 * 4 + 4
    assert metrics["accuracy_ci_low"] < metrics["accuracy"] <= metrics["accuracy_ci_high"] <= 1
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 1 + 1 + 2 / 3) / 4, abs=1e-6)
    assert metrics["f1_macro_ci_low"] <= metrics["f1_macro"] <= metrics["f1_macro_ci_high"]
    assert 0 <= metrics["ece"] <= 1 and metrics["ece_bins"] == 15
    assert metrics["top3_accuracy"] == 1.0
    assert metrics["images_per_s"] > 0 and metrics["latency_ms"] > 0
    assert "roc_auc" not in metrics

    predictions = read_csv(Path("metrics/eval/cnn_predictions.csv"))
    wrong = [r for r in predictions if r["actual"] != r["predicted"]]
    assert len(predictions) == 12
    assert list(predictions[0]) == ["path", "actual", "predicted", "confidence",
                                    *(f"p_{label}" for label in sorted(PROTOTYPES))]  # fmt: skip
    assert [(r["path"], r["actual"], r["predicted"]) for r in wrong] == [
        ("sweetcorn/sweetcorn 2.jpg", "sweetcorn", "corn")
    ]
    # The loss is the mean -log P(true class) of the model's own outputs.
    images = np.stack([np.asarray(Image.open(Path("data/layouts/multiclass/test", r["path"])))
                       for r in predictions]).astype("float32")  # fmt: skip
    model = keras.saving.load_model("data/models/cnn/model.keras")
    probs = model.predict(images, verbose=0)
    truth = [sorted(PROTOTYPES).index(r["actual"]) for r in predictions]
    expected_loss = -np.mean(np.log(probs[np.arange(12), truth]))
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-4)

    per_class = json.loads(Path("metrics/eval/cnn_per_class.json").read_text())
    assert per_class["sweetcorn"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                      "f1": pytest.approx(0.8), "support": 3}  # fmt: skip
    assert per_class["corn"]["precision"] == pytest.approx(3 / 4)
    # Pictures only: dvc.yaml lists plots/eval whole (the report draws the confusion data).
    assert sorted(p.name for p in Path("plots/eval/cnn").iterdir()) == [
        "confusion.png", "curves.png"
    ]  # fmt: skip
    assert is_png(Path("plots/eval/cnn/confusion.png"))
    assert is_png(Path("plots/eval/cnn/curves.png"))


def test_binary_evaluation_has_roc_auc_threshold_and_curve(tmp_path, monkeypatch):
    make_binary(tmp_path)
    monkeypatch.chdir(tmp_path)
    metrics = evaluate(settings("binary_cnn", "binary"))

    assert metrics["accuracy"] == pytest.approx(5 / 6, abs=1e-6)
    assert metrics["roc_auc"] == pytest.approx(8 / 9, abs=1e-6)  # one fruit above one vegetable
    assert metrics["threshold"] == 0.5
    # A binary model's headline adds balanced accuracy (26 vegetable classes to 10 fruit).
    headline = json.loads(Path("metrics/eval/binary_cnn.json").read_text())
    assert list(headline["binary_cnn"]) == [
        "accuracy", "acc_low", "acc_high", "bal_acc", "loss", "f1_macro", "roc_auc"
    ]  # fmt: skip
    assert headline["binary_cnn"]["bal_acc"] == metrics["balanced_accuracy"]
    assert "top3_accuracy" not in metrics
    roc = read_csv(Path("plots/eval/binary_cnn/roc.csv"))
    fpr = [float(r["fpr"]) for r in roc]
    tpr = [float(r["tpr"]) for r in roc]
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert fpr == sorted(fpr) and tpr == sorted(tpr)
    assert is_png(Path("plots/eval/binary_cnn/roc.png"))
    wrong = [r for r in read_csv(Path("metrics/eval/binary_cnn_predictions.csv"))
             if r["actual"] != r["predicted"]]  # fmt: skip
    assert [r["path"] for r in wrong] == ["fruit/fruit_2.jpg"]


def keras_evaluate_loss(root: Path, name: str, task: str, labels: list[str]) -> float:
    """The loss Keras' model.evaluate reports on the test images, compiled as training is."""
    rows = read_csv(root / f"metrics/eval/{name}_predictions.csv")
    images = np.stack([np.asarray(Image.open(root / f"data/layouts/{task}/test" / r["path"]))
                       for r in rows]).astype("float32")  # fmt: skip
    y = np.array([labels.index(r["actual"]) for r in rows])
    model = keras.saving.load_model(root / f"data/models/{name}/model.keras")
    if task == "binary":
        model.compile(loss="binary_crossentropy")
        return model.evaluate(images, y[:, None].astype("float32"), batch_size=5, verbose=0)
    model.compile(loss="categorical_crossentropy")
    one_hot = np.eye(len(labels), dtype="float32")[y]
    return model.evaluate(images, one_hot, batch_size=5, verbose=0)


def test_loss_is_what_keras_evaluate_reports_even_for_a_confident_mistake(tmp_path, monkeypatch):
    # Steep models: the misleading images get P(true class) far below Keras' old 1e-7 clip.
    make_multiclass(tmp_path, scale=200)
    make_binary(tmp_path, scale=400)
    monkeypatch.chdir(tmp_path)
    for name, task, labels in [
        ("cnn", "multiclass", sorted(PROTOTYPES)), ("binary_cnn", "binary", sorted(GREYS))
    ]:  # fmt: skip
        loss = evaluate(settings(name, task))["loss"]
        expected = keras_evaluate_loss(tmp_path, name, task, labels)
        assert loss == pytest.approx(expected, rel=1e-5), name
        rows = read_csv(Path(f"metrics/eval/{name}_predictions.csv"))
        p_true = np.array([float(r[f"p_{r['actual']}"]) for r in rows])
        assert p_true.min() < 1e-9, name  # the clip would have changed the loss
        clipped = -np.mean(np.log(np.clip(p_true, 1e-7, 1)))
        assert abs(clipped - expected) > 0.1, name


def test_classes_that_differ_from_the_test_split_stop_with_a_clear_error(tmp_path, monkeypatch):
    make_multiclass(tmp_path)
    labels_file = tmp_path / "data/models/cnn/labels.json"
    labels_file.write_text(json.dumps(["apple", "banana", "corn", "sweet corn"]))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvaluationError) as err:
        evaluate(settings("cnn", "multiclass"))
    message = str(err.value)
    assert "data/models/cnn/labels.json" in message
    assert "'sweet corn'" in message and "'sweetcorn'" in message
    assert not Path("metrics/eval/cnn.json").exists()

    labels_file.write_text(json.dumps(["banana", "apple", "corn", "sweetcorn"]))
    with pytest.raises(EvaluationError, match="different order"):
        evaluate(settings("cnn", "multiclass"))


def test_a_model_without_its_training_record_is_refused_in_one_line(tmp_path, monkeypatch):
    make_multiclass(tmp_path)
    (tmp_path / "data/models/cnn/trained_with.json").unlink()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvaluationError) as err:
        evaluate(settings("cnn", "multiclass"))
    assert str(err.value).startswith("data/models/cnn/trained_with.json: not found; retrain cnn")
    assert not Path("metrics/eval/cnn_details.json").exists()


def test_binary_model_against_the_multiclass_layout_is_refused(tmp_path, monkeypatch):
    make_binary(tmp_path)
    make_multiclass(tmp_path, name="other")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvaluationError, match="only in the model: .*fruit"):
        evaluate(settings("binary_cnn", "multiclass"))


def test_scores_of_another_test_split_are_refused_naming_the_file(tmp_path, monkeypatch):
    make_multiclass(tmp_path)
    extra = tmp_path / "data/layouts/multiclass/test/apple/apple 3.jpg"
    save_image(extra, PROTOTYPES["apple"])  # the layout changed after the model was scored
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvaluationError) as err:
        evaluate(settings("cnn", "multiclass"))
    assert str(err.value).startswith("data/models/cnn/test_logits.json scores 12 test images, "
                                     "but data/layouts/multiclass/test holds 13")  # fmt: skip
    (extra.parent / "apple 0.jpg").unlink()  # as many images as scored, one of them another
    with pytest.raises(EvaluationError, match="holds 12 others: .*train it again"):
        evaluate(settings("cnn", "multiclass"))
    assert not Path("metrics/eval").exists()


def test_a_model_giving_nan_is_refused_naming_it(tmp_path, monkeypatch):
    make_multiclass(tmp_path, scale=np.nan)  # NaN weights, as a diverged training leaves
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvaluationError) as err:
        evaluate(settings("cnn", "multiclass"))
    assert str(err.value).startswith("data/models/cnn/model.keras: model cnn gives NaN ")
    assert "for 12 of 12 test images" in str(err.value)
    assert not Path("metrics/eval").exists()


PARAMS = f"""\
seed: 1
evaluate: {{bootstrap_resamples: 200, threshold: 0.5, ece_bins: 10}}
models:
  cnn: {model_block("multiclass")}
  vgg16: {model_block("multiclass", arch="vgg16", lr="1e-05")}
"""


def test_settings_come_from_params_and_name_the_setting_at_fault(tmp_path):
    (tmp_path / "params.yaml").write_text(PARAMS)
    params = load(tmp_path / "params.yaml")  # reads 1e-05 as a number, as the stage does
    s = evaluate_settings(params, "vgg16")
    assert (s.name, s.model.task, s.model.arch) == ("vgg16", "multiclass", "vgg16")
    assert s.model.lr == 1e-5
    assert (s.bootstrap_resamples, s.threshold, s.seed) == (200, 0.5, 1)
    assert s.ece_bins == 10
    with pytest.raises(ParamError, match="unknown model 'resnet' \\(models: has cnn, vgg16\\)"):
        evaluate_settings(params, "resnet")
    for key, value in [("threshold", 1), ("threshold", "0.5"), ("bootstrap_resamples", 0),
                       ("ece_bins", 0)]:  # fmt: skip
        bad = load(tmp_path / "params.yaml")
        bad["evaluate"][key] = value
        with pytest.raises(ParamError, match=f"'evaluate.{key}'"):
            evaluate_settings(bad, "cnn")


def test_stage_runs_from_params_and_reports_a_missing_model_in_one_line(
    tmp_path, monkeypatch, stage
):
    make_multiclass(tmp_path)
    (tmp_path / "params.yaml").write_text(PARAMS)
    monkeypatch.chdir(tmp_path)
    code, out, _ = stage("evaluate.py", "cnn")
    assert code == 0 and "evaluate@cnn: test accuracy 91.67 %" in out
    assert (tmp_path / "metrics/eval/cnn.json").is_file()

    code, _, err = stage("evaluate.py", "vgg16")
    assert code == 1
    missing = "data/models/vgg16/labels.json: not found; train the model first (dvc repro)"
    assert err == f"error: {missing}\n"

    code, _, err = stage("evaluate.py", "resnet")
    assert code == 1 and "unknown model 'resnet'" in err and "Traceback" not in err
    code, _, err = stage("evaluate.py")
    assert code == 1 and err.startswith("error: usage: python stages/evaluate.py <model>")
