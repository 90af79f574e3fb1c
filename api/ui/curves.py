"""Plotly figures of per-epoch curves for the run and compare pages, built on the server as
JSON-ready dicts from the downsampled reads (no point the reads did not return)."""

import html
from collections.abc import Sequence
from typing import Any

from api.schemas import BandRead

# Plotly's own default colours: a band takes its line's colour, lighter.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
BAND_ALPHA = 0.2
Trace = dict[str, Any]


def colour(index: int) -> str:
    """The index-th colour of the palette, cycling."""
    return PALETTE[index % len(PALETTE)]


def _translucent(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{BAND_ALPHA})"


def plain(name: str) -> str:
    """A trace name shown as written: plotly renders tags in names (a spec's text value
    holding `<a href=...>` would be a link to another site), but shows entities as text."""
    return html.escape(name, quote=False)


def line(name: str, epochs: Sequence[int], values: Sequence[float | None], index: int) -> Trace:
    """One curve; gaps (null values) are bridged, since downsampled series share epochs."""
    return {
        "type": "scatter",
        "mode": "lines",
        "name": plain(name),
        "x": list(epochs),
        "y": list(values),
        "connectgaps": True,
        "line": {"color": colour(index), "width": 1.5},
    }


def band(name: str, found: BandRead, index: int) -> list[Trace]:
    """A seed group's 95% band (low and high edges, filled between) and its mean line."""
    edge = {
        "type": "scatter",
        "mode": "lines",
        "x": found.epochs,
        "legendgroup": plain(name),
        "showlegend": False,
        "hoverinfo": "skip",
        "line": {"width": 0},
    }
    low = {**edge, "name": plain(f"{name} low"), "y": found.low}
    high = {
        **edge,
        "name": plain(f"{name} high"),
        "y": found.high,
        "fill": "tonexty",
        "fillcolor": _translucent(colour(index)),
    }
    mean = {**line(name, found.epochs, found.mean, index), "legendgroup": plain(name)}
    return [low, high, mean]


def figure(traces: list[Trace], y_title: str, height: int = 380) -> dict[str, Any]:
    """A figure of curves over epochs."""
    return {
        "data": traces,
        "layout": {
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 20, "b": 45},
            "xaxis": {"title": {"text": "epoch"}},
            "yaxis": {"title": {"text": y_title}},
            "legend": {"orientation": "v"},
            "hovermode": "closest",
        },
    }
