"""Seed bands: the mean and t-interval of each epoch's finite values, over the shared epochs."""

import math
import random

import pytest

from models.analysis.seed_groups import curve_band, interval
from models.store import MetricSeries


def test_a_band_is_the_interval_of_each_shared_epoch() -> None:
    rng = random.Random(0)
    curves = []
    for n_epochs in (30, 28, 30, 30):
        values: list[float | None] = [rng.gauss(1, 0.2) for _ in range(n_epochs)]
        values[rng.randrange(n_epochs)] = None
        values[rng.randrange(n_epochs)] = math.nan
        curves.append(MetricSeries(epochs=list(range(1, n_epochs + 1)), series={"loss": values}))
    band = curve_band(curves, "loss")
    assert band.epochs == list(range(1, 29))
    for index, epoch in enumerate(band.epochs):
        expected = interval([c.series["loss"][epoch - 1] for c in curves])
        assert expected is not None
        assert band.mean[index] == pytest.approx(expected.mean)
        assert band.low[index] == pytest.approx(expected.low)
        assert band.high[index] == pytest.approx(expected.high)


def test_a_lone_value_is_its_own_band_and_none_is_none() -> None:
    one = MetricSeries(epochs=[1, 2], series={"loss": [0.5, None]})
    other = MetricSeries(epochs=[1, 2], series={"loss": [None, None]})
    band = curve_band([one, other], "loss")
    assert (band.mean, band.low, band.high) == ([0.5, None], [0.5, None], [0.5, None])
    assert curve_band([one, other], "acc").epochs == []
    assert curve_band([], "loss").epochs == []
