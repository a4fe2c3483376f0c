"""Every number of metrics/eval/<model>.json and <model>_details.json, recomputed with
scikit-learn and SciPy from the per-image prediction files alone (and the settings in
params.yaml), agrees.

Checked on the committed outputs of the default run and on a fresh evaluation of tiny
Keras models. Only the parameter count and the speed are not from the predictions.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from fruitveg.core import params as P
from fruitveg.evaluation.evaluate import evaluate
from fruitveg.evaluation.headline import unnest

from .conftest import REPO
from .test_evaluate import make_binary, make_multiclass, settings

NOT_FROM_PREDICTIONS = {"params", "images_per_s", "latency_ms"}


def recompute(
    predictions: Path, threshold: float, ece_bins: int, resamples: int, seed: int
) -> tuple[dict, dict]:
    """(metrics, per-class scores) from one model's predictions file."""
    frame = pd.read_csv(predictions, dtype=str, keep_default_na=False)
    columns = [c for c in frame.columns if c.startswith("p_")]
    labels = [c.removeprefix("p_") for c in columns]
    probs = frame[columns].map(float).to_numpy()  # Python's float(): the exact round trip
    y = frame["actual"].map(labels.index).to_numpy()
    pred = frame["predicted"].map(labels.index).to_numpy()
    n, k = probs.shape
    ids = list(range(k))
    # The predicted label and its confidence follow from the probabilities.
    expected = (probs[:, 1] >= threshold).astype(int) if k == 2 else probs.argmax(axis=1)
    assert (pred == expected).all(), predictions
    assert np.array_equal(frame["confidence"].map(float), probs[np.arange(n), pred])
    assert probs.sum(axis=1) == pytest.approx(np.ones(n), abs=1e-9)

    right = int(skm.accuracy_score(y, pred, normalize=False))
    ci = stats.binomtest(right, n).proportion_ci(0.95, method="exact")
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=ids, average="macro", zero_division=0
    )
    f1_ci = stats.bootstrap(
        (y, pred),
        lambda a, b: skm.f1_score(a, b, labels=ids, average="macro", zero_division=0),
        n_resamples=resamples,
        method="BCa",
        paired=True,
        vectorized=False,
        rng=np.random.default_rng(seed),
    ).confidence_interval
    confidence = probs[np.arange(n), pred]
    edges = np.linspace(0, 1, ece_bins + 1)
    bin_acc, _, _ = stats.binned_statistic(confidence, (pred == y).astype(float), "mean", edges)
    bin_conf, _, _ = stats.binned_statistic(confidence, confidence, "mean", edges)
    count, _, _ = stats.binned_statistic(confidence, confidence, "count", edges)
    filled = count > 0
    metrics = {
        "accuracy": right / n,
        "accuracy_ci_low": ci.low,
        "accuracy_ci_high": ci.high,
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        # -log P(true class), unclipped (log_loss clips at float64's eps; equal above it)
        "loss": float(-np.mean(np.log(probs[np.arange(n), y]))),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "f1_macro_ci_low": f1_ci.low if np.isfinite(f1_ci.low) else None,
        "f1_macro_ci_high": f1_ci.high if np.isfinite(f1_ci.high) else None,
        "ece": float(np.sum(count[filled] * np.abs(bin_acc - bin_conf)[filled]) / n),
        "ece_bins": ece_bins,
        "n_test": n,
    }
    if k > 3:
        metrics["top3_accuracy"] = skm.top_k_accuracy_score(y, probs, k=3, labels=ids)
    if k == 2:
        metrics["roc_auc"] = skm.roc_auc_score(y, probs[:, 1])
        metrics["threshold"] = threshold
    p, r, f, support = skm.precision_recall_fscore_support(
        y, pred, labels=ids, average=None, zero_division=0
    )
    per_class = {
        label: {"precision": p[i], "recall": r[i], "f1": f[i], "support": support[i]}
        for i, label in enumerate(labels)
    }
    return metrics, per_class


def assert_agree(metrics_file: Path, params: dict) -> None:
    model = metrics_file.stem
    stored = unnest(model, json.loads(metrics_file.read_text(encoding="utf-8")))
    stored |= json.loads(metrics_file.with_name(f"{model}_details.json").read_text())
    stored.pop("trained_with", None)  # what trained the model: not a number of its predictions
    predictions = metrics_file.with_name(f"{model}_predictions.csv")
    threshold = P.get(params, "evaluate.threshold")
    metrics, per_class = recompute(
        predictions,
        threshold,
        P.get(params, "evaluate.ece_bins"),
        P.get(params, "evaluate.bootstrap_resamples"),
        P.get(params, "seed"),
    )
    assert set(stored) == set(metrics) | NOT_FROM_PREDICTIONS, model  # none left unchecked
    for key, value in metrics.items():
        assert stored[key] == (None if value is None else pytest.approx(value, abs=1e-6)), key
    stored_per_class = json.loads(metrics_file.with_name(f"{model}_per_class.json").read_text())
    assert list(stored_per_class) == list(per_class)
    for label, scores in per_class.items():
        assert stored_per_class[label] == pytest.approx(scores, abs=1e-12), (model, label)


def committed() -> list[Path]:
    found = (REPO / "metrics" / "eval").glob("*.json")
    return sorted(p for p in found if not p.stem.endswith(("_per_class", "_details")))


@pytest.mark.parametrize("metrics_file", committed(), ids=lambda p: p.stem)
def test_committed_metrics_follow_from_the_committed_predictions(metrics_file):
    header = (metrics_file.with_name(f"{metrics_file.stem}_predictions.csv")).open().readline()
    if ",p_" not in header:
        pytest.skip("committed outputs predate the probability columns: dvc repro, then commit")
    assert_agree(metrics_file, P.load(REPO / "params.yaml"))


def test_a_fresh_evaluation_follows_from_its_predictions(tmp_path, monkeypatch):
    make_multiclass(tmp_path)
    make_binary(tmp_path)
    monkeypatch.chdir(tmp_path)
    params = {"seed": 7, "evaluate": {"threshold": 0.5, "ece_bins": 15}}
    for name, task in (("cnn", "multiclass"), ("binary_cnn", "binary")):
        s = settings(name, task)
        evaluate(s)
        params["evaluate"]["bootstrap_resamples"] = s.bootstrap_resamples
        assert_agree(Path(f"metrics/eval/{name}.json"), params)
