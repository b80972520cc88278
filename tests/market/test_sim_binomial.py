"""The simulator's binomial draw gives the same households on Python 3.11 and 3.12+."""

from __future__ import annotations

import random
import sys

import pytest

from market.sim.load import MAX_CYCLES_PER_DAY, binomial


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Random.binomialvariate is 3.12+")
@pytest.mark.parametrize("p", [0.0, 0.01, 0.2, 0.5, 0.51, 0.9, 0.999, 1.0])
def test_binomial_draws_what_binomialvariate_draws_from_the_same_seed(p: float) -> None:
    for seed in range(300):
        ours, theirs = random.Random(seed), random.Random(seed)
        for _ in range(5):
            assert binomial(ours, MAX_CYCLES_PER_DAY, p) == theirs.binomialvariate(
                MAX_CYCLES_PER_DAY, p
            )
        # Both consumed the same randomness: the streams stay in step afterwards.
        assert ours.random() == theirs.random()


def test_binomial_has_the_mean_and_range_of_a_binomial() -> None:
    rng = random.Random(7)
    draws = [binomial(rng, 8, 0.3) for _ in range(20_000)]
    assert set(draws) <= set(range(9))
    assert sum(draws) / len(draws) == pytest.approx(8 * 0.3, abs=0.05)
    assert binomial(rng, 1, 0.0) == 0
    assert binomial(rng, 5, 1.0) == 5
