"""Rendering :class:`~archlab.lab.result.Figure` data to inline SVG with matplotlib.

The SVG is made to live inside an HTML page that works offline: text stays text (searchable,
crisp), the XML prologue, metadata and namespace declarations are removed (HTML parses inline
SVG without them, and the report then names no ``http://`` address at all), and every figure
gets its own id salt so the ids of two figures in one page never collide. Output is
deterministic for the same figure.

Helpers to build figures from raw samples (:func:`cdf`) live here too.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from archlab.lab.result import Figure, Series

PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
_STRIP = [
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*", re.S),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
]


def cdf(name: str, samples: Sequence[float]) -> Series:
    """The empirical CDF of ``samples`` as a step series (y from 0 to 1)."""
    ordered = sorted(samples)
    n = len(ordered)
    return Series(name, list(ordered), [(i + 1) / n for i in range(n)], style="step")


def render_svg(
    figure: Figure, width: float = 7.0, height: float = 3.6, id_prefix: str | None = None
) -> str:
    """The figure as an SVG string ready to inline in HTML.

    ``id_prefix`` makes the SVG's element ids unique in a page holding several figures;
    by default it is derived from the figure's content.
    """
    salt = hashlib.sha1(repr(figure).encode()).hexdigest()[:10]
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": salt,
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.25,
            "axes.prop_cycle": cycler(color=PALETTE),
        }
    ):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            if figure.heatmap is not None:
                _draw_heatmap(fig, ax, figure)
            else:
                _draw_series(ax, figure)
            ax.set_title(figure.title, loc="left", fontsize=10, fontweight="bold")
            ax.set_xlabel(figure.x_label)
            ax.set_ylabel(figure.y_label)
            fig.tight_layout()
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buffer.getvalue()
    for pattern in _STRIP:
        svg = pattern.sub("", svg)
    svg = _prefix_ids(svg, id_prefix or f"f{salt}-")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(figure.title)}" ', 1)
    return svg.strip()


def _draw_series(ax: Axes, figure: Figure) -> None:
    categorical = any(s.x and isinstance(s.x[0], str) for s in figure.series)
    bars = [s for s in figure.series if s.style == "bar"]
    for band in figure.bands:
        ax.axvspan(
            band.start, band.end, color="#f59e0b", alpha=0.15, lw=0, label=band.label or None
        )
    if bars:
        labels = list(dict.fromkeys(str(x) for s in bars for x in s.x))
        width = 0.8 / len(bars)
        for i, series in enumerate(bars):
            pos = {str(x): y for x, y in zip(series.x, series.y, strict=True)}
            xs = np.arange(len(labels)) + (i - (len(bars) - 1) / 2) * width
            ax.bar(xs, [pos.get(label, 0.0) for label in labels], width, label=series.name)
        crowded = len(labels) > 6 or max(len(label) for label in labels) * len(labels) > 60
        ax.set_xticks(
            np.arange(len(labels)),
            labels,
            rotation=20 if crowded else 0,
            ha="right" if crowded else "center",
        )
    for series in figure.series:
        if series.style == "bar":
            continue
        x: Sequence[float | str] = series.x
        if categorical:
            x = [str(v) for v in series.x]
        if series.style == "step":
            ax.step(x, series.y, where="post", label=series.name, lw=1.6)
        elif series.style == "scatter":
            ax.scatter(x, series.y, label=series.name, s=14)
        else:
            ax.plot(
                x,
                series.y,
                label=series.name,
                lw=1.6,
                marker="o" if len(series.y) <= 12 else None,
                ms=3.5,
            )
    for i, ref in enumerate(figure.ref_lines):
        ax.axhline(ref.value, ls="--", lw=1, color=PALETTE[-1 - i % 3], label=ref.label)
    if figure.log_x:
        ax.set_xscale("log")
    if figure.log_y:
        ax.set_yscale("log")
    handles, _ = ax.get_legend_handles_labels()
    if len(handles) > 1 or (handles and (figure.ref_lines or figure.bands)):
        ax.legend(frameon=False, fontsize=8)


def _draw_heatmap(fig: MplFigure, ax: Axes, figure: Figure) -> None:
    heat = figure.heatmap
    assert heat is not None
    data = np.array(heat.values, dtype=float)
    image = ax.imshow(data, aspect="auto", origin="lower", cmap="viridis")
    ax.set_xticks(
        range(len(heat.x_labels)), heat.x_labels, rotation=30 if len(heat.x_labels) > 6 else 0
    )
    ax.set_yticks(range(len(heat.y_labels)), heat.y_labels)
    ax.grid(False)
    if heat.cell_labels:
        finite = data[np.isfinite(data)]
        middle = float(finite.mean()) if finite.size else 0.0
        for yi, row in enumerate(heat.cell_labels):
            for xi, label in enumerate(row):
                colour = "white" if data[yi, xi] < middle else "black"
                ax.text(xi, yi, label, ha="center", va="center", fontsize=7, color=colour)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(heat.colorbar_label)


_ID = re.compile(r'\bid="([^"]+)"')


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make every id unique to this figure (matplotlib names groups figure_1, axes_1 ...)."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def rename(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}{name}" if name in ids else match.group(0)

    return re.sub(r'(\bid="|url\(#|href="#)([^")]+)', rename, svg)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
