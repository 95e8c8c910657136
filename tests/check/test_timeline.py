"""The timeline page: valid, offline, one lane per process, and it shows what matters."""

from __future__ import annotations

import random
import re
from typing import Any

import html5lib

from archlab.check.generate import register_history
from archlab.check.timeline import LEFT, PLOT_WIDTH, render_timeline

from .builders import h

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)

HISTORY = h(
    (0, "invoke", "write", 1),
    (1, "invoke", "read", None),
    (0, "ok", "write", 1),
    (1, "ok", "read", 1),
    (2, "invoke", "cas", [1, 2]),
    (2, "info", "cas", [1, 2]),
    (2, "invoke", "read", None),
    (2, "ok", "read", 7),
    (1, "invoke", "write", 3),
    (1, "fail", "write", 3),
)


def parse(page: str) -> Any:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)


def each(tree: Any, tag: str) -> list[Any]:
    """Elements by local name (inline SVG elements live in the SVG namespace)."""
    return [e for e in tree.iter() if isinstance(e.tag, str) and e.tag.split("}")[-1] == tag]


def child(element: Any, tag: str) -> Any:
    return next(e for e in element if e.tag.split("}")[-1] == tag)


def ops_drawn(tree: Any) -> dict[str, Any]:
    return {g.get("data-index"): g for g in each(tree, "g") if g.get("data-index") is not None}


def test_the_page_is_valid_html_and_names_no_external_address() -> None:
    page = render_timeline(HISTORY, title='t <&> "quoted"', notes=["a <b>note</b>"])
    tree = parse(page)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            if name in {"src", "href", "data", "action"}:
                assert not EXTERNAL.match(value)
        assert element.tag.split("}")[-1] not in {"link", "script", "iframe", "img", "embed"}
    assert "http://" not in page and "https://" not in page
    assert re.findall(r"url\((?!#)", page) == []
    assert "a &lt;b&gt;note&lt;/b&gt;" in page  # user text is escaped


def test_every_operation_is_a_bar_in_its_process_lane() -> None:
    tree = parse(render_timeline(HISTORY))
    bars = ops_drawn(tree)
    assert set(bars) == {"0", "1", "2", "3", "4"}
    assert {i: b.get("class") for i, b in bars.items()} == {
        "0": "op ok",
        "1": "op ok",
        "2": "op info",
        "3": "op ok",
        "4": "op fail",
    }
    labels = [t.text for t in each(tree, "text") if (t.get("class") or "") == "lane-label"]
    assert labels == ["process 0", "process 1", "process 2"]


def bar_rect(bars: dict[str, Any], index: str) -> tuple[float, float, float]:
    rect = child(bars[index], "rect")
    return float(rect.get("x")), float(rect.get("width")), float(rect.get("y"))


def test_an_unknown_operation_is_open_ended_and_does_not_hide_the_next() -> None:
    bars = ops_drawn(parse(render_timeline(HISTORY)))
    x, width, y = bar_rect(bars, "2")  # the info cas
    assert abs(x + width - (LEFT + PLOT_WIDTH)) < 1  # runs to the end of the chart
    _, _, next_y = bar_rect(bars, "3")  # the same process's next read overlaps it: own row
    assert next_y != y


def test_highlighted_operations_faults_and_order_are_drawn() -> None:
    page = render_timeline(
        HISTORY, highlight={3}, faults=[(2, 5, "partition")], order=[0, 1], notes=["why"]
    )
    tree = parse(page)
    bars = ops_drawn(tree)
    assert bars["3"].get("class") == "op bad"
    assert "could not be placed" in child(bars["3"], "title").text
    fault = next(g for g in each(tree, "g") if g.get("class") == "fault")
    assert child(fault, "text").text == "partition"
    badges = [child(g, "text").text for g in each(tree, "g") if g.get("class") == "order"]
    assert badges == ["1", "2"]
    assert "<li>why</li>" in page


def test_times_are_used_when_every_event_has_one() -> None:
    timed = [
        e.__class__(e.process, e.type, e.f, e.value, e.key, 10.0 * i, e.line)
        for i, e in enumerate(HISTORY)
    ]
    page = render_timeline(timed)
    assert ">time</text>" in page
    assert ">event</text>" in render_timeline(HISTORY)
    bars = ops_drawn(parse(page))
    x0, _, _ = bar_rect(bars, "0")
    x4, _, _ = bar_rect(bars, "4")
    assert x4 - x0 > 0.8 * PLOT_WIDTH  # the last op starts near the end of the time span


def test_a_long_history_is_drawn_around_what_matters() -> None:
    events = register_history(random.Random(0), ops=300, processes=4)
    page = render_timeline(events, highlight={250}, max_ops=50)
    bars = ops_drawn(parse(page))
    assert len(bars) == 50 and "250" in bars
    assert "250 operations outside the window are not drawn" in page
