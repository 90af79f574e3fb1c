"""The trade-off plot of an experiment's page, as plotly figure JSON: one summary value's
seed mean against one swept spec field, the report's 95% intervals as error bars."""

import json
from typing import Any, NamedTuple

from api.schemas import IntervalRead, ReportRead


class Point(NamedTuple):
    """One setting: its x value, and y's mean, interval and number of seeds."""

    x: Any
    mean: float
    low: float
    high: float
    n: int


def _axis_value(value: Any) -> Any:
    """Numbers stay numbers (a linear axis); anything else is shown as its JSON text."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return value if numeric else json.dumps(value)


def _point(x: Any, found: IntervalRead | None) -> Point | None:
    if found is None or found.mean is None or found.low is None or found.high is None:
        return None
    return Point(_axis_value(x), found.mean, found.low, found.high, found.n)


def points(report: ReportRead, x: str, y: str) -> list[Point]:
    """A point per setting that has a value of y; numbers ascending, then text."""
    found = [_point(s.values.get(x), s.figures.get(y)) for s in report.settings]
    return sorted((p for p in found if p), key=lambda p: (isinstance(p.x, str), p.x))


def tradeoff_figure(report: ReportRead, x: str, y: str) -> dict[str, Any]:
    """`y` against `x`: seed means joined by a line, each with its 95% interval."""
    drawn = points(report, x, y)
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "x": [p.x for p in drawn],
        "y": [p.mean for p in drawn],
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": [p.high - p.mean for p in drawn],
            "arrayminus": [p.mean - p.low for p in drawn],
        },
        "customdata": [p.n for p in drawn],
        "hovertemplate": f"{x} = %{{x}}<br>{y} = %{{y:.4g}}, seeds: %{{customdata}}<extra></extra>",
    }
    categorical = any(isinstance(p.x, str) for p in drawn)
    layout = {
        "xaxis": {"title": {"text": x}, "type": "category" if categorical else "linear"},
        "yaxis": {"title": {"text": f"{y}: seed mean, 95% interval"}},
        "margin": {"t": 16, "r": 16},
        "height": 360,
    }
    return {"data": [trace], "layout": layout}
