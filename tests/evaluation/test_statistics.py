"""The bootstrap interval, the exact McNemar test and the loss against direct computations."""

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss

from fruitveg.evaluation.statistics import (
    KERAS_EPSILON,
    bootstrap_interval,
    cross_entropy,
    mcnemar_exact,
)


def test_bootstrap_interval_matches_a_direct_resampling():
    correct = np.array([1] * 90 + [0] * 10)  # 90 % accuracy on 100 images
    low, high = bootstrap_interval(correct, resamples=4000, seed=1)

    # The same percentile bootstrap written out: resample images, take the 2.5/97.5 % points.
    rng = np.random.default_rng(12345)
    means = correct[rng.integers(0, len(correct), size=(40000, len(correct)))].mean(axis=1)
    direct_low, direct_high = np.percentile(means, [2.5, 97.5])
    assert low == pytest.approx(direct_low, abs=0.011)
    assert high == pytest.approx(direct_high, abs=0.011)
    # and the textbook normal approximation for a proportion, 0.9 +- 1.96 * sqrt(.09 / 100)
    half = 1.96 * math.sqrt(0.9 * 0.1 / 100)
    assert low == pytest.approx(0.9 - half, abs=0.02)
    assert high == pytest.approx(0.9 + half, abs=0.02)
    assert low < 0.9 < high


def test_bootstrap_interval_is_reproducible_and_narrows_with_more_images():
    small = np.array([1] * 9 + [0])
    large = np.tile(small, 40)
    assert bootstrap_interval(small, 2000, seed=3) == bootstrap_interval(small, 2000, seed=3)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(bootstrap_interval(large, 2000, seed=3)) < width(
        bootstrap_interval(small, 2000, 3)
    )


def test_bootstrap_interval_of_a_perfect_score_is_the_score():
    assert bootstrap_interval(np.ones(50), 1000, seed=0) == (1.0, 1.0)


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


def test_cross_entropy_agrees_with_sklearn_and_clips_like_keras():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=40)
    y = rng.integers(0, 5, size=40)
    assert cross_entropy(y, probs) == pytest.approx(log_loss(y, probs, labels=range(5)), rel=1e-9)
    certain_and_wrong = np.array([[1.0, 0.0]])
    assert cross_entropy(np.array([1]), certain_and_wrong) == pytest.approx(
        -math.log(KERAS_EPSILON)
    )
