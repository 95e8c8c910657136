"""Compaction's merge, streamed: memory bounded by the number of input runs, not their size
(codex 4.2).

A compaction merges sorted runs (given newest first; within a run tables do not overlap and
come in key order) into one sorted stream in which each key keeps only its newest value. The
naive merge reads every input into memory first; :func:`merge_streaming` keeps, per run, only
the entries of the blocks it has read but not yet emitted:

1. every run whose buffer is empty reads its next ``blocks_per_read`` data blocks;
2. the *bound* is the smallest last-buffered key over the runs that still have input: no run
   can later produce a key at or below it that it has not already buffered;
3. every buffered entry with key ≤ bound is final: those slices are merged (oldest run first
   into a dict, so the newest value wins; then sorted, which Timsort does in near-linear time
   on sorted slices) and yielded as one chunk;
4. repeat until every run is exhausted.

Each step empties at least one run's buffer, so a run holds at most ``blocks_per_read``
blocks beyond what the previous step left, and memory stays within about
``2 x runs x blocks_per_read`` blocks however large the inputs are. :func:`blocks_per_read`
picks the most blocks per read that fit a memory budget (more blocks per step amortise the
per-step work over more entries; a decoded block takes about three times its bytes). The writer
(:mod:`archlab.storage.lsm.worker`) writes each chunk out and rolls output tables by size.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from archlab.storage.lsm.version import Table

Chunk = tuple[list[bytes], list[bytes | None]]


@dataclass
class _RunCursor:
    """One input run: its remaining tables and the entries read but not yet emitted."""

    tables: list[Table]
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    table_index: int = 0
    blocks: Iterator[tuple[list[bytes], list[bytes | None]]] | None = None
    done: bool = False

    def refill(self, blocks_per_read: int) -> None:
        """Read up to ``blocks_per_read`` more blocks (crossing into the next table)."""
        read = 0
        while read < blocks_per_read and not self.done:
            if self.blocks is None:
                if self.table_index == len(self.tables):
                    self.done = True
                    return
                self.blocks = self.tables[self.table_index].reader.blocks()
                self.table_index += 1
            block = next(self.blocks, None)
            if block is None:
                self.blocks = None
                continue
            self.keys += block[0]
            self.values += block[1]
            read += 1

    def take_through(self, bound: bytes) -> Chunk:
        cut = bisect_right(self.keys, bound)
        taken = (self.keys[:cut], self.values[:cut])
        del self.keys[:cut]
        del self.values[:cut]
        return taken


#: a decoded block's Python objects (bytes keys and values in lists) over its encoded size
DECODED_OVERHEAD = 3


def blocks_per_read(runs: int, block_bytes: int, memory_bytes: int) -> int:
    """Blocks each run reads at a time so that all runs' buffers fit ``memory_bytes``."""
    per_run = memory_bytes // max(1, 2 * runs * block_bytes * DECODED_OVERHEAD)
    return max(1, min(16, per_run))


def merge_streaming(
    inputs: list[list[Table]], drop_tombstones: bool, *, blocks_per_read: int = 4
) -> Iterator[Chunk]:
    """The merged entries of ``inputs`` (runs newest first), in key order, chunk by chunk."""
    cursors = [_RunCursor(list(run)) for run in inputs if run]
    while True:
        for cursor in cursors:
            if not cursor.keys:
                cursor.refill(blocks_per_read)
        live = [c for c in cursors if c.keys]
        if not live:
            return
        pending = [c.keys[-1] for c in live if not c.done]
        bound = min(pending) if pending else max(c.keys[-1] for c in live)
        merged: dict[bytes, bytes | None] = {}
        for cursor in reversed(cursors):  # oldest run first: the newest value is written last
            if cursor.keys:
                keys, values = cursor.take_through(bound)
                merged.update(zip(keys, values, strict=True))
        out_keys = sorted(merged)
        if drop_tombstones:
            out_keys = [k for k in out_keys if merged[k] is not None]
        if out_keys:
            yield out_keys, [merged[k] for k in out_keys]
