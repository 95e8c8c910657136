"""The HTML report: valid, complete, self-contained, and rebuilt from saved results."""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
import pytest
from markupsafe import escape

from archlab.lab import format as fmt, registry, report
from archlab.lab.result import Result
from tests.lab.test_result import make_result

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)


def results_for_every_experiment() -> list[Result]:
    return [
        make_result(
            id=e.id,
            section=e.section,
            title=e.title,
            claim=e.claim,
            command=f"archlab run {e.id} --profile quick --seed 0",
            verdict=("holds", "refuted", "nuanced")[i % 3],
        )
        for i, e in enumerate(registry.all_experiments())
    ]


def parse(html: str) -> object:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)


def test_the_report_is_valid_html_with_every_experiment() -> None:
    results = results_for_every_experiment()
    html = report.render(results, "quick")
    tree = parse(html)
    articles = {a.get("id") for a in tree.iter("article")}  # type: ignore[attr-defined]
    assert articles == {r.id.replace(".", "-") for r in results}
    for r in results:
        assert str(escape(r.command)) in html
        assert str(escape(fmt.prose(r.claim))) in html


def test_the_report_loads_nothing_from_the_network() -> None:
    html = report.render(results_for_every_experiment(), "quick")
    tree = parse(html)
    for element in tree.iter():  # type: ignore[attr-defined]
        for name, value in element.attrib.items():
            if name.split("}")[-1] in {"src", "href", "data", "action", "poster", "srcset"}:
                assert not EXTERNAL.match(value), (element.tag, name, value)
        assert element.tag not in {"link", "iframe", "img", "object", "embed"}
    assert "http://" not in html and "https://" not in html
    # url() may only point inside the page (SVG clip paths: url(#id)).
    assert re.findall(r"url\((?!#)", html) == [] and "@import" not in html


def test_plots_are_inline_svg_and_their_ids_do_not_collide() -> None:
    html = report.render([make_result(), make_result(id="demo.other", title="Other")], "quick")
    tree = parse(html)
    svgs = [e for e in tree.iter() if str(e.tag).endswith("}svg")]  # type: ignore[attr-defined]
    assert len(svgs) == 4
    ids = [e.get("id") for e in tree.iter() if e.get("id")]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids))


def test_a_failed_experiment_is_shown_as_an_error() -> None:
    failed = make_result(
        verdict=None,
        error="RuntimeError: boom",
        values={},
        tables=[],
        figures=[],
        notes=["Traceback (most recent call last):\n  boom"],
    )
    html = report.render([failed], "quick")
    assert "RuntimeError: boom" in html
    assert 'class="badge error"' in html


def test_the_report_is_rebuilt_from_saved_results(tmp_path: Path) -> None:
    for r in results_for_every_experiment():
        r.save(tmp_path / "results")
    loaded = report.load_results(tmp_path / "results")
    path = report.write(loaded, tmp_path / "out" / "report.html")
    assert path.read_text().count("<article") == len(loaded)


def test_an_empty_or_missing_results_directory_is_a_clear_error(tmp_path: Path) -> None:
    from archlab.errors import InputFormatError

    with pytest.raises(InputFormatError, match="no such results directory"):
        report.load_results(tmp_path / "absent")
    with pytest.raises(InputFormatError, match="no result files"):
        report.load_results(tmp_path)


def test_references_link_to_their_sources_and_stay_escaped() -> None:
    from archlab.lab.report import linkify

    html = str(linkify("Raft paper Fig. 16 (https://raft.github.io/raft.pdf). <b>x</b> & y"))
    assert '<a href="https://raft.github.io/raft.pdf" rel="noreferrer">' in html
    assert "raft.pdf</a>). &lt;b&gt;x&lt;/b&gt; &amp; y" in html


# -- what a reader sees: evidence first, rounded numbers, one arrow, wide tables -----------


def evidence_result() -> Result:
    from archlab.lab.judging import Evidence, Threshold

    limit = Threshold(2.0, "x", "codex 7.1: 'much faster'")
    return make_result(
        id="demo.converted",
        values={f"v{i}": float(i) + 0.123456 for i in range(30)},
        evidence=[Evidence("speedup", 38.885, "x", at_least=limit).to_dict()],
        rule="speedup ≥ 2x (codex 7.1)",
        reason="sequential was 38.885x faster -> holds",
        summary="38.885x at 1234.5678 MB/s => fast",
    )


def test_evidence_comes_first_and_the_rest_is_folded() -> None:
    html = report.render([evidence_result(), make_result(values={"a": 1.23456, "b": 2})])
    tree = parse(html)
    converted, unconverted = tree.iter("article")  # type: ignore[attr-defined]
    text = "".join(converted.itertext())
    assert "speedup" in text and "38.9x" in text and "≥ 2x" in text and "codex 7.1" in text
    folded = [d for d in converted.iter("details") if d.get("class") == "allvalues"]
    assert len(folded) == 1 and folded[0].get("open") is None
    assert "all measurements (30)" in "".join(folded[0].itertext())
    # An experiment not converted to the typed contract yet: no evidence table, values folded.
    assert not [t for t in unconverted.iter("table") if t.get("class") == "evidence"]
    values = [d for d in unconverted.iter("details") if d.get("class") == "allvalues"]
    assert len(values) == 1 and "1.23" in "".join(values[0].itertext())


def test_numbers_in_the_text_are_rounded_and_arrows_are_one_style() -> None:
    html = report.render([evidence_result()])
    assert "38.885" not in html and "1234.5678" not in html
    assert "38.9x faster → holds" in html and "38.9x at 1235 MB/s → fast" in html
    assert "->" not in html.replace("<!--", "") and "=>" not in html


def test_a_cpu_share_above_100_percent_says_why() -> None:
    from archlab.lab import Column, Table

    busy = Table(
        "sending side",
        [Column("method"), Column("sender CPU busy", "%")],
        [["read_send", 104.2], ["sendfile", 60.0]],
    )
    calm = Table("calm", [Column("method"), Column("sender CPU busy", "%")], [["a", 99.0]])
    html = report.render([make_result(tables=[busy, calm])])
    assert html.count("sender CPU busy (%) reaches 104%") == 1
    assert "more than one core" in html


def test_wide_tables_are_marked_to_fit_the_page() -> None:
    from archlab.lab import Column, Table

    wide = Table("wide", [Column(f"column number {i}") for i in range(9)], [list(range(9))])
    html = report.render([make_result(tables=[wide])])
    assert '<table class="wide">' in html
