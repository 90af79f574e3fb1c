"""Comparison helpers: differing spec fields, the largest relative deviation and difference."""

import math

import pytest

from models.analysis.compare import (
    differing_fields,
    flatten_spec,
    max_abs_difference,
    max_relative_deviation,
)
from models.store import MetricSeries


def test_flatten_spec_keeps_lists_whole() -> None:
    assert flatten_spec({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": None,
    }


def test_only_differing_fields_are_reported() -> None:
    specs = {
        1: {"backend": "torch", "model": {"hidden": [8]}, "seed": 0},
        2: {"backend": "tensorflow", "model": {"hidden": [8]}, "seed": 0},
    }
    assert differing_fields(specs) == {"backend": {1: "torch", 2: "tensorflow"}}


def test_max_relative_deviation_uses_shared_finite_epochs() -> None:
    reference = MetricSeries(epochs=[1, 2, 3], series={"loss": [2.0, 1.0, 0.5]})
    other = MetricSeries(epochs=[1, 2], series={"loss": [2.002, 1.01]})
    third = MetricSeries(epochs=[1, 2, 3], series={"loss": [2.0, math.nan, 0.5]})
    assert max_relative_deviation([reference, other], "loss") == pytest.approx(0.01)
    assert max_relative_deviation([reference, third], "loss") == 0.0  # epoch 2 skipped
    assert max_relative_deviation([reference, other], "acc") is None


def test_max_abs_difference_is_the_widest_spread_at_shared_finite_epochs() -> None:
    a = MetricSeries(epochs=[1, 2, 3, 4], series={"loss": [2.0, 1.0, 0.5, 0.1]})
    b = MetricSeries(epochs=[1, 2, 3], series={"loss": [2.1, math.nan, 0.2]})
    c = MetricSeries(epochs=[1, 3, 4], series={"loss": [1.9, 0.45, 9.0]})
    assert max_abs_difference([a, b], "loss") == pytest.approx(0.3)  # epoch 3; 2 is NaN
    assert max_abs_difference([a, b, c], "loss") == pytest.approx(0.3)  # 2.1-1.9 < 0.5-0.2
    assert max_abs_difference([a, c], "loss") == pytest.approx(8.9)
    assert max_abs_difference([a, b], "acc") is None
    assert max_abs_difference([], "loss") is None
