"""BookKeeper ledgers: quorum writes over an ensemble, striping, fencing and recovery (7.2).

A ledger is written by one writer to an *ensemble* of E bookies: entry ``e`` goes to the
*write set* ``ensemble[(e + k) % E] for k < W`` (striping when W < E) and is acknowledged once
A of them have stored it (docs/references.md §7.2: E/W/A, e.g. 3/3/2). A bookie that fails
during a write is replaced by another for the entries from that point on: the ledger's metadata
records a new *fragment* ``(first entry, ensemble)``, and nothing already written moves.

Recovery is how a new owner takes a ledger from a writer that may still be alive: it *fences*
the ledger on the last fragment's bookies (needing answers from at least W − A + 1 bookies of
every write set, so no write set can still gather A acknowledgements), reads forward from the
highest last-add-confirmed any bookie reports, re-replicates every entry it can still read, and
closes the ledger at the last one. Every acknowledged entry survives, and the old writer's
next add fails.

The :class:`MetadataStore` plays ZooKeeper's part: ledger metadata and topic records. The
module has no clock and no randomness of its own: callers pass times and a random source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from archlab.randomness import RandomSource
from archlab.streaming.tiered.bookie import Bookie, BookieUnavailable, LedgerFenced

LedgerState = Literal["open", "in_recovery", "closed"]


class NotEnoughBookies(RuntimeError):
    pass


class RecoveryFailed(RuntimeError):
    pass


@dataclass
class LedgerMetadata:
    ledger_id: int
    ensemble_size: int
    write_quorum: int
    ack_quorum: int
    fragments: list[tuple[int, list[str]]]  # (first entry, ensemble)
    created_at: float
    state: LedgerState = "open"
    last_entry: int = -1  # the last entry of a closed ledger
    entry_sizes: list[int] = field(default_factory=list)  # payload bytes of each entry
    closed_at: float | None = None
    offloaded_key: str | None = None

    def ensemble_for(self, entry: int) -> list[str]:
        chosen = self.fragments[0][1]
        for first, ensemble in self.fragments:
            if first <= entry:
                chosen = ensemble
        return chosen

    def write_set(self, entry: int) -> list[str]:
        ensemble = self.ensemble_for(entry)
        return [ensemble[(entry + k) % len(ensemble)] for k in range(self.write_quorum)]

    def bookies(self) -> set[str]:
        return {b for _, ensemble in self.fragments for b in ensemble}

    @property
    def entries(self) -> int:
        return self.last_entry + 1

    @property
    def length(self) -> int:
        return sum(self.entry_sizes)


@dataclass
class MetadataStore:
    ledgers: dict[int, LedgerMetadata] = field(default_factory=dict)
    next_ledger_id: int = 1


class Placement:
    """Chooses ensembles: at random among the bookies that are up (BookKeeper's default)."""

    def __init__(self, rng: RandomSource) -> None:
        self.rng = rng

    def choose(self, candidates: Sequence[str], count: int) -> list[str]:
        pool = sorted(candidates)
        if len(pool) < count:
            raise NotEnoughBookies(f"need {count} bookies, {len(pool)} available")
        chosen: list[str] = []
        while len(chosen) < count:
            pick = pool.pop(self.rng.randrange(len(pool)))
            chosen.append(pick)
        return chosen


class BookieCluster:
    """The storage nodes, the ledger metadata, and ensemble placement."""

    def __init__(self, placement: Placement) -> None:
        self.bookies: dict[str, Bookie] = {}
        self.metadata = MetadataStore()
        self.placement = placement

    def add_bookie(self, bookie: Bookie) -> None:
        self.bookies[bookie.name] = bookie

    def up(self) -> list[str]:
        return [name for name, b in self.bookies.items() if b.up]

    def create_ledger(self, e: int, w: int, a: int, now: float) -> LedgerMetadata:
        if not e >= w >= a >= 1:
            raise ValueError(f"need E ≥ W ≥ A ≥ 1, got E={e} W={w} A={a}")
        ensemble = self.placement.choose(self.up(), e)
        meta = LedgerMetadata(self.metadata.next_ledger_id, e, w, a, [(0, ensemble)], now)
        self.metadata.ledgers[meta.ledger_id] = meta
        self.metadata.next_ledger_id += 1
        return meta

    def read(self, meta: LedgerMetadata, entry: int) -> bytes | None:
        """An entry from any bookie of its write set that is up and holds it."""
        for name in meta.write_set(entry):
            bookie = self.bookies.get(name)
            if bookie is None or not bookie.up:
                continue
            data = bookie.read_entry(meta.ledger_id, entry)
            if data is not None:
                return data
        return None

    def delete_ledger(self, meta: LedgerMetadata) -> int:
        freed = 0
        for name in meta.bookies():
            bookie = self.bookies.get(name)
            if bookie is not None:
                freed += bookie.delete_ledger(meta.ledger_id)
        return freed


class LedgerWriter:
    """The single writer of one open ledger."""

    def __init__(self, cluster: BookieCluster, meta: LedgerMetadata) -> None:
        self.cluster = cluster
        self.meta = meta
        self.lac = -1
        self.ensemble_changes = 0
        self.closed = False

    def add(self, data: bytes) -> int:
        """Store ``data`` as the next entry on its write set; its id once A bookies acked.

        Raises :class:`LedgerFenced` if the ledger was taken over, :class:`NotEnoughBookies`
        if fewer than A bookies could store it even after replacing the failed ones.
        """
        if self.closed:  # its own view: a new owner's recovery is learnt from the bookies
            raise LedgerFenced(f"ledger {self.meta.ledger_id} was closed by this writer")
        entry = self.lac + 1
        acked, failed = self._send(entry, data, self.meta.write_set(entry))
        if failed:
            self._replace(entry, failed)
            acked += self._send(entry, data, [self._replacement_of(b, entry) for b in failed])[0]
        if acked < self.meta.ack_quorum:
            raise NotEnoughBookies(
                f"ledger {self.meta.ledger_id} entry {entry}: {acked} of "
                f"{self.meta.ack_quorum} acknowledgements"
            )
        self.lac = entry
        self.meta.entry_sizes.append(len(data))
        return entry

    def close(self, now: float) -> None:
        self.closed = True
        self.meta.state = "closed"
        self.meta.last_entry = self.lac
        self.meta.closed_at = now

    def _send(self, entry: int, data: bytes, targets: list[str]) -> tuple[int, list[str]]:
        acked, failed = 0, []
        for name in targets:
            try:
                self.cluster.bookies[name].add_entry(self.meta.ledger_id, entry, data, self.lac)
                acked += 1
            except BookieUnavailable:
                failed.append(name)
        return acked, failed

    def _replace(self, entry: int, failed: list[str]) -> None:
        ensemble = list(self.meta.ensemble_for(entry))
        spare = [b for b in self.cluster.up() if b not in ensemble]
        for name in failed:
            if not spare:
                return
            ensemble[ensemble.index(name)] = spare.pop(0)
        self.meta.fragments.append((entry, ensemble))
        self.ensemble_changes += 1

    def _replacement_of(self, failed: str, entry: int) -> str:
        old = self.meta.fragments[-2][1] if len(self.meta.fragments) > 1 else []
        new = self.meta.ensemble_for(entry)
        return new[old.index(failed)] if failed in old else failed


def recover(cluster: BookieCluster, meta: LedgerMetadata, now: float) -> int:
    """Fence and close ``meta`` as its new owner; how many payload bytes were re-replicated."""
    if meta.state == "closed":
        return 0
    meta.state = "in_recovery"
    ensemble = meta.fragments[-1][1]
    lacs: dict[str, int] = {}
    for name in ensemble:
        bookie = cluster.bookies[name]
        try:
            _last, lacs[name] = bookie.fence(meta.ledger_id)
        except BookieUnavailable:
            continue
    need = meta.write_quorum - meta.ack_quorum + 1
    for i in range(len(ensemble)):
        write_set = {ensemble[(i + k) % len(ensemble)] for k in range(meta.write_quorum)}
        if len(write_set & set(lacs)) < need:
            raise RecoveryFailed(
                f"ledger {meta.ledger_id}: fenced {len(write_set & set(lacs))} of a write set, "
                f"need {need}"
            )
    entry = max(lacs.values(), default=-1) + 1
    copied = 0
    while (data := cluster.read(meta, entry)) is not None:
        for name in meta.write_set(entry):
            bookie = cluster.bookies[name]
            if bookie.up and not bookie.holds_entry(meta.ledger_id, entry):
                bookie.recovery_add(meta.ledger_id, entry, data)
                copied += len(data)
        if entry >= len(meta.entry_sizes):
            meta.entry_sizes.append(len(data))
        entry += 1
    meta.state = "closed"
    meta.last_entry = entry - 1
    meta.closed_at = now
    return copied


__all__ = [
    "BookieCluster",
    "LedgerFenced",
    "LedgerMetadata",
    "LedgerWriter",
    "NotEnoughBookies",
    "Placement",
    "RecoveryFailed",
    "recover",
]
