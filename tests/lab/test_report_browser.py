"""The report as a browser shows it: headless Chromium renders a page of representative results.

A measuring script added to the page reports, per figure, its rendered size and every plotted
line (reference lines included) that passes under the legend box, sampled along the rendered
SVG path and at every marker; per table, whether it fits its column. Chromium is a Debian
package listed in scripts/system-packages.txt: ``make test`` installs it when run as root, so
there the test fails rather than skips if it is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from archlab.lab import Column, Figure, Heatmap, RefLine, Series, Table, report
from archlab.lab.judging import Evidence, Threshold
from archlab.lab.result import Result
from tests.lab.test_plots import REPRESENTATIVE
from tests.lab.test_result import make_result

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
]

MEASURE = """
<script>
(function () {
  function inside(box, x, y) {
    return x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
  }
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  var figures = [];
  document.querySelectorAll("figure > svg").forEach(function (svg) {
    var r = svg.getBoundingClientRect();
    var fig = {label: svg.getAttribute("aria-label"), width: r.width, height: r.height,
               legend: false, lines: 0, hidden: []};
    var legend = svg.querySelector('g[id$="legend_1"]');
    svg.querySelectorAll('g[id*="line2d_"]').forEach(function (g) {
      if (g.closest('g[id*="matplotlib.axis_"]') || (legend && legend.contains(g))) { return; }
      fig.lines += 1;
      if (!legend) { return; }
      var box = legend.getBoundingClientRect();
      var hit = false;
      g.querySelectorAll("path").forEach(function (p) {
        var m = p.getScreenCTM(), length = p.getTotalLength();
        for (var s = 0; s <= length && !hit; s += 1.0) {
          var q = new DOMPoint(p.getPointAtLength(s).x, p.getPointAtLength(s).y).matrixTransform(m);
          hit = inside(box, q.x, q.y);
        }
      });
      g.querySelectorAll("use").forEach(function (u) {
        hit = hit || overlaps(box, u.getBoundingClientRect());
      });
      if (hit) { fig.hidden.push(g.id); }
    });
    fig.legend = !!legend;
    figures.push(fig);
  });
  var tables = [];
  document.querySelectorAll(".tablewrap").forEach(function (w) {
    tables.push({title: w.previousElementSibling ? w.previousElementSibling.textContent : "",
                 scroll: w.scrollWidth, client: w.clientWidth});
  });
  var folded = Array.prototype.filter.call(document.querySelectorAll("details.allvalues"),
                                           function (d) { return !d.open; }).length;
  var pre = document.createElement("pre");
  pre.id = "archlab-measure";
  pre.textContent = JSON.stringify({figures: figures, tables: tables, folded: folded});
  document.body.appendChild(pre);
})();
</script>
"""


def chromium() -> str:
    found = os.environ.get("ARCHLAB_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if found:
        return found
    message = "chromium is not installed (scripts/install-system-deps installs it)"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.fail(message)  # as root, `make test` installs it: missing is a failure
    pytest.skip(message)


def representative_results() -> list[Result]:
    """Results whose figures and tables have the shapes that went wrong before."""
    wide = Table(
        "An old transaction blocks freezing",
        [
            Column("wraparound protection"),
            Column("first warning", "XIDs before wraparound"),
            Column("first refusal", "XIDs before wraparound"),
            Column("XIDs refused while it was open"),
            Column("commits after it ended"),
            Column("committed rows missing from a scan (peak)"),
            Column("failed commit-log lookups"),
            Column("autovacuum_freeze_max_age", "PostgreSQL XIDs"),
            Column("sender CPU busy", "%"),
        ],
        [
            ["on (PostgreSQL's default)", 76, 5, 100, 1944, 0, 0, "100M", 104.5],
            ["off (what the refusal prevents)", None, None, 0, 1793, 2048, 40, "1000M", 60.0],
        ],
    )
    regimes = Figure(
        "Table 1 regime by DAU (count)",
        "data written per user per day",
        "daily active users",
        heatmap=Heatmap(
            ["100 B", "1 KB", "10 KB", "100 KB"],
            ["10^4", "10^6", "10^8"],
            [[0.0, 0.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 4.0]],
            [["single", "single", "replicas", "shard"]] * 3,
            "0 single, 1 replicas, 2 shard, 3 dist., 4 both",
        ),
    )
    btree = Figure(
        "B+-tree height and pages read per lookup",
        "keys",
        "pages",
        [
            Series("height", [1e3, 1e4, 4e4, 1e6], [2.0, 3.0, 3.0, 4.0]),
            Series("pages read (cold)", [1e3, 1e4, 4e4, 1e6], [2.0, 3.0, 3.0, 4.0]),
            Series("log_B N", [1e3, 1e4, 4e4, 1e6], [1.5, 2.0, 2.3, 3.0], style="bound"),
        ],
        log_x=True,
        ref_lines=[RefLine(3.5, "average leaf fill")],
    )
    converted = make_result(
        id="demo.converted",
        title="Converted",
        evidence=[
            Evidence("speedup", 38.885, "x", at_least=Threshold(2.0, "x", "codex 7.1")).to_dict()
        ],
        values={f"value_{i}": i * 1.5 for i in range(40)},
        figures=[*REPRESENTATIVE, regimes],
        tables=[wide],
    )
    unconverted = make_result(
        id="demo.unconverted", title="Unconverted", figures=[btree], values={"a": 1.0}
    )
    return [converted, unconverted]


def test_chromium_shows_every_figure_with_no_legend_over_a_line(tmp_path: Path) -> None:
    browser = chromium()
    results = representative_results()
    html = report.render(results, "quick").replace("</body>", MEASURE + "</body>", 1)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    marker = '<pre id="archlab-measure">'
    assert marker in done.stdout, done.stderr[-2000:]
    measured = json.loads(done.stdout.split(marker, 1)[1].split("</pre>", 1)[0])
    figures = measured["figures"]
    assert len(figures) == sum(len(r.figures) for r in results)
    for figure in figures:
        assert figure["width"] > 300 and figure["height"] > 150, figure  # it is displayed
        assert figure["hidden"] == [], f"the legend covers lines in {figure['label']!r}"
    assert sum(f["lines"] for f in figures) > 10 and sum(f["legend"] for f in figures) >= 6
    for table in measured["tables"]:
        assert table["scroll"] <= table["client"] + 1, table  # no table is wider than the page
    assert measured["folded"] == len(results)  # "all measurements" starts collapsed
