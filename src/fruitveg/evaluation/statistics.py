"""The statistics of evaluation and the report, each checked against a direct computation
in tests/evaluation/test_statistics.py."""

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
KERAS_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in its cross-entropy losses


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


def cross_entropy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean cross-entropy computed as Keras does, so it compares with the history's val_loss.

    (sklearn's log_loss clips at float64's epsilon instead, which makes one confident
    mistake weigh more than in training's own numbers.)
    """
    p_true = probs[np.arange(len(y)), y] / probs.sum(axis=1)
    return float(-np.mean(np.log(np.clip(p_true, KERAS_EPSILON, 1 - KERAS_EPSILON))))


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on paired outcomes: (only A right, only B right, two-sided p).

    Under the null hypothesis the discordant images split evenly between the two models,
    so the count of 'only A right' among them is Binomial(discordant, 1/2).
    """
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    a_only = int(np.sum(a_correct & ~b_correct))
    b_only = int(np.sum(~a_correct & b_correct))
    if a_only + b_only == 0:
        return 0, 0, 1.0
    return a_only, b_only, float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)
