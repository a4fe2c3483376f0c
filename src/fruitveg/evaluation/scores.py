"""Test metrics and per-class scores of one model from its class probabilities.

Every number here follows from the per-image probabilities that evaluate writes beside
them (and the settings), so tests/evaluation/test_recompute.py can recompute each one.
"""

from typing import Any

import numpy as np
from scipy import special
from sklearn import metrics as skm

from fruitveg.evaluation.settings import EvaluateSettings
from fruitveg.evaluation.statistics import (
    calibration_error,
    cross_entropy,
    exact_interval,
    macro_f1_interval,
)
from fruitveg.scoring.loading import EvaluationError


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities in float64 from the model's logits; one sigmoid logit
    gives (P(first label), P(second label))."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[-1] == 1:
        return np.column_stack([special.expit(-logits[:, 0]), special.expit(logits[:, 0])])
    return special.softmax(logits, axis=1)


def predicted_classes(probs: np.ndarray, threshold: float) -> np.ndarray:
    if probs.shape[1] == 2:  # binary: P(second label) >= threshold predicts it
        return (probs[:, 1] >= threshold).astype(np.int64)
    return probs.argmax(axis=1)


def compute_metrics(
    y: np.ndarray, probs: np.ndarray, settings: EvaluateSettings
) -> dict[str, float | int | None]:
    """Flat test metrics of one model (no timing, no parameter count)."""
    n_labels = probs.shape[1]
    ids = np.arange(n_labels)
    pred = predicted_classes(probs, settings.threshold)
    correct = pred == y
    low, high = exact_interval(int(correct.sum()), len(y))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=ids, average="macro", zero_division=0
    )
    f1_low, f1_high = macro_f1_interval(
        y, pred, n_labels, settings.bootstrap_resamples, settings.seed
    )
    result: dict[str, float | int | None] = {
        "accuracy": float(correct.mean()),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "loss": cross_entropy(y, probs),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "f1_macro_ci_low": f1_low,
        "f1_macro_ci_high": f1_high,
        "ece": calibration_error(probs[np.arange(len(y)), pred], correct, settings.ece_bins),
        "ece_bins": settings.ece_bins,
        "n_test": len(y),
    }
    if n_labels > 3:
        result["top3_accuracy"] = float(skm.top_k_accuracy_score(y, probs, k=3, labels=ids))
    if n_labels == 2:
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
