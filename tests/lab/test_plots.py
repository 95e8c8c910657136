"""Figures render to deterministic, self-contained SVG."""

from __future__ import annotations

import pytest

from archlab.lab import Band, Figure, Heatmap, RefLine, Series
from archlab.lab.plotlayout import hidden_by_legend
from archlab.lab.plots import cdf, drawn, readable, render_svg, tick_text


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


# -- what every figure gets from the shared plotting layer ---------------------------------

LINES = Series("measured", [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])


def crowded_figure() -> Figure:
    """Lines that cross every spot inside the axes, so the legend must go outside."""
    xs = [float(i) for i in range(20)]
    return Figure(
        "crowded",
        series=[
            Series("zigzag", xs, [float(i % 2) for i in range(20)]),
            Series("ramp", xs, [i / 19 for i in range(20)]),
            Series("fall", xs, [1 - i / 19 for i in range(20)]),
        ],
        ref_lines=[RefLine(0.5, "half")],
    )


REPRESENTATIVE = [
    Figure(
        "commit wait",
        series=[LINES, Series("p99", [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 3.0, 5.0])],
        ref_lines=[RefLine(2.5, "TrueTime ε"), RefLine(4.5, "codex figure")],
    ),
    Figure(
        "stalls",
        series=[Series("throughput", [float(i) for i in range(30)], [5.0] * 15 + [0.5] * 15)],
        bands=[Band(10.0, 14.0, "stall")],
    ),
    Figure(
        "bars",
        series=[Series("cpu", ["a", "b", "c"], [3.0, 1.0, 2.0], style="bar")],
        ref_lines=[RefLine(2.5, "average leaf fill")],
    ),
    Figure("cdf", series=[cdf("a", [1.0, 2.0, 3.0, 9.0]), cdf("b", [2.0, 2.5, 4.0])], log_x=True),
    crowded_figure(),
]


@pytest.mark.parametrize("figure", REPRESENTATIVE, ids=lambda f: f.title)
def test_the_legend_hides_no_plotted_data(figure: Figure) -> None:
    with drawn(figure) as (_fig, ax):
        legend = ax.get_legend()
        assert legend is not None
        assert hidden_by_legend(ax, legend) == []


def test_a_legend_with_no_free_spot_goes_outside_the_axes() -> None:
    with drawn(crowded_figure()) as (fig, ax):
        legend = ax.get_legend()
        assert legend is not None
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        box = legend.get_window_extent(renderer)
        assert box.x0 >= ax.get_window_extent(renderer).x1
        assert box.x1 <= fig.bbox.x1 + 1  # and it is still on the figure


def test_hidden_by_legend_sees_a_reference_line_under_the_legend() -> None:
    figure = Figure("r", series=[LINES], ref_lines=[RefLine(3.9, "ref")])
    with drawn(figure) as (_fig, ax):
        legend = ax.get_legend()
        assert legend is not None
        legend.set_loc("upper left")
        assert "line 'ref'" in hidden_by_legend(ax, legend)


def _tick_labels(axis: object) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]  # type: ignore[attr-defined]


def test_whole_number_data_gets_integer_ticks() -> None:
    figure = Figure("nodes", "nodes", "pages", [Series("pages", [3.0, 5.0, 7.0], [2.0, 3.0, 3.0])])
    with drawn(figure) as (fig, ax):
        fig.canvas.draw()
        for axis in (ax.xaxis, ax.yaxis):
            labels = _tick_labels(axis)
            assert labels and all(label.lstrip("−").isdigit() for label in labels), labels


def test_exponents_render_as_exponents() -> None:
    figure = Figure(
        "messages 10^8",
        "cluster size",
        "messages",
        [Series("raft", [3.0, 5.0], [2e8, 9e8]), Series("x", [3.0, 5.0], [1e8, 1e9])],
    )
    svg = render_svg(figure)
    assert "10⁸" in svg and "10⁹" in svg
    assert "10^8" not in svg and "e+08" not in svg and "1e8" not in svg
    assert tick_text(1e8) == "10⁸" and tick_text(2.5e-5) == "2.5×10⁻⁵"
    assert tick_text(1500.0) == "1,500" and tick_text(0.25) == "0.25" and tick_text(-3.0) == "−3"
    assert readable("N = 10^{-3} and 10^12") == "N = 10⁻³ and 10¹²"


