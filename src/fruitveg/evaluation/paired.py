"""The exact McNemar test and Holm's adjustment, in the standard library only: the report
(through fruitveg.evaluation.statistics) and scripts/review.py, which CI runs with dvc
alone, share this one implementation."""

from collections.abc import Sequence


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (images only A got right,
    only B got right).

    Under the null hypothesis the discordant images split evenly, so min(only_a, only_b) is
    the lower tail of Binomial(n, 1/2), n = only_a + only_b; p = 2 P(X <= min), at most 1.
    The tail is summed in integers, each binomial coefficient from the one before (one
    multiply and divide per term, where math.comb afresh per term took 58 s at n = 20,000),
    and divided by 2**n once: the p-value rounded once from the exact fraction.
    """
    n, k = only_a + only_b, min(only_a, only_b)
    if 2 * k >= n:  # an even split (or none at all): the whole distribution
        return 1.0
    term = tail = 1  # C(n, 0)
    for i in range(k):
        term = term * (n - i) // (i + 1)  # C(n, i + 1), exact
        tail += term
    return min(1.0, 2 * tail / 2**n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: family-wise error held at alpha over all the tests."""
    m = len(p_values)
    adjusted, running = [1.0] * m, 0.0
    order = sorted(range(m), key=lambda i: p_values[i])  # stable: ties keep their order
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
