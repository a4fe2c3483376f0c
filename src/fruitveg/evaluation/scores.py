"""Test metrics and per-class scores of one model from its raw outputs."""

from typing import Any

import numpy as np
from sklearn import metrics as skm

from fruitveg.evaluation.loading import EvaluationError
from fruitveg.evaluation.settings import EvaluateSettings
from fruitveg.evaluation.statistics import bootstrap_interval, cross_entropy


def predicted_classes(outputs: np.ndarray, threshold: float) -> np.ndarray:
    if outputs.shape[-1] == 1:  # sigmoid: P(second label)
        return (outputs[:, 0] >= threshold).astype(np.int64)
    return outputs.argmax(axis=1)


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities, also for a one-output sigmoid model."""
    if outputs.shape[-1] == 1:
        return np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
    return outputs


def compute_metrics(
    y: np.ndarray, outputs: np.ndarray, labels: list[str], settings: EvaluateSettings
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
