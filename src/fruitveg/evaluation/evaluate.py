"""Evaluate one trained model on the test split of its layout.

Contract: data/models/<model>/model.keras (best checkpoint) takes raw 0-255 RGB images and
outputs softmax over the labels in labels.json, or for a binary model one sigmoid =
P(second label). The test split is data/layouts/<task>/test/<label>/<image>, with the
labels sorted by name.

Outputs: metrics (flat numbers, read by `dvc metrics`), per-class scores, per-image
predictions (the report pairs models on them), the data of DVC's `confusion` template, a
confusion-matrix picture, training curves, and for a binary model the ROC curve.
"""

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no global state, no display backend
from matplotlib.ticker import MaxNLocator
from PIL import Image
from scipy import stats
from sklearn import metrics as skm

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, atomic_file, write_json
from fruitveg.core.errors import PipelineError

CONFIDENCE = 0.95
CURVE_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
LATENCY_SAMPLES = 20
KERAS_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in its cross-entropy losses


class EvaluationError(PipelineError):
    """The model, its labels or the test split can't be evaluated; the message says why."""


# Output paths, relative to the repository root.
def metrics_json(model: str) -> Path:
    return paths.METRICS / "eval" / f"{model}.json"


def per_class_json(model: str) -> Path:
    return paths.METRICS / "eval" / f"{model}_per_class.json"


def predictions_csv(model: str) -> Path:
    """One row per test image: path (relative to the test split), actual, predicted, confidence."""
    return paths.METRICS / "eval" / f"{model}_predictions.csv"


def plots_dir(model: str) -> Path:
    """confusion.csv, confusion.png, curves.png and, for a binary model, roc.csv and roc.png."""
    return paths.PLOTS / "eval" / model


@dataclass(frozen=True)
class Settings:
    batch_size: int = 64
    bootstrap_resamples: int = 2000
    threshold: float = 0.5  # binary models: P(second label) >= threshold predicts it
    seed: int = 42


@dataclass(frozen=True)
class TestSplit:
    root: Path
    labels: list[str]
    files: list[str]  # "<label>/<file name>", relative to root
    y: np.ndarray  # index into labels


def find_test_split(layout: Path) -> TestSplit:
    root = Path(layout) / "test"
    if not root.is_dir():
        raise EvaluationError(f"{root}: test split not found; build the layout first (dvc repro)")
    labels = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[str] = []
    y: list[int] = []
    for index, label in enumerate(labels):
        for f in sorted((root / label).iterdir()):
            if f.is_file() and f.suffix.lower() in paths.LAYOUT_IMAGE_SUFFIXES:
                files.append(f"{label}/{f.name}")
                y.append(index)
    if not files:
        raise EvaluationError(f"{root}: no test images found")
    return TestSplit(root, labels, files, np.asarray(y, dtype=np.int64))


def read_labels(model_dir: Path) -> list[str]:
    path = Path(model_dir) / "labels.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: not found; train the model first (dvc repro)") from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}: not valid JSON: {exc}") from None
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        raise EvaluationError(f"{path}: expected a non-empty list of label names")
    return labels


def check_labels(model_labels: list[str], split: TestSplit, labels_file: Path) -> None:
    """The model's output order must be the test split's sorted label folders, exactly."""
    if model_labels == split.labels:
        return
    only_model = sorted(set(model_labels) - set(split.labels))
    only_split = sorted(set(split.labels) - set(model_labels))
    if only_model or only_split:
        in_model, in_split = only_model or "none", only_split or "none"
        detail = f"only in the model: {in_model}; only in the test split: {in_split}"
    else:
        detail = f"same names in a different order: {model_labels} vs {split.labels}"
    raise EvaluationError(
        f"classes of {labels_file} do not match the test split {split.root} ({detail}); "
        "was the model trained on another layout?"
    )


