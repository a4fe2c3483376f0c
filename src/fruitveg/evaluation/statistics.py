"""The statistics of evaluation and the report, each checked against a direct computation
in tests/evaluation/test_statistics.py."""

import warnings

import numpy as np
from scipy import stats

from fruitveg.evaluation.paired import mcnemar_p

CONFIDENCE = 0.95


def exact_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion: never below its nominal coverage, and not
    empty at 0 or 100 % (where a percentile bootstrap collapses to a point)."""
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)


def macro_f1(y: np.ndarray, pred: np.ndarray, n_labels: int, axis: int = -1) -> np.ndarray:
    """Macro F1 over all n_labels classes (a class never seen nor predicted scores 0, as
    sklearn's zero_division=0 has it), vectorised over leading axes of y and pred."""
    y, pred = np.moveaxis(y, axis, -1), np.moveaxis(pred, axis, -1)
    classes = np.arange(n_labels)[:, None]  # against (..., 1, n): counts per class
    is_y, is_pred = y[..., None, :] == classes, pred[..., None, :] == classes
    tp = np.sum(is_y & is_pred, axis=-1)
    wrong = np.sum(is_y ^ is_pred, axis=-1)  # fp + fn
    denominator = 2 * tp + wrong
    f1 = np.divide(2 * tp, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    return f1.mean(axis=-1)


def macro_f1_interval(
    y: np.ndarray, pred: np.ndarray, n_labels: int, resamples: int, seed: int,
    confidence: float = CONFIDENCE,
) -> tuple[float | None, float | None]:  # fmt: skip
    """BCa bootstrap interval of macro F1 over the test images (no exact interval exists).

    None, None where the bootstrap can't estimate one: every resample scores the same
    (e.g. every image right), so there is no spread to read an interval from.
    """
    # Degenerate data (no spread) warns and gives NaN: handled below, not a stage warning.
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        ci = stats.bootstrap(
            (np.asarray(y), np.asarray(pred)),
            lambda a, b, axis=-1: macro_f1(a, b, n_labels, axis),
            n_resamples=resamples,
            confidence_level=confidence,
            method="BCa",
            paired=True,
            vectorized=True,
            batch=200,  # bounds memory: (batch, classes, images) booleans at a time
            rng=np.random.default_rng(seed),
        ).confidence_interval
    if not (np.isfinite(ci.low) and np.isfinite(ci.high)):
        return None, None
    return float(ci.low), float(ci.high)


def cross_entropy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean -log P(true class), without clipping: what Keras' model.evaluate reports.

    Keras computes its cross-entropy from the logits under a softmax or sigmoid output
    (keras backend _get_logits), so no probability is clipped at 1e-7; evaluation takes
    the probabilities from the logits in float64, so tiny ones stay exact here too.
    """
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(probs[np.arange(len(y)), y])))


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """Expected calibration error: over equal-width confidence bins ([a, b), the last one
    closed), the image-weighted mean gap between accuracy and mean confidence."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.digitize(confidence, edges[1:-1])
    gaps = [
        np.sum(which == b) * abs(np.mean(correct[which == b]) - np.mean(confidence[which == b]))
        for b in np.unique(which)
    ]
    return float(np.sum(gaps) / len(confidence))


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on paired outcomes: (only A right, only B right, two-sided p).

    Under the null hypothesis the discordant images split evenly between the two models,
    so the count of 'only A right' among them is Binomial(discordant, 1/2).
    """
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    a_only = int(np.sum(a_correct & ~b_correct))
    b_only = int(np.sum(~a_correct & b_correct))
    return a_only, b_only, mcnemar_p(a_only, b_only)
