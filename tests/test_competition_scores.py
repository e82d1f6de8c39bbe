"""The M-competition scores (tasks/forecasting/competition.py) against hand-worked cases."""

import numpy as np
import pytest

from keras_recurrent.tasks.forecasting import competition as c


def test_smape_is_the_m3_m4_definition():
    # 200/h * sum |y - f| / (|y| + |f|): y = (1, 2), f = (2, 2) gives 200/2 * (1/3 + 0) = 33.3.
    assert c.smape([1.0, 2.0], [2.0, 2.0]) == pytest.approx(100.0 * (1.0 / 3.0))
    assert c.smape([0.0], [0.0]) == 0.0 and c.smape([1.0], [-1.0]) == pytest.approx(200.0)


def test_a_flat_or_short_series_is_not_seasonal_and_naive2_is_naive():
    forecast = c.naive2(np.full(40, 5.0), 6, 12)
    np.testing.assert_allclose(forecast, 5.0)
    assert not c.is_seasonal(np.full(40, 5.0), 12)
    assert not c.is_seasonal(np.arange(20.0), 12)  # under three full periods: never tested seasonal


def test_a_seasonal_series_is_readjusted_by_its_indices():
    pattern = np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.0])  # mean 1: multiplicative indices
    series = 100.0 * np.tile(pattern, 8)  # no trend: level 100 throughout
    assert c.is_seasonal(series, 6)
    np.testing.assert_allclose(c.seasonal_indices(series, 6), pattern, rtol=1e-9)
    # The last point sits at position 5 of the cycle: adjusted level 100, then the next cycle's indices.
    np.testing.assert_allclose(c.naive2(series, 8, 6), 100.0 * np.tile(pattern, 2)[:8], rtol=1e-9)
    noise = np.random.default_rng(0).normal(0.0, 1.0, 48) + 100.0
    assert not c.is_seasonal(noise, 6)


def test_owa_is_one_for_naive2_and_halves_with_both_errors():
    assert c.owa(12.0, 1.5, 12.0, 1.5) == pytest.approx(1.0)
    assert c.owa(6.0, 0.75, 12.0, 1.5) == pytest.approx(0.5)