def test_log_axes_label_decades_without_mathtext() -> None:
    figure = Figure("log", series=[Series("s", [10.0, 1e6], [1.0, 1e7])], log_x=True, log_y=True)
    svg = render_svg(figure)
    assert "10⁶" in svg and "\\mathdefault" not in svg and "$" not in svg


def test_coinciding_series_are_both_visible_and_named() -> None:
    height = Series("height", [1e3, 1e4, 4e4], [2.0, 3.0, 3.0])
    cold = Series("pages read (cold)", [1e3, 1e4, 4e4], [2.0, 3.0, 3.0])
    with drawn(Figure("b-tree", series=[height, cold], log_x=True)) as (_fig, ax):
        first, second = ax.get_lines()
        assert second.get_label() == "pages read (cold) (same values as height)"
        assert second.get_linestyle() != first.get_linestyle()
        assert second.get_marker() != first.get_marker()
        assert second.get_markerfacecolor() == "none"  # the first shows through


def test_a_bound_is_drawn_as_a_dotted_reference_curve() -> None:
    bound = Series("log_B N", [1e3, 1e4], [1.5, 2.0], style="bound")
    with drawn(Figure("h", series=[LINES, bound])) as (_fig, ax):
        drawn_bound = ax.get_lines()[1]
        assert drawn_bound.get_linestyle() == ":" and drawn_bound.get_label() == "log_B N"


def test_categorical_heatmaps_get_a_legend_not_a_colour_bar() -> None:
    heat = Heatmap(
        ["1k", "10k"],
        ["a", "b"],
        [[0.0, 1.0], [2.0, 1.0]],
        categories=["single", "shard", "both"],
    )
    with drawn(Figure("regimes", heatmap=heat)) as (fig, ax):
        assert len(fig.axes) == 1  # no colour bar
        legend = ax.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["single", "shard", "both"]
        assert hidden_by_legend(ax, legend) == []


def test_categories_are_read_from_an_indexed_colour_bar_label() -> None:
    spelled = Heatmap(
        ["x"], ["y"], [[0.0, 4.0]], colorbar_label="0 single, 1 replicas, 2 shard, 3 dist., 4 both"
    )
    assert spelled.category_names() == ["single", "replicas", "shard", "dist.", "both"]
    assert (
        Heatmap(["x"], ["y"], [[0.5]], colorbar_label="share of histories").category_names() is None
    )
    assert Heatmap(["x"], ["y"], [[7.0]], colorbar_label="0 a, 1 b").category_names() is None


def test_lines_and_points_never_share_a_colour() -> None:
    from matplotlib.colors import to_hex

    figure = Figure(
        "commit wait",
        series=[
            Series("measured", [1.0, 2.0], [1.0, 2.0], style="scatter"),
            Series("expected", [1.0, 2.0], [1.1, 2.2]),
            Series("mean", [1.0, 2.0], [0.9, 1.8], style="scatter"),
        ],
    )
    with drawn(figure) as (_fig, ax):
        colours = [to_hex(c.get_edgecolor()[0]) for c in ax.collections]
        colours.append(to_hex(ax.get_lines()[0].get_color()))
        assert len(set(colours)) == 3


def test_ticks_close_together_keep_enough_digits_to_differ() -> None:
    figure = Figure("tight", series=[Series("s", [0.0, 1.0, 2.0], [0.12311, 0.12347, 0.12389])])
    with drawn(figure) as (fig, ax):
        fig.canvas.draw()
        labels = _tick_labels(ax.yaxis)
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    assert tick_text(999.9) == "1,000" and tick_text(123.0) == "123" and tick_text(12.0) == "12"
