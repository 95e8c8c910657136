"""A history drawn as a timeline: one self-contained HTML page (codex 5.1).

Each process gets a lane; each operation is a bar from its invocation to its completion,
coloured by outcome (``ok``, ``fail``) and open-ended for ``info`` (it may take effect any
time after its invocation). Fault windows (a partition, a crash ...) are shaded bands across
every lane; operations a checker could not place are drawn in red; a linearization order, when
given, numbers the operations it placed. The x axis is the events' ``time`` when every event
has one, their position in the history otherwise. Hovering a bar shows the operation in full.

The page needs no network: the SVG and its CSS are inline, and it names no external address.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from typing import Any

from archlab.check import history as hist
from archlab.check.history import NEVER, Event, Operation

#: Histories longer than this are drawn around the highlighted operations (or from the start).
MAX_OPS = 2_000
LANE_ROW = 22  # px per sub-row of a lane
BAR = 14
LEFT = 110
PLOT_WIDTH = 1100
TOP = 34

_CSS = """
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em;
       color: #111827; background: #fff; }
h1 { font-size: 1.25em; margin: 0 0 .3em; }
.legend span { display: inline-block; margin-right: 1.2em; }
.legend i { display: inline-block; width: 1.6em; height: .8em; margin-right: .35em;
            vertical-align: middle; border-radius: 2px; }
