"""Where a figure's legend goes: inside the axes only where it hides no data, else outside.

A legend drawn over a reference line or a curve hides exactly what the figure is there to show.
:func:`place_legend` measures the legend once, tries the usual spots inside the axes (corners
first) and keeps the first whose box touches no plotted data: no line segment (reference lines
included), no marker, no bar, band, image or text. When every spot hides something, the legend
goes outside, to the right of the axes, and the axes shrink to make room.

:func:`hidden_by_legend` is the same test, exposed so that tests can check any rendered figure.
Everything is computed in display (pixel) coordinates after a draw, so log scales, step lines and
lines in axes coordinates (``axhline``) are handled by matplotlib's own transforms.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.cbook import STEP_LOOKUP_MAP
from matplotlib.collections import Collection
from matplotlib.figure import Figure as MplFigure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.transforms import Bbox

Spot = Literal[
    "upper right",
    "upper left",
    "lower right",
    "lower left",
    "center right",
    "center left",
    "upper center",
    "lower center",
]
#: Spots inside the axes, in the order they are tried.
INSIDE: tuple[Spot, ...] = (
    "upper right",
    "upper left",
    "lower right",
    "lower left",
    "center right",
    "center left",
    "upper center",
    "lower center",
)
#: Legend labels longer than this are wrapped when the legend sits beside the axes.
OUTSIDE_LABEL_WIDTH = 26
#: Clearance (pixels) kept between a legend and the data it must not hide.
CLEARANCE = 2.0


def place_legend(
    fig: MplFigure,
    ax: Axes,
    handles: Sequence[Artist] | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Legend | None:
    """Add the axes' legend where it hides no data; returns it (None without entries)."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    style: dict[str, Any] = {
        "fontsize": 8,
        "frameon": True,
        "framealpha": 0.92,
        "edgecolor": "none",
        "title": title,
    }
    legend = ax.legend(list(handles), list(labels), loc="upper right", **style)
    renderer = _renderer(fig)
    for spot in INSIDE:
        legend.set_loc(spot)
        if not hidden_by_legend(ax, legend, renderer):
            return legend
    legend.remove()
    wrapped = ["\n".join(textwrap.wrap(str(x), OUTSIDE_LABEL_WIDTH)) or str(x) for x in labels]
    legend = ax.legend(
        handles,
        wrapped,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        **style,
    )
    fig.tight_layout()
    return legend


def hidden_by_legend(ax: Axes, legend: Legend, renderer: RendererBase | None = None) -> list[str]:
    """What ``legend`` covers of the data plotted in ``ax``: one description per artist."""
    if renderer is None:
        figure = ax.get_figure()
        assert isinstance(figure, MplFigure)
        renderer = _renderer(figure)
    box = legend.get_window_extent(renderer).padded(CLEARANCE)
    hidden = []
    for line in ax.get_lines():
        if line.get_visible() and _line_touches(line, box):
            hidden.append(f"line {line.get_label()!r}")
    for collection in ax.collections:
        if collection.get_visible() and _points_touch(collection, box):
            hidden.append(f"points {collection.get_label()!r}")
    for artist in [*ax.patches, *ax.images, *ax.texts]:
        if artist.get_visible() and artist.get_window_extent(renderer).overlaps(box):
            hidden.append(f"{type(artist).__name__.lower()} {artist.get_label()!r}")
    return hidden


def _renderer(fig: MplFigure) -> RendererBase:
    fig.canvas.draw()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined,no-any-return]


def _line_touches(line: Line2D, box: Bbox) -> bool:  # noqa: PLR0911 - one early return per geometric case
    xy = np.asarray(line.get_xydata(), dtype=float)
    if xy.size == 0:
        return False
    style = str(line.get_drawstyle())
    if style in STEP_LOOKUP_MAP and style != "default" and len(xy) > 1:
        xs, ys = STEP_LOOKUP_MAP[style](xy[:, 0], xy[:, 1])
        xy = np.column_stack([xs, ys])
    points = line.get_transform().transform(xy)
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        return False
    marker = line.get_marker()
    if marker not in (None, "None", "none", "", " "):
        radius = line.get_markersize() * line.get_figure().dpi / 72 / 2  # type: ignore[union-attr]
        if any(box.padded(radius).contains(x, y) for x, y in points):
            return True
    if len(points) == 1:
        return bool(box.contains(*points[0]))
    if line.get_linestyle() in ("None", "none", "", " "):
        return any(box.contains(x, y) for x, y in points)
    if any(box.contains(x, y) for x, y in points):
        return True
    crosses: bool = Path(points).intersects_bbox(box, filled=False)
    return crosses


def _points_touch(collection: Collection, box: Bbox) -> bool:
    offsets = np.asarray(collection.get_offsets(), dtype=float)
    if offsets.size == 0:
        return False
    points = collection.get_offset_transform().transform(offsets)
    sizes = collection.get_sizes() if hasattr(collection, "get_sizes") else np.array([0.0])
    dpi = collection.get_figure().dpi  # type: ignore[union-attr]
    radius = float(np.sqrt(max(sizes, default=0.0))) * dpi / 72 / 2 if len(sizes) else 0.0
    grown = box.padded(radius)
    return any(grown.contains(x, y) for x, y in points if np.isfinite(x) and np.isfinite(y))
