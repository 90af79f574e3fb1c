"""Pictures of curves and trade-offs, drawn headless with matplotlib's object API (no pyplot)."""

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from matplotlib.figure import Figure

from models.analysis.seed_groups import Band, Interval
from models.store.metrics import MetricSeries

ImageFormat = Literal["png", "svg"]
MEDIA_TYPES: dict[ImageFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}
# OpenAPI `responses` entry of a route that answers with an image.
IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "The image."}
}


def _nan_for_none(values: Sequence[float | None]) -> list[float]:
    """Missing values as gaps in the line."""
    return [v if v is not None else float("nan") for v in values]


def _render(figure: Figure, fmt: ImageFormat) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def label_of(values: Mapping[str, Any]) -> str:
    """A legend label from spec fields: `regularization.dropout=0.3, backend=torch`."""
    return ", ".join(f"{path}={value}" for path, value in values.items()) or "run"


def curves_plot(
    key: str,
    runs: Sequence[tuple[str, MetricSeries]],
    bands: Sequence[tuple[str, Band]],
    fmt: ImageFormat,
) -> bytes:
    """Overlaid curves of one key: a line per run, or a mean line and 95% band per seed group."""
    figure = Figure(figsize=(7, 4.2))
    axes = figure.add_subplot()
    for label, series in runs:
        values = _nan_for_none(series.series.get(key, []))
        axes.plot(series.epochs, values, label=label, linewidth=1.4)
    for label, band in bands:
        (line,) = axes.plot(band.epochs, _nan_for_none(band.mean), label=label, linewidth=1.6)
        low, high = _nan_for_none(band.low), _nan_for_none(band.high)
        axes.fill_between(band.epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_xlabel("epoch")
    axes.set_ylabel(key)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _render(figure, fmt)


@dataclass(frozen=True)
class TradeoffPoint:
    """One setting of the swept field, with each summary value's seed interval."""

    x: Any
    y: Mapping[str, Interval]


def tradeoff_plot(
    x_label: str, y_keys: Sequence[str], points: Sequence[TradeoffPoint], fmt: ImageFormat
) -> bytes:
    """Summary values against one swept spec field: seed means with 95% error bars."""
    numeric = all(isinstance(p.x, int | float) and not isinstance(p.x, bool) for p in points)
    ordered = sorted(points, key=lambda p: p.x) if numeric else list(points)
    xs = [p.x if numeric else i for i, p in enumerate(ordered)]
    figure = Figure(figsize=(7, 2.6 * len(y_keys) + 0.6))
    for row, key in enumerate(y_keys):
        axes = figure.add_subplot(len(y_keys), 1, row + 1)
        found = [(x, p.y[key]) for x, p in zip(xs, ordered, strict=True) if key in p.y]
        means = [i.mean for _, i in found]
        errors = [[i.mean - i.low for _, i in found], [i.high - i.mean for _, i in found]]
        axes.errorbar([x for x, _ in found], means, yerr=errors, marker="o", capsize=4)
        axes.set_ylabel(key)
        axes.grid(alpha=0.3)
        if not numeric:
            axes.set_xticks(xs, [str(p.x) for p in ordered])
    figure.axes[-1].set_xlabel(f"{x_label} (mean and 95% interval over seeds)")
    return _render(figure, fmt)
