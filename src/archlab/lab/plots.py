"""Rendering :class:`~archlab.lab.result.Figure` data to inline SVG with matplotlib.

Every figure gets the same treatment, so no experiment has to ask for it: the legend goes where
it hides no data (:mod:`archlab.lab.plotlayout`), axes whose values are all whole numbers get
integer ticks, large and small numbers read 3×10⁸ (never "1e8" or "10^8"), each line series has
its own marker, a series that coincides with an earlier one is drawn dashed with hollow markers
and says so in the legend, and a categorical heatmap (:attr:`Heatmap.categories`) gets a
legend of its categories instead of a colour bar.

The SVG is made to live inside an HTML page that works offline: text stays text (searchable,
crisp), the XML prologue, metadata and namespace declarations are removed (HTML parses inline
SVG without them, and the report then names no ``http://`` address at all), and every figure
gets its own id salt so the ids of two figures in one page never collide. Output is
deterministic for the same figure.

Helpers to build figures from raw samples (:func:`cdf`) live here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, LogLocator, MaxNLocator, NullFormatter

from archlab.lab.plotlayout import place_legend
from archlab.lab.result import Figure, Heatmap, Series

PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
#: Distinct, colour-blind-safe colours for categorical heatmaps (Okabe & Ito's palette).
CATEGORY_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"]
#: One marker per line series, so series that cross or coincide stay distinguishable.
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<"]
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
    with drawn(figure, width, height, salt) as (fig, _ax):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    for pattern in _STRIP:
        svg = pattern.sub("", svg)
    svg = _prefix_ids(svg, id_prefix or f"f{salt}-")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(readable(figure.title))}" ', 1)
    return svg.strip()


@contextlib.contextmanager
def drawn(
    figure: Figure, width: float = 7.0, height: float = 3.6, salt: str = ""
) -> Iterator[tuple[MplFigure, Axes]]:
    """The figure drawn with matplotlib, laid out, legend placed; closed on exit.

    Tests use it to inspect what :func:`render_svg` renders (legend boxes, ticks, lines).
    """
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": salt or None,
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.25,
            "axes.prop_cycle": cycler(color=PALETTE),
            "axes.formatter.use_mathtext": False,
        }
    ):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            handles: list[Artist] | None = None
            labels: list[str] | None = None
            legend_title = None
            if figure.heatmap is not None:
                handles, labels, legend_title = _draw_heatmap(fig, ax, figure.heatmap)
            else:
                _draw_series(ax, figure)
                _format_numeric_axes(ax, figure)
            ax.set_title(readable(figure.title), loc="left", fontsize=10, fontweight="bold")
            ax.set_xlabel(readable(figure.x_label))
            ax.set_ylabel(readable(figure.y_label))
            fig.tight_layout()
            if handles is not None or _wants_legend(ax, figure):
                place_legend(fig, ax, handles, labels, legend_title)
            yield fig, ax
        finally:
            plt.close(fig)


def _wants_legend(ax: Axes, figure: Figure) -> bool:
    handles, _ = ax.get_legend_handles_labels()
    return len(handles) > 1 or bool(handles and (figure.ref_lines or figure.bands))


def _draw_series(ax: Axes, figure: Figure) -> None:  # noqa: PLR0912 - one branch per series style the figure model allows
    categorical = any(s.x and isinstance(s.x[0], str) for s in figure.series)
    bars = [s for s in figure.series if s.style == "bar"]
    for band in figure.bands:
        ax.axvspan(
            band.start,
            band.end,
            color="#f59e0b",
            alpha=0.15,
            lw=0,
            label=readable(band.label) if band.label else None,
        )
    colour = {id(series): PALETTE[i % len(PALETTE)] for i, series in enumerate(figure.series)}
    if bars:
        labels = list(dict.fromkeys(str(x) for s in bars for x in s.x))
        width = 0.8 / len(bars)
        for i, series in enumerate(bars):
            pos = {str(x): y for x, y in zip(series.x, series.y, strict=True)}
            xs = np.arange(len(labels)) + (i - (len(bars) - 1) / 2) * width
            heights = [pos.get(label, 0.0) for label in labels]
            ax.bar(xs, heights, width, label=readable(series.name), color=colour[id(series)])
        crowded = len(labels) > 6 or max(len(label) for label in labels) * len(labels) > 60
        ax.set_xticks(
            np.arange(len(labels)),
            [readable(label) for label in labels],
            rotation=20 if crowded else 0,
            ha="right" if crowded else "center",
        )
    drawn_series: list[Series] = []
    for index, series in enumerate(s for s in figure.series if s.style != "bar"):
        x: Sequence[float | str] = series.x
        if categorical:
            x = [str(v) for v in series.x]
        twin = next((d for d in drawn_series if _coincide(d, series)), None)
        label = readable(series.name)
        if twin is not None:
            label += f" (same values as {readable(twin.name)})"
        marker = MARKERS[index % len(MARKERS)]
        shown_markers = len(series.y) <= 40
        # A series on top of an earlier one is dashed, with larger hollow markers, so the
        # one below shows through.
        on_top = twin is not None
        if series.style == "step":
            ax.step(
                x,
                series.y,
                where="post",
                label=label,
                lw=1.2 if on_top else 1.6,
                ls="--" if on_top else "-",
                color=colour[id(series)],
            )
        elif series.style == "scatter":
            ax.scatter(
                x,
                series.y,
                label=label,
                s=40 if on_top else 14,
                marker=marker,
                facecolors="none" if on_top else colour[id(series)],
                edgecolors=colour[id(series)],
                zorder=3,
            )
        elif series.style == "bound":
            ax.plot(x, series.y, label=label, lw=1.2, ls=":", color="#4b5563")
        else:
            ax.plot(
                x,
                series.y,
                label=label,
                color=colour[id(series)],
                lw=1.2 if on_top else 1.6,
                ls="--" if on_top else "-",
                marker=marker if shown_markers else None,
                ms=7 if on_top else 4,
                mfc="none" if on_top else colour[id(series)],
            )
        drawn_series.append(series)
    for i, ref in enumerate(figure.ref_lines):
        ax.axhline(ref.value, ls="--", lw=1, color=PALETTE[-1 - i % 3], label=readable(ref.label))
    if figure.log_x:
        ax.set_xscale("log")
    if figure.log_y:
        ax.set_yscale("log")


def _coincide(a: Series, b: Series) -> bool:
    """Two series that would be drawn on top of each other (same points)."""
    if len(a.x) != len(b.x) or not a.x or a.style == "bound" or b.style == "bound":
        return False
    same_x = all(str(p) == str(q) for p, q in zip(a.x, b.x, strict=True))
    return same_x and bool(np.allclose(a.y, b.y, rtol=1e-9, atol=1e-12, equal_nan=True))


def _format_numeric_axes(ax: Axes, figure: Figure) -> None:
    """Integer ticks for whole-number data, exponents as 10⁸, never "1e8" or "10^8"."""
    plotted = [s for s in figure.series if s.style != "bar"]
    xs = [v for s in plotted for v in s.x if not isinstance(v, str)]
    ys = [v for s in figure.series if s.style != "bound" for v in s.y]
    categorical = any(s.x and isinstance(s.x[0], str) for s in figure.series)
    axes: list[tuple[Any, list[float], bool, bool]] = [
        (ax.xaxis, xs, figure.log_x, categorical or any(s.style == "bar" for s in figure.series)),
        (ax.yaxis, ys, figure.log_y, False),
    ]
    for axis, values, log, skip in axes:
        if skip:
            continue
        if log:
            finite = [v for v in values if v > 0 and math.isfinite(v)]
            if finite and max(finite) / min(finite) < 10:
                axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ReadableFormatter())
            axis.set_minor_formatter(NullFormatter())
            continue
        if values and all(math.isfinite(v) and float(v).is_integer() for v in values):
            axis.set_major_locator(MaxNLocator(integer=True))
        axis.set_major_formatter(ReadableFormatter())


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_CARET = re.compile(r"(?<=\d)\^\{?([-−]?\d+)\}?")


def superscript(exponent: int) -> str:
    return str(exponent).translate(_SUPERSCRIPT)


def readable(text: str) -> str:
    """``10^8`` and ``10^{-3}`` written as exponents: 10⁸, 10⁻³."""
    return _CARET.sub(lambda m: m.group(1).replace("−", "-").translate(_SUPERSCRIPT), text)


def tick_text(value: float, digits: int = 3) -> str:
    """A tick label: 0.25, 12, 1,500, 3×10⁸, 10⁻⁴ (``digits`` significant digits at most)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else ""
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        exponent = math.floor(math.log10(magnitude) + 1e-9)
        mantissa = float(f"{value / 10**exponent:.{digits}g}")
        if abs(mantissa) >= 10:
            mantissa, exponent = mantissa / 10, exponent + 1
        power = f"10{superscript(exponent)}"
        if mantissa in (1, -1):
            return power if mantissa == 1 else f"−{power}"
        return f"{mantissa:.{digits}g}×{power}".replace("-", "−")
    whole = len(str(int(magnitude)))
    if magnitude >= 1000 or whole >= digits:
        return f"{value:,.{max(0, digits - whole)}f}".replace("-", "−")
    return f"{value:.{digits}g}".replace("-", "−")