.chart { overflow-x: auto; border: 1px solid #e5e7eb; border-radius: 6px; margin: .8em 0; }
svg text { font: 11px system-ui, sans-serif; }
.lane-label { fill: #374151; font-weight: 600; }
.lane { fill: #f9fafb; }
.op rect { stroke-width: 1; }
.ok rect { fill: #bfdbfe; stroke: #2563eb; }
.fail rect { fill: #e5e7eb; stroke: #6b7280; }
.info rect { fill: url(#open); stroke: #d97706; stroke-dasharray: 4 2; }
.bad rect { fill: #fecaca; stroke: #dc2626; stroke-width: 2.5; }
.op text { fill: #111827; pointer-events: none; }
.order circle { fill: #059669; }
.order text { fill: #fff; font-size: 9px; font-weight: 700; }
.fault rect { fill: #f59e0b; opacity: .14; }
.fault text { fill: #92400e; font-weight: 600; }
.axis line { stroke: #d1d5db; }
.axis text { fill: #6b7280; }
ul.notes { padding-left: 1.2em; }
ul.notes li { margin: .25em 0; }
.muted { color: #6b7280; }
"""


def render_timeline(
    events: Sequence[Event],
    *,
    title: str = "",
    faults: Sequence[tuple[float, float, str]] = (),
    highlight: Collection[int] = (),
    notes: Sequence[str] = (),
    order: Sequence[int] = (),
    max_ops: int = MAX_OPS,
    highlight_label: str = "could not be placed",
) -> str:
    """The history as one HTML page.

    ``faults``: (start, end, label) bands, in the same unit as the x axis (the events'
    ``time``, or their positions when some event has none). ``highlight``: indexes of
    operations (:attr:`Operation.index`) to draw in red. ``order``: operation indexes in
    a linearization order, numbered on their bars. ``notes``: lines shown under the chart.
    ``highlight_label`` says what red means in the legend and the tooltips.
    """
    ops = hist.pair(events)
    timed = bool(events) and all(e.time is not None for e in events)
    at = [float(e.time) if timed and e.time is not None else float(i) for i, e in enumerate(events)]
    shown, skipped = _window(ops, set(highlight), max_ops)
    faults = list(faults)
    end = max([*at, *(f[1] for f in faults), 1.0]) if at else 1.0
    start = min([*at[:1], *(f[0] for f in faults), 0.0]) if at else 0.0
    if shown:
        start = max(start, at[shown[0].call] - 1) if skipped else start
    span = (end - start) or 1.0

    def x(t: float) -> float:
        return LEFT + (t - start) / span * PLOT_WIDTH

    lanes = _lanes(shown)
    rank = {index: position + 1 for position, index in enumerate(order)}
    rows_total = sum(len(rows) for _, rows in lanes)
    height = TOP + rows_total * LANE_ROW + 40
    parts: list[str] = [
        f'<svg width="{LEFT + PLOT_WIDTH + 30}" height="{height}" role="img" '
        f'aria-label="timeline">',
        '<defs><linearGradient id="open" x1="0" x2="1" y1="0" y2="0">'
        '<stop offset="0" stop-color="#fde68a"/><stop offset="1" stop-color="#fde68a" '
        'stop-opacity="0.1"/></linearGradient></defs>',
    ]
    y = TOP
    backgrounds: list[str] = []
    bars: list[str] = []
    for process, rows in lanes:
        lane_height = len(rows) * LANE_ROW
        backgrounds.append(
            f'<rect class="lane" x="{LEFT}" y="{y - 4}" width="{PLOT_WIDTH}" '
            f'height="{lane_height}"/>'
            f'<text class="lane-label" x="{LEFT - 8}" y="{y + BAR - 3}" text-anchor="end">'
            f"process {_e(str(process))}</text>"
        )
        for row, row_ops in enumerate(rows):
            for op in row_ops:
                bars.append(
                    _bar(
                        op,
                        x(at[op.call]),
                        _end_x(op, at, x, end),
                        y + row * LANE_ROW,
                        highlight_label if op.index in highlight else "",
                        rank.get(op.index),
                    )
                )
        y += lane_height
    parts += backgrounds
    parts.append(_axis(start, end, x, y + 6, "time" if timed else "event"))
    for begin, finish, label in faults:
        parts.append(
            f'<g class="fault"><rect x="{x(begin):.1f}" y="{TOP - 18}" '
            f'width="{max(x(finish) - x(begin), 2):.1f}" height="{y - TOP + 18}"/>'
            f'<text x="{x(begin) + 3:.1f}" y="{TOP - 8}">{_e(label)}</text>'
            f"<title>{_e(label)}: {begin:g} to {finish:g}</title></g>"
        )
    parts += bars
    parts.append("</svg>")

    counts = {s: sum(1 for op in ops if op.status == s) for s in ("ok", "fail", "info")}
    summary = (
        f"{len(ops)} operations by {len({op.process for op in ops})} processes: "
        f"{counts['ok']} ok, {counts['fail']} failed, {counts['info']} unknown"
    )
    if skipped:
        summary += f"; {skipped} operations outside the window are not drawn"
    notes_html = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title or 'history timeline')}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title or 'History timeline')}</h1>"
        f'<p class="muted">{_e(summary)}</p>'
        '<p class="legend"><span><i style="background:#bfdbfe;border:1px solid #2563eb"></i>ok'
        '</span><span><i style="background:#e5e7eb;border:1px solid #6b7280"></i>failed</span>'
        '<span><i style="background:#fde68a;border:1px dashed #d97706"></i>unknown (open-ended)'
        '</span><span><i style="background:#fecaca;border:2px solid #dc2626"></i>'
        f"{_e(highlight_label)}</span>"
        + ('<span><i style="background:#f59e0b;opacity:.3"></i>fault</span>' if faults else "")
        + ("<span>● n: position in the linearization</span>" if order else "")
        + "</p>"
        f'<div class="chart">{"".join(parts)}</div>'
        + (f'<ul class="notes">{notes_html}</ul>' if notes else "")
        + "</body></html>\n"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _window(ops: list[Operation], highlight: set[int], limit: int) -> tuple[list[Operation], int]:
    """At most ``limit`` operations: all, or a contiguous run around the first highlighted."""
    if len(ops) <= limit:
        return ops, 0
    centre = next((i for i, op in enumerate(ops) if op.index in highlight), 0)
    first = max(0, min(centre - limit // 2, len(ops) - limit))
    return ops[first : first + limit], len(ops) - limit


def _lanes(ops: Sequence[Operation]) -> list[tuple[Any, list[list[Operation]]]]:
    """Per process, rows of non-overlapping operations (an open-ended info op and the
    process's next operations overlap, so they go on separate rows)."""
    by_process: dict[Any, list[Operation]] = {}
    for op in ops:
        by_process.setdefault(op.process, []).append(op)
    lanes = []
    for process in sorted(by_process, key=lambda p: (isinstance(p, str), str(p).zfill(12))):
        rows: list[list[Operation]] = []
        ends: list[int] = []
        for op in sorted(by_process[process], key=lambda o: o.call):
            for r, last in enumerate(ends):
                if last < op.call:
                    rows[r].append(op)
                    ends[r] = op.ret
                    break
            else:
                rows.append([op])
                ends.append(op.ret)
        lanes.append((process, rows))
    return lanes


def _end_x(op: Operation, at: Sequence[float], x: Any, end: float) -> float:
    if op.ret == NEVER:
        return float(x(end))
    return float(x(at[op.ret]))


def _bar(op: Operation, x0: float, x1: float, y: float, bad: str, rank: int | None) -> str:
    """One operation's bar; ``bad`` (when not empty) says why it is highlighted."""
    width = max(x1 - x0, 3.0)
    status = "bad" if bad else op.status
    label = _label(op)
    tip = (
        f"{op.f} by process {op.process}"
        + (f", line {op.invoke.line}" if op.invoke.line else "")
        + f"\nstatus: {op.status}"
        + (f"\nkey: {_value(op.key)}" if op.key is not None else "")
        + f"\nvalue: {_value(op.value)}"
        + (f"\nresult: {_value(op.output)}" if op.status == "ok" else "")
        + (f"\n{bad}" if bad else "")
        + (f"\nlinearized #{rank}" if rank else "")
    )
    text = ""
    if width > 24:
        fits = max(int(width / 6.2), 3)
        shown = label if len(label) <= fits else label[: fits - 1] + "…"
        text = f'<text x="{x0 + 3:.1f}" y="{y + BAR - 3.5:.1f}">{_e(shown)}</text>'
    badge = ""
    if rank is not None:
        badge = (
            f'<g class="order"><circle cx="{x0:.1f}" cy="{y:.1f}" r="6"/>'
            f'<text x="{x0:.1f}" y="{y + 3:.1f}" text-anchor="middle">{rank}</text></g>'
        )
    return (
        f'<g class="op {status}" data-index="{op.index}"><title>{_e(tip)}</title>'
        f'<rect x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" height="{BAR}" rx="2"/>'
        f"{text}</g>{badge}"
    )


def _label(op: Operation) -> str:
    key = "" if op.key is None else f"{_value(op.key)}: "
    if op.f == "txn":
        mops = op.output if op.status == "ok" else op.value
        if isinstance(mops, tuple):
            return f"T{op.index}: " + " ".join(_mop(m) for m in mops)
    if op.f == "read":
        return f"{key}read → {_value(op.output) if op.status == 'ok' else '?'}"
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return f"{key}cas {_value(op.value[0])}→{_value(op.value[1])}"
    return f"{key}{op.f} {_value(op.value)}"


def _mop(m: Any) -> str:
    if isinstance(m, tuple) and len(m) == 3:
        f, k, v = m
        return f"{f} {_value(k)} {_value(v)}"
    return _value(m)


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _axis(start: float, end: float, x: Any, y: float, unit: str) -> str:
    ticks = _ticks(start, end)
    marks = "".join(
        f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP - 20}" y2="{y}"/>'
        f'<text x="{x(t):.1f}" y="{y + 14}" text-anchor="middle">{t:g}</text>'
        for t in ticks
    )
    return (
        f'<g class="axis">{marks}<text x="{LEFT + PLOT_WIDTH:.1f}" y="{y + 28}" '
        f'text-anchor="end">{unit}</text></g>'
    )


def _ticks(start: float, end: float, target: int = 10) -> list[float]:
    raw = (end - start) / target
    if raw <= 0:
        return [start]
    magnitude = 10 ** _floor_log10(raw)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = step * -(-start // step)
    ticks = []
    t = first
    while t <= end + 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent
