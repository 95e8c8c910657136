"""What a ``read_committed`` consumer does with a fetch (codex 7.1, KIP-98's consumer side).

The broker returns batches only below the last stable offset, with the list of aborted
transactions ``(producer id, first offset)`` that overlap them. The consumer walks the batches
in offset order: when it reaches an aborted transaction's first offset it starts dropping
that producer's transactional batches, and stops at that producer's ABORT marker. Control
batches are never handed to the application. ``read_uncommitted`` drops control batches only.
"""

from __future__ import annotations

from collections.abc import Iterable

from archlab.streaming.broker.producers import AbortedTxn
from archlab.streaming.log.records import CONTROL_ABORT, Record, RecordBatch, control_type


def visible_records(
    batches: Iterable[RecordBatch], aborted: list[AbortedTxn], read_committed: bool
) -> list[tuple[int, Record]]:
    """(offset, record) of every record the application sees, in offset order."""
    pending = sorted(aborted, key=lambda a: a.first_offset)
    dropping: set[int] = set()
    out: list[tuple[int, Record]] = []
    for batch in batches:
        while read_committed and pending and pending[0].first_offset <= batch.last_offset:
            dropping.add(pending.pop(0).producer_id)
        if batch.control:
            if control_type(batch) == CONTROL_ABORT:
                dropping.discard(batch.producer_id)
            continue
        if read_committed and batch.transactional and batch.producer_id in dropping:
            continue
        out += [(batch.base_offset + r.offset_delta, r) for r in batch.records]
    return out