class ReadableFormatter(Formatter):
    """Ticks as :func:`tick_text`, with as many digits as it takes to tell them apart."""

    def __init__(self) -> None:
        super().__init__()
        self.digits = 3

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        ticks = {float(v) for v in locs if math.isfinite(v)}
        self.digits = 3
        while self.digits < 12 and len({tick_text(v, self.digits) for v in ticks}) < len(ticks):
            self.digits += 1

    def __call__(self, x: float, pos: int | None = None) -> str:
        return tick_text(x, self.digits)


def _draw_heatmap(
    fig: MplFigure, ax: Axes, heat: Heatmap
) -> tuple[list[Artist] | None, list[str] | None, str | None]:
    """Draw ``heat``; categorical maps return the legend entries that replace a colour bar."""
    data = np.array(heat.values, dtype=float)
    categories = heat.category_names()
    if categories:
        colours = [CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i in range(len(categories))]
        cmap: Any = ListedColormap(colours)
        norm: Any = BoundaryNorm(np.arange(-0.5, len(categories)), len(categories))
    else:
        cmap, norm = plt.get_cmap("viridis"), None
    image = ax.imshow(data, aspect="auto", origin="lower", cmap=cmap, norm=norm)
    x_labels = [readable(x) for x in heat.x_labels]
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=30 if len(x_labels) > 6 else 0)
    ax.set_yticks(range(len(heat.y_labels)), [readable(y) for y in heat.y_labels])
    ax.grid(False)
    if heat.cell_labels:
        for yi, row in enumerate(heat.cell_labels):
            for xi, label in enumerate(row):
                r, g, b, _ = image.cmap(image.norm(data[yi, xi]))
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
                colour = "white" if dark else "black"
                ax.text(xi, yi, label, ha="center", va="center", fontsize=7, color=colour)
    if categories:
        handles: list[Artist] = [
            Patch(facecolor=cmap(i), label=name) for i, name in enumerate(categories)
        ]
        title = heat.colorbar_label if not _LEGEND_IN_LABEL.match(heat.colorbar_label) else None
        return handles, list(categories), title or None
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(readable(heat.colorbar_label))
    return None, None, None


_LEGEND_IN_LABEL = re.compile(r"^\s*0\s")


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
