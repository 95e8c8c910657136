"""What a collaborative document costs in memory, measured (codex 5.4's tombstone claim).

:func:`deep_size` sums ``sys.getsizeof`` over every object reachable from a root (each
counted once; classes, functions and modules excluded), so the CRDT document's size includes
its runs, their text and origin tuples, the B-tree nodes, the id index and the deletion log —
the Python heap it really holds. :func:`trace_memory` replays a real editing trace into one
text CRDT replica and reports bytes per visible character: in memory and as a binary snapshot,
before and after tombstone collection, against the plain text and the OT server's document
(its text, plus the operation history a Jupiter server keeps until every client has
acknowledged it).
"""

from __future__ import annotations

import gc
import sys
import types
from dataclasses import dataclass

from archlab.collab import traces
from archlab.collab.crdt import codec
from archlab.collab.crdt.runs import Leaf, Node, Run
from archlab.collab.crdt.text import RunUpdate, TextDoc, Update
from archlab.collab.ot import ops
from archlab.collab.ot.jupiter import OTServer, Submit

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(root: object, *, stop: tuple[type, ...] = ()) -> int:
    """Bytes of ``root`` and everything it references (objects of ``stop`` types excluded)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP) or (stop and isinstance(obj, stop)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


@dataclass(frozen=True)
class TraceMemory:
    """Bytes per visible character of one trace's final document, in each representation."""

    trace: str
    visible_chars: int
    tombstone_chars: int
    runs: int
    runs_after_collection: int
    plain_utf8: float  # the text's UTF-8 bytes
    plain_heap: float  # a Python str of the text
    crdt_heap: float
    crdt_heap_tombstones: float  # the part held by deleted runs and the deletion log
    crdt_heap_collected: float
    crdt_snapshot: float
    crdt_snapshot_tombstones: float
    crdt_snapshot_collected: float
    ot_server_heap: float  # server text, history pruned (every client acknowledged)
    ot_server_with_history: float  # server text plus the unpruned operation history


def trace_memory(trace: traces.Trace, *, with_ot: bool = True) -> TraceMemory:
    doc = traces.replay_into_crdt(trace)
    if doc.text != trace.end:
        raise RuntimeError(f"{trace.name}: replay did not reproduce endContent")
    visible = max(1, len(doc))
    heap = deep_size(doc)
    snapshot = len(codec.snapshot(doc))
    heap_tombstones, snapshot_live = _tombstone_parts(doc)
    runs, tombstones = doc.run_count, doc.tombstones
    doc.collect(doc.version)  # one replica: it has seen every deletion
    heap_collected = deep_size(doc)
    snapshot_collected = len(codec.snapshot(doc))
    server_heap = server_history = float(sys.getsizeof(trace.end))
    if with_ot:
        server = OTServer(trace.start)
        for pos, dels, text in trace.each_patch():
            server.receive(
                Submit("editor", server.revision, ops.edit(len(server.doc), pos, dels, text))
            )
        server_heap = float(sys.getsizeof(server.doc))
        server_history = float(deep_size(server.history)) + server_heap
    return TraceMemory(
        trace=trace.name,
        visible_chars=len(doc),
        tombstone_chars=tombstones,
        runs=runs,
        runs_after_collection=doc.run_count,
        plain_utf8=len(trace.end.encode()) / visible,
        plain_heap=sys.getsizeof(trace.end) / visible,
        crdt_heap=heap / visible,
        crdt_heap_tombstones=heap_tombstones / visible,
        crdt_heap_collected=heap_collected / visible,
        crdt_snapshot=snapshot / visible,
        crdt_snapshot_tombstones=(snapshot - snapshot_live) / visible,
        crdt_snapshot_collected=snapshot_collected / visible,
        ot_server_heap=server_heap / visible,
        ot_server_with_history=server_history / visible,
    )


def _tombstone_parts(doc: TextDoc) -> tuple[int, int]:
    """Heap bytes held for tombstones; snapshot bytes of the live runs alone."""
    deleted = [run for run in doc.tree if run.deleted]
    pointer = 8  # each run has one slot in a leaf and two in the id index
    held = deep_size(deleted, stop=(Leaf, Node)) - sys.getsizeof(deleted)
    held += 3 * pointer * len(deleted)
    held += deep_size(doc._delete_log)
    live = Update(tuple(_live_update(run) for run in doc.tree if not run.deleted))
    return held, len(codec.encode(live))


def _live_update(run: Run) -> RunUpdate:
    return RunUpdate(
        run.replica, run.counter, run.length, run.text, run.origin_left, run.origin_right
    )
