"""Figures render to deterministic, self-contained SVG."""

from __future__ import annotations

from archlab.lab import Figure, Heatmap, Series
from archlab.lab.plots import cdf, render_svg


def test_rendering_is_deterministic() -> None:
    figure = Figure("t", "x", "y", [Series("a", [1.0, 2.0, 3.0], [1.0, 4.0, 9.0])], log_y=True)
    assert render_svg(figure) == render_svg(figure)


def test_svg_carries_no_prologue_metadata_or_namespace_addresses() -> None:
    svg = render_svg(Figure("t", series=[Series("a", ["p", "q"], [1.0, 2.0], style="bar")]))
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg and "<metadata" not in svg and "http" not in svg
    assert 'aria-label="t"' in svg


def test_text_stays_text() -> None:
    svg = render_svg(
        Figure("Throughput over time", "seconds", "MB/s", [Series("lsm", [0.0, 1.0], [5.0, 6.0])])
    )
    assert "Throughput over time" in svg and "MB/s" in svg


def test_heatmaps_render_with_cell_labels() -> None:
    heat = Heatmap(
        ["1k", "10k"],
        ["a", "b"],
        [[1.0, 2.0], [3.0, 4.0]],
        [["one", "two"], ["three", "four"]],
        "regime",
    )
    svg = render_svg(Figure("regimes", heatmap=heat))
    assert "three" in svg and "regime" in svg


def test_cdf_is_monotone_and_ends_at_one() -> None:
    series = cdf("latency", [3.0, 1.0, 2.0, 2.0])
    assert series.x == [1.0, 2.0, 2.0, 3.0]
    assert series.y[-1] == 1.0 and series.y == sorted(series.y)