def load_model(model_dir: Path) -> tuple[Any, list[str]]:
    model_file = Path(model_dir) / "model.keras"
    if not model_file.is_file():
        raise EvaluationError(f"{model_file}: model file not found; train it first (dvc repro)")
    labels = read_labels(model_dir)
    import keras  # here, not at the top: the report and the statistics don't need TensorFlow

    try:
        model = keras.saving.load_model(model_file, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean the same here
        raise EvaluationError(f"{model_file}: cannot be loaded: {exc}") from exc
    units = model.outputs[0].shape[-1]
    expected = 1 if len(labels) == 2 and units == 1 else len(labels)
    if units != expected:
        raise EvaluationError(
            f"{model_file}: the model has {units} outputs but labels.json lists "
            f"{len(labels)} labels"
        )
    return model, labels


def load_images(split: TestSplit, size: tuple[int | None, int | None]) -> np.ndarray:
    """All test images as uint8 RGB, shape (n, height, width, 3)."""
    height, width = size
    images = []
    for rel in split.files:
        path = split.root / rel
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except OSError as exc:
            raise EvaluationError(f"{path}: cannot be read as an image: {exc}") from None
        if (height and rgb.shape[0] != height) or (width and rgb.shape[1] != width):
            raise EvaluationError(
                f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but the model takes "
                f"{width}x{height}; the layout and the model are out of step (dvc repro)"
            )
        images.append(rgb)
    if len({im.shape for im in images}) > 1:
        raise EvaluationError(f"{split.root}: test images differ in size; rebuild the layout")
    return np.stack(images)


def predict(model: Any, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Model outputs for all images, and the throughput of a timed pass in images/s."""
    batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    # Warm up on each batch shape first so tracing doesn't count as inference time.
    for shape_example in {b.shape: b for b in batches}.values():
        model.predict_on_batch(shape_example.astype(np.float32))
    start = time.perf_counter()
    outputs = [np.asarray(model.predict_on_batch(b.astype(np.float32))) for b in batches]
    seconds = time.perf_counter() - start
    return np.concatenate(outputs).astype(np.float64), len(images) / seconds


def latency_ms(model: Any, images: np.ndarray, samples: int = LATENCY_SAMPLES) -> float:
    """Median time to classify one image on its own, in milliseconds."""
    singles = [images[i : i + 1].astype(np.float32) for i in range(min(samples, len(images)))]
    model.predict_on_batch(singles[0])
    times = []
    for x in singles:
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def bootstrap_interval(
    values: np.ndarray, resamples: int, seed: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of per-image values (1/0 correct: accuracy)."""
    values = np.asarray(values, dtype=np.float64)
    if values.min() == values.max():  # every resample is identical: no spread to estimate
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def predicted_classes(outputs: np.ndarray, threshold: float) -> np.ndarray:
    if outputs.shape[-1] == 1:  # sigmoid: P(second label)
        return (outputs[:, 0] >= threshold).astype(np.int64)
    return outputs.argmax(axis=1)


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities, also for a one-output sigmoid model."""
    if outputs.shape[-1] == 1:
        return np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
    return outputs


def cross_entropy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean cross-entropy computed as Keras does, so it compares with the history's val_loss.

    (sklearn's log_loss clips at float64's epsilon instead, which makes one confident
    mistake weigh more than in training's own numbers.)
    """
    p_true = probs[np.arange(len(y)), y] / probs.sum(axis=1)
    return float(-np.mean(np.log(np.clip(p_true, KERAS_EPSILON, 1 - KERAS_EPSILON))))


def compute_metrics(
    y: np.ndarray, outputs: np.ndarray, labels: list[str], settings: Settings
) -> dict[str, float]:
    """Flat test metrics of one model from its raw outputs (no timing, no parameter count)."""
    pred = predicted_classes(outputs, settings.threshold)
    probs = class_probabilities(outputs)
    ids = np.arange(len(labels))
    correct = pred == y
    low, high = bootstrap_interval(correct, settings.bootstrap_resamples, settings.seed)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=ids, average="macro", zero_division=0
    )
    result = {
        "accuracy": float(correct.mean()),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "loss": cross_entropy(y, probs),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }
    if len(labels) > 3:
        result["top3_accuracy"] = float(skm.top_k_accuracy_score(y, probs, k=3, labels=ids))
    if len(labels) == 2:
        if len(np.unique(y)) < 2:
            raise EvaluationError("the binary test split holds one label only: no ROC curve")
        result["roc_auc"] = float(skm.roc_auc_score(y, probs[:, 1]))
        result["threshold"] = settings.threshold
    return result


def per_class_scores(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=np.arange(len(labels)), average=None, zero_division=0
    )
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def read_history(path: Path) -> pd.DataFrame:
    try:
        history = pd.read_csv(path)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: training history not found (dvc repro)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise EvaluationError(f"{path}: not a readable CSV: {exc}") from None
    missing = [c for c in CURVE_COLUMNS if c not in history.columns]
    if missing:
        raise EvaluationError(f"{path}: missing column(s) {', '.join(missing)}")
    if history.empty:
        raise EvaluationError(f"{path}: no epochs recorded")
    return history


def save_png(fig: Figure, target: Path) -> None:
    with atomic_file(target, "wb") as fh:
        fig.savefig(fh, format="png", bbox_inches="tight")


def plot_confusion(
    y: np.ndarray, pred: np.ndarray, labels: list[str], title: str, target: Path
) -> None:
    """Counts with every class name written out."""
    n = len(labels)
    matrix = skm.confusion_matrix(y, pred, labels=np.arange(n))
    side = max(5.0, 0.22 * n + 2.5)  # 36 classes: about 1200 px wide, fits DVC's page
    fig = Figure(figsize=(side + 1.5, side), dpi=100)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=9)
    ax.set_yticks(range(n), labels, fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    top = matrix.max() or 1
    size = 7 if n > 12 else 12
    cells = np.argwhere(matrix >= (1 if n > 12 else 0))  # many classes: leave zeros blank
    for i, j in cells:
        colour = "white" if matrix[i, j] > top / 2 else "black"
        ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=size, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    save_png(fig, target)


def plot_curves(history: pd.DataFrame, model: str, target: Path) -> None:
    """Accuracy and loss, train against validation, with the checkpoint's epoch marked."""
    best = history.loc[history["val_accuracy"].idxmax(), "epoch"]
    fig = Figure(figsize=(11, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(history["epoch"], history[metric], marker="o", label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(f"{model}: {metric}")
        ax.grid(alpha=0.3)
        ax.legend()
    save_png(fig, target)


def plot_roc(
    fpr: np.ndarray,
    tpr: np.ndarray,
    auc: float,
    point: tuple[float, float],
    threshold: float,
    title: str,
    target: Path,
) -> None:
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"ROC (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax.plot(*point, "o", color="black", label=f"threshold {threshold:g}")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    save_png(fig, target)


def _write_csv(target: Path, header: list[str], rows: list[list[Any]]) -> None:
    with atomic_file(target) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_plots(
    model_name: str,
    y: np.ndarray,
    outputs: np.ndarray,
    labels: list[str],
    result: dict[str, float],
    history: pd.DataFrame,
    settings: Settings,
) -> None:
    """plots/eval/<model>/: confusion data and picture, curves, ROC data and picture."""
    pred = predicted_classes(outputs, settings.threshold)
    with atomic_dir(plots_dir(model_name)) as out:
        pairs = [[labels[a], labels[p]] for a, p in zip(y, pred, strict=True)]
        _write_csv(out / "confusion.csv", ["actual", "predicted"], pairs)
        title = f"{model_name}: test accuracy {100 * result['accuracy']:.2f} %"
        plot_confusion(y, pred, labels, title, out / "confusion.png")
        plot_curves(history, model_name, out / "curves.png")
        if len(labels) == 2:
            score = class_probabilities(outputs)[:, 1]
            fpr, tpr, thresholds = skm.roc_curve(y, score)
            # The first threshold is inf (nothing predicted positive), as sklearn defines it.
            rows = [list(r) for r in zip(fpr, tpr, thresholds, strict=True)]
            _write_csv(out / "roc.csv", ["fpr", "tpr", "threshold"], rows)
            cm = skm.confusion_matrix(y, pred, labels=[0, 1])
            point = (cm[0, 1] / max(cm[0].sum(), 1), cm[1, 1] / max(cm[1].sum(), 1))
            title = f"{model_name}: ROC"
            plot_roc(fpr, tpr, result["roc_auc"], point, settings.threshold, title, out / "roc.png")


def evaluate(
    model_name: str,
    task: str,
    settings: Settings,
    models_root: Path = paths.MODELS,
    layouts_root: Path = paths.LAYOUTS,
) -> dict[str, float]:
    """Evaluate one model and write all its outputs; return its metrics."""
    model_dir = Path(models_root) / model_name
    split = find_test_split(Path(layouts_root) / task)
    model, labels = load_model(model_dir)
    check_labels(labels, split, model_dir / "labels.json")
    history = read_history(paths.history_csv(model_name))

    images = load_images(split, tuple(model.inputs[0].shape[1:3]))
    outputs, images_per_s = predict(model, images, settings.batch_size)
    result = compute_metrics(split.y, outputs, labels, settings)
    result.update(
        n_test=len(split.files),
        params=int(model.count_params()),
        images_per_s=images_per_s,
        latency_ms=latency_ms(model, images),
    )
    result = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}

    write_plots(model_name, split.y, outputs, labels, result, history, settings)
    pred = predicted_classes(outputs, settings.threshold)
    confidence = class_probabilities(outputs)[np.arange(len(pred)), pred]
    rows = [
        [path, labels[a], labels[p], round(float(c), 6)]
        for path, a, p, c in zip(split.files, split.y, pred, confidence, strict=True)
    ]
    _write_csv(predictions_csv(model_name), ["path", "actual", "predicted", "confidence"], rows)
    write_json(per_class_json(model_name), per_class_scores(split.y, pred, labels))
    write_json(metrics_json(model_name), result)
    return result
