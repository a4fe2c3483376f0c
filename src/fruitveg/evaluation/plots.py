"""plots/eval/<model>/: the confusion matrix and training curves of one model as pictures,
and for a binary model its ROC curve (points and picture).

The folder holds pictures and ROC points only: dvc.yaml lists it whole, so `dvc plots show`
draws every model's pictures without naming the models. The confusion data of every model
is drawn from the report's long-format table (fruitveg.report.plot_data).
"""

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display backend
from matplotlib.ticker import MaxNLocator
from sklearn import metrics as skm

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir
from fruitveg.core.history import Epoch
from fruitveg.evaluation.files import save_png, write_csv
from fruitveg.evaluation.scores import predicted_classes
from fruitveg.evaluation.settings import EvaluateSettings


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


def best_epoch(history: list[Epoch]) -> int | None:
    """The first epoch of highest val_accuracy (the checkpoint's); None if every one is NaN."""
    scored = [r for r in history if not math.isnan(r.val_accuracy)]
    return max(scored, key=lambda r: r.val_accuracy).epoch if scored else None


def plot_curves(history: list[Epoch], model: str, target: Path) -> None:
    """Accuracy and loss, train against validation, with the checkpoint's epoch marked."""
    best = best_epoch(history)
    epochs = [r.epoch for r in history]
    fig = Figure(figsize=(11, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(epochs, [getattr(r, metric) for r in history], marker="o", label="train")
        validation = [getattr(r, f"val_{metric}") for r in history]
        ax.plot(epochs, validation, marker="o", label="validation")
        if best is not None:
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


def write_plots(
    settings: EvaluateSettings,
    y: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    result: dict[str, float | int | None],
    history: list[Epoch],
) -> None:
    """plots/eval/<model>/: confusion.png, curves.png and, binary, roc.csv and roc.png."""
    name = settings.name
    pred = predicted_classes(probs, settings.threshold)
    with atomic_dir(paths.eval_plots_dir(name)) as out:
        title = f"{name}: test accuracy {100 * result['accuracy']:.2f} %"
        plot_confusion(y, pred, labels, title, out / "confusion.png")
        plot_curves(history, name, out / "curves.png")
        if len(labels) == 2:
            score = probs[:, 1]
            fpr, tpr, thresholds = skm.roc_curve(y, score)
            # The first threshold is inf (nothing predicted positive), as sklearn defines it.
            rows = [list(r) for r in zip(fpr, tpr, thresholds, strict=True)]
            write_csv(out / "roc.csv", ["fpr", "tpr", "threshold"], rows)
            cm = skm.confusion_matrix(y, pred, labels=[0, 1])
            point = (cm[0, 1] / max(cm[0].sum(), 1), cm[1, 1] / max(cm[1].sum(), 1))
            auc = result["roc_auc"]
            plot_roc(fpr, tpr, auc, point, settings.threshold, f"{name}: ROC", out / "roc.png")
