"""What a model must beat on its test set: always answering the training set's most common
class (majority), and guessing uniformly at random (chance, expected values).

A 36-class model at chance or a binary model below "always vegetable" can look like a
result in a table of accuracies alone; these rows, and each model's exact McNemar test
against the majority predictor on the same images, say so.
"""

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fruitveg.evaluation.statistics import exact_interval, mcnemar_exact


def majority_label(layout: dict[str, Any]) -> str:
    """The most common class in the layout's training split (ties: first by name); fixed
    before the test set is seen, as a predictor should be."""
    train = layout["counts"]["train"]
    return min(train, key=lambda label: (-train[label], label))


def task_labels(layout: dict[str, Any], actual: pd.Series) -> list[str]:
    counts = layout["counts"]
    return sorted(set(counts["train"]) | set(counts["test"]) | set(actual))


def majority_row(task: str, layout: dict[str, Any], actual: pd.Series) -> dict[str, Any]:
    label = majority_label(layout)
    labels = task_labels(layout, actual)
    guess = [label] * len(actual)
    right = int((actual == label).sum())
    low, high = exact_interval(right, len(actual))
    return {
        "task": task,
        "baseline": "majority",
        "label": label,
        "accuracy": right / len(actual),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "balanced_accuracy": float(skm.balanced_accuracy_score(actual, guess)),
        "f1_macro": float(
            skm.f1_score(actual, guess, labels=labels, average="macro", zero_division=0)
        ),
    }


def chance_row(task: str, layout: dict[str, Any], actual: pd.Series) -> dict[str, Any]:
    """Expected scores of a uniform guess among the K classes: accuracy and balanced
    accuracy 1/K; class k of n_k test images expects tp = n_k/K, fp = (n - n_k)/K and
    fn = n_k (K - 1)/K, so F1_k = 2 n_k / (n + K n_k)."""
    labels = task_labels(layout, actual)
    k, n = len(labels), len(actual)
    n_k = actual.value_counts().reindex(labels, fill_value=0).to_numpy()
    return {
        "task": task,
        "baseline": "chance",
        "label": None,
        "accuracy": 1 / k,
        "balanced_accuracy": 1 / k,
        "f1_macro": float(np.mean(2 * n_k / (n + k * n_k))),
    }


def against_majority(frame: pd.DataFrame, label: str) -> dict[str, Any]:
    """Exact McNemar test of a model against the majority predictor on the same images."""
    model_only, majority_only, p = mcnemar_exact(
        frame["correct"].to_numpy(), (frame["actual"] == label).to_numpy()
    )
    return {"only_model_correct": model_only, "only_majority_correct": majority_only, "p_value": p}
