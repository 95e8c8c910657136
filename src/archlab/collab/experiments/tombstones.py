"""``collab.tombstone_overhead`` (codex 5.4): CRDT bytes per visible character, real trace.

Results name the traces they use: Joseph Gentle's editing-traces, CC BY 4.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.collab import memory, traces
from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)

# -- collab.tombstone_overhead -------------------------------------------------------------

#: "Higher memory overhead" read as at least double the plain text: metadata at least as big
#: as the text itself. (Definition; the verdict states the measured factor.)
OVERHEAD = Threshold(
    2.0, "x", "codex 5.4 'higher memory overhead': read as at least the text's own size again"
)
#: "Due to the need to store tombstones": tombstones must hold most (over half) of the bytes
#: above the plain text.
TOMBSTONE_SHARE = Threshold(
    0.5, "fraction", "codex 5.4 attributes the overhead to tombstones: more than half of it"
)


@dataclass(frozen=True)
class TombstoneOverhead:
    traces: list[memory.TraceMemory]


def _ratios(t: memory.TraceMemory) -> tuple[float, float, float, float]:
    heap = t.crdt_heap / t.plain_heap
    snap = t.crdt_snapshot / t.plain_utf8
    heap_share = t.crdt_heap_tombstones / max(1e-9, t.crdt_heap - t.plain_heap)
    snap_share = t.crdt_snapshot_tombstones / max(1e-9, t.crdt_snapshot - t.plain_utf8)
    return heap, snap, min(1.0, heap_share), min(1.0, snap_share)


def judge_tombstone_overhead(m: TombstoneOverhead) -> Judgement:
    rows = [_ratios(t) for t in m.traces]
    low_overhead = min(min(h, s) for h, s, _, _ in rows)
    low_share = min(min(hs, ss) for _, _, hs, ss in rows)
    overhead = Evidence(
        "CRDT bytes / plain text (smallest over traces and forms)",
        round(low_overhead, 2),
        "x",
        at_least=OVERHEAD,
    )
    share = Evidence(
        "share of the overhead held by tombstones (smallest)",
        round(low_share, 3),
        "fraction",
        at_least=TOMBSTONE_SHARE,
    )
    parts = []
    for t, (h, s, hs, ss) in zip(m.traces, rows, strict=True):
        parts.append(
            f"{t.trace}: {h:.0f}x the plain text in memory ({t.crdt_heap:.0f} B per visible "
            f"character, {hs:.0%} tombstones; {t.crdt_heap_collected:.0f} B after collection), "
            f"{s:.1f}x as a snapshot ({ss:.0%} tombstones; {t.crdt_snapshot_collected:.1f} B "
            f"after), OT server {t.ot_server_heap:.1f} B/char"
        )
    text = "; ".join(parts)
    if overhead.met and share.met:
        return holds(text, overhead, share)
    if overhead.met:
        return nuanced(
            f"the overhead is mostly per-character metadata, not tombstones: {text}",
            overhead,
            share,
        )
    return refuted(f"the CRDT document is not much larger than the text: {text}", overhead, share)


@experiment(
    id="collab.tombstone_overhead",
    section="5.4",
    title="Tombstones: what a CRDT document costs per visible character",
    claim="""CRDTs often incur higher memory overhead because they must keep tombstones for
    deleted items.""",
    method="""A real keystroke trace (Joseph Gentle's editing-traces, CC BY 4.0) is replayed
    into archlab's text CRDT. Measured per visible character of the final document: the Python
    heap the document holds (every reachable object, once) and its binary snapshot, with the
    bytes held by deleted runs and the deletion log attributed to tombstones; then again after
    tombstone collection (content dropped once every replica has seen the deletion, ids kept,
    as Yjs does). Compared with the plain text (UTF-8 and a Python str) and with the OT
    server's document (its text; its operation history until acknowledged).""",
    judge=judge_tombstone_overhead,
    rule="""holds when the CRDT document is at least 2x the plain text in memory and as a
    snapshot on every trace (codex 'higher overhead', read as metadata at least the text's
    size) and tombstones hold more than half of the bytes above the text (codex: 'due to
    tombstones'); nuanced when the overhead is there but mostly not tombstones; refuted when
    the document is under 2x the text.""",
    profiles={
        "quick": {"traces": ["sveltecomponent"], "ot": False},
        "full": {"traces": ["sveltecomponent", "rustcode"], "ot": True},
    },
    references=[traces.ATTRIBUTION, "Yjs garbage collection (docs/references.md §5.4)."],
)
def tombstone_overhead(ctx: Context) -> Outcome[TombstoneOverhead]:
    names = [str(n) for n in ctx.params["traces"]]
    measured: list[memory.TraceMemory] = []
    with ctx.progress.task("traces", len(names)) as task:
        for name in names:
            measured.append(memory.trace_memory(traces.load(name), with_ot=bool(ctx.params["ot"])))
            task.advance()
    table = Table(
        "Bytes per visible character of the final document",
        [
            Column("trace"),
            Column("visible", "chars"),
            Column("tombstones", "chars"),
            Column("plain text", "B"),
            Column("CRDT heap", "B"),
            Column("of which tombstones", "B"),
            Column("CRDT heap, collected", "B"),
            Column("CRDT snapshot", "B"),
            Column("snapshot, collected", "B"),
            Column("OT server text", "B"),
            Column("OT server + history", "B"),
        ],
        note=traces.ATTRIBUTION
        + " The quick profile skips replaying the trace through the OT server (its history"
        " column then shows the text alone).",
    )
    for t in measured:
        table.add(
            t.trace,
            t.visible_chars,
            t.tombstone_chars,
            t.plain_utf8,
            t.crdt_heap,
            t.crdt_heap_tombstones,
            t.crdt_heap_collected,
            t.crdt_snapshot,
            t.crdt_snapshot_collected,
            t.ot_server_heap,
            t.ot_server_with_history,
        )
    labels = ["plain text", "OT server", "CRDT", "CRDT collected"]
    figure = Figure(
        "Memory per visible character (Python heap)",
        y_label="bytes per visible character (log scale)",
        log_y=True,
        series=[
            Series(
                t.trace,
                labels,
                [t.plain_heap, t.ot_server_heap, t.crdt_heap, t.crdt_heap_collected],
                style="bar",
            )
            for t in measured
        ],
        caption=traces.ATTRIBUTION,
    )
    first = measured[0]
    return Outcome(
        TombstoneOverhead(measured),
        summary=f"{first.trace}: CRDT {first.crdt_heap:.0f} B/char in memory "
        f"({first.crdt_heap_collected:.0f} collected) vs {first.plain_heap:.1f} plain; "
        f"snapshot {first.crdt_snapshot:.1f} B/char",
        tables=[table],
        figures=[figure],
    )
