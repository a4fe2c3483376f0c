"""Intervals, macro F1, loss, calibration error, the exact McNemar test and Holm's
adjustment, each against a direct computation."""

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score, log_loss

from fruitveg.evaluation.paired import holm, mcnemar_p
from fruitveg.evaluation.statistics import (
    calibration_error,
    cross_entropy,
    exact_interval,
    macro_f1,
    macro_f1_interval,
    mcnemar_exact,
)


def test_exact_interval_is_clopper_pearson_from_beta_quantiles():
    for k, n in [(90, 100), (355, 359), (0, 20), (20, 20)]:
        low, high = exact_interval(k, n)
        direct_low = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        direct_high = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        assert low == pytest.approx(direct_low, abs=1e-9)
        assert high == pytest.approx(direct_high, abs=1e-9)
    # Every image right: a one-sided interval, not a point (the bootstrap gave [1, 1]).
    low, high = exact_interval(50, 50)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 50), abs=1e-9)


@pytest.mark.parametrize("p", [0.9, 0.97, 0.99, 0.997])
def test_exact_interval_covers_at_least_95_percent_at_the_studys_scale(p):
    """Coverage summed over every possible count k of right images out of 359."""
    n = 359
    k = np.arange(n + 1)
    covered = [low <= p <= high for low, high in (exact_interval(i, n) for i in k)]
    assert float(np.sum(stats.binom.pmf(k, n, p)[covered])) >= 0.95


def test_macro_f1_is_sklearns_over_all_labels_and_vectorises():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, size=(5, 40))
    pred = np.where(rng.random((5, 40)) < 0.6, y, rng.integers(0, 6, size=(5, 40)))
    pred[:, 0] = 7  # a label never in y; label 6 neither seen nor predicted scores 0
    ours = macro_f1(y, pred, n_labels=8)
    direct = [
        f1_score(a, b, labels=range(8), average="macro", zero_division=0)
        for a, b in zip(y, pred, strict=True)
    ]
    assert ours == pytest.approx(direct, abs=1e-12)


def test_macro_f1_interval_holds_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 30)
    pred = np.where(rng.random(120) < 0.8, y, rng.integers(0, 4, size=120))
    point = macro_f1(y, pred, 4)
    low, high = macro_f1_interval(y, pred, 4, resamples=1000, seed=3)
    assert low < point < high and 0.1 < high - low < 0.3
    assert macro_f1_interval(y, pred, 4, 1000, seed=3) == (low, high)
    # Every image right: every resample scores 1, no spread to estimate an interval from.
    assert macro_f1_interval(y, y, 4, 200, seed=3) == (None, None)


def test_cross_entropy_agrees_with_sklearn_and_does_not_clip():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=40)
    y = rng.integers(0, 5, size=40)
    assert cross_entropy(y, probs) == pytest.approx(log_loss(y, probs, labels=range(5)), rel=1e-9)
    # A confident mistake counts in full, as in Keras' loss from logits (no 1e-7 clip: 16.1).
    confident_mistake = np.array([[1 - 1e-12, 1e-12]])
    assert cross_entropy(np.array([1]), confident_mistake) == pytest.approx(-math.log(1e-12))


def test_calibration_error_against_binned_statistics():
    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.2, 1.0, size=500)
    confidence[:3] = [1.0, 0.2, 0.6]  # on bin edges
    correct = rng.random(500) < confidence**2
    edges = np.linspace(0, 1, 11)
    acc, _, _ = stats.binned_statistic(confidence, correct.astype(float), "mean", bins=edges)
    conf, _, _ = stats.binned_statistic(confidence, confidence, "mean", bins=edges)
    count, _, _ = stats.binned_statistic(confidence, confidence, "count", bins=edges)
    filled = count > 0
    direct = np.sum(count[filled] * np.abs(acc[filled] - conf[filled])) / 500
    assert calibration_error(confidence, correct, bins=10) == pytest.approx(direct, abs=1e-12)
    assert calibration_error(np.ones(4), np.zeros(4, bool), 15) == 1.0  # sure and always wrong
    assert calibration_error(np.full(4, 0.75), np.array([1, 1, 1, 0], bool), 15) == 0.0


def test_mcnemar_exact_matches_the_binomial_sum():
    # 11 discordant images: A alone right on 9, B alone right on 2, 80 both right, 5 both wrong.
    a = np.array([1] * 9 + [0] * 2 + [1] * 80 + [0] * 5, dtype=bool)
    b = np.array([0] * 9 + [1] * 2 + [1] * 80 + [0] * 5, dtype=bool)
    a_only, b_only, p = mcnemar_exact(a, b)
    # Two-sided exact p: 2 * P(X <= 2), X ~ Binomial(11, 1/2) = 2 * (1 + 11 + 55) / 2048.
    direct = 2 * sum(math.comb(11, k) for k in range(3)) / 2**11
    assert (a_only, b_only) == (9, 2)
    assert p == pytest.approx(direct, rel=1e-12)
    assert p == pytest.approx(0.0654296875, rel=1e-12)
    assert mcnemar_exact(b, a) == (2, 9, pytest.approx(direct, rel=1e-12))


def test_mcnemar_exact_of_identical_outcomes_and_of_an_even_split():
    same = np.array([True, False, True])
    assert mcnemar_exact(same, same) == (0, 0, 1.0)
    a = np.array([True, False] * 3)
    assert mcnemar_exact(a, ~a)[2] == pytest.approx(1.0)


def test_mcnemar_p_is_scipys_exact_binomial_test_and_handles_20000_discordant_images():
    # The report and scripts/review.py share this p; the review's own copy summed
    # math.comb afresh per term (58 s here), the report's called scipy.
    for only_a, only_b in [(0, 1), (0, 3), (9, 2), (5, 5), (40, 60), (1, 200), (7, 8), (300, 345)]:
        expected = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
        assert mcnemar_p(only_a, only_b) == pytest.approx(expected, rel=1e-12, abs=0)
        assert mcnemar_p(only_b, only_a) == mcnemar_p(only_a, only_b)
    assert mcnemar_p(0, 0) == 1.0
    # 20,000 discordant images: 9,900 against 10,100 (scipy's own p agrees to 1e-12).
    p = mcnemar_p(9_900, 10_100)
    assert p == pytest.approx(stats.binomtest(9_900, 20_000, 0.5).pvalue, rel=1e-12)
    assert 0.15 < p < 0.16
    assert mcnemar_p(0, 20_000) == 0.0  # 2 / 2**20000 is below the smallest float


def test_holm_steps_down_and_stays_monotone():
    # Sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []
