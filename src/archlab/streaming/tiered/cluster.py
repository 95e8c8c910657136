"""Pulsar's model: stateless brokers own topics whose data lives in ledgers on bookies (7.2).

A topic is a *managed ledger*: an ordered list of ledgers (:mod:`.ledger`), the last one open
for writes; a message's id is its :class:`Position` ``(ledger, entry)``. Everything about a
topic (its ledgers, its owner, its subscriptions' cursors) is in the cluster's metadata, so a
broker holds no data: when another broker takes a topic over (:meth:`Broker.acquire`) it
fences and closes the previous owner's open ledger and opens a new one, *copying nothing*; the
old owner's next write fails on the fenced bookies.

Capacity: a ledger's ensemble is chosen when the ledger is created, so a bookie added to the
cluster takes writes as soon as some topic rolls over to a new ledger (by entry count, size or
age), and no existing data moves. Tiering: closed ledgers are offloaded, oldest first, to an
object store (:mod:`.objectstore`) as one object each (an index of entry offsets, then the
entries), and dropped from the bookies after a deletion lag; reads go to whichever tier holds
the ledger, with ranged GETs on the object store. Retention deletes ledgers whose messages
every subscription has acknowledged once they are older than the retention time, in either
tier. Cursors record each subscription's acknowledged position and can be moved anywhere
(``seek``), so a new subscription can replay the topic from its first retained message.

The cluster takes its clock and random source from the host (sans-IO in time and randomness;
bookies and the local object store write files).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from archlab.randomness import RandomSource
from archlab.streaming.tiered.bookie import Bookie, LedgerFenced
from archlab.streaming.tiered.ledger import (
    BookieCluster,
    LedgerMetadata,
    LedgerWriter,
    Placement,
    recover,
)
from archlab.streaming.tiered.objectstore import ObjectStore

_COUNT = struct.Struct("<I")
_SLOT = struct.Struct("<QI")


class OwnershipLost(RuntimeError):
    """This broker's ledger was fenced: another broker owns the topic now."""


class NotOwner(RuntimeError):
    pass


@dataclass(frozen=True, order=True)
class Position:
    ledger: int
    entry: int


EARLIEST = Position(-1, -1)  # a cursor before the first message


@dataclass
class TieredConfig:
    ensemble: int = 3
    write_quorum: int = 3
    ack_quorum: int = 2
    max_entries_per_ledger: int = 50_000  # Pulsar's managedLedgerMaxEntriesPerLedger default
    max_ledger_age_s: float = 4 * 3600  # managedLedgerMaxLedgerRolloverTimeMinutes: 240
    retention_s: float | None = None  # None: keep acknowledged messages forever
    offload: bool = False
    offload_keep_local_bytes: int = 0  # offload closed ledgers beyond this much per topic
    offload_deletion_lag_s: float = 0.0  # Pulsar's default is 4 h; 0 drops bookie copies at once


@dataclass
class TopicRecord:
    name: str
    owner: str | None = None
    epoch: int = 0
    ledgers: list[int] = field(default_factory=list)
    cursors: dict[str, Position] = field(default_factory=dict)


class TieredCluster:
    """Bookies, brokers, the object store and the metadata that ties them together."""

    def __init__(
        self,
        directory: Path,
        store: ObjectStore,
        rng: RandomSource,
        clock: Callable[[], float],
        config: TieredConfig | None = None,
    ) -> None:
        self.directory = directory
        self.store = store
        self.clock = clock
        self.config = config or TieredConfig()
        self.bookies = BookieCluster(Placement(rng))
        self.topics: dict[str, TopicRecord] = {}
        self.brokers: dict[str, Broker] = {}
        self.offloaded_at: dict[int, float] = {}

    def add_bookie(self, name: str, sync: bool = False) -> Bookie:
        bookie = Bookie(name, self.directory / "bookies" / name, sync)
        self.bookies.add_bookie(bookie)
        return bookie

    def add_broker(self, name: str) -> Broker:
        broker = Broker(name, self)
        self.brokers[name] = broker
        return broker

    def close(self) -> None:
        """Close the bookies' open ledger files."""
        for bookie in self.bookies.bookies.values():
            bookie.close()

    def ledger(self, ledger_id: int) -> LedgerMetadata:
        return self.bookies.metadata.ledgers[ledger_id]

    def local_bytes(self) -> int:
        return sum(b.disk_bytes() for b in self.bookies.bookies.values())

    def offloaded_bytes(self) -> int:
        return sum(
            self.store.size(m.offloaded_key)
            for m in self.bookies.metadata.ledgers.values()
            if m.offloaded_key is not None
        )


@dataclass
class _Owned:
    epoch: int
    writer: LedgerWriter
    read_positions: dict[str, Position] = field(default_factory=dict)


class Broker:
    """Serves the topics it owns; keeps only handles and caches, never the data."""

    def __init__(self, name: str, cluster: TieredCluster) -> None:
        self.name = name
        self.cluster = cluster
        self.owned: dict[str, _Owned] = {}
        self._index_cache: dict[int, list[tuple[int, int]]] = {}
        self._block_cache: dict[int, tuple[int, bytes]] = {}  # the last offloaded ledger read

    # --- ownership ------------------------------------------------------------------------
    def acquire(self, topic: str) -> int:
        """Own ``topic``: recover its open ledger, open a new one; bytes re-replicated."""
        c = self.cluster
        record = c.topics.setdefault(topic, TopicRecord(topic))
        record.owner = self.name
        record.epoch += 1
        copied = 0
        if record.ledgers:
            # an empty recovered ledger stays in the list, fenced: deleting it would let the
            # previous owner's next add recreate it on the bookies, unfenced
            copied = recover(c.bookies, c.ledger(record.ledgers[-1]), c.clock())
        self.owned[topic] = _Owned(record.epoch, self._new_ledger(record))
        return copied

    def _new_ledger(self, record: TopicRecord) -> LedgerWriter:
        cfg = self.cluster.config
        meta = self.cluster.bookies.create_ledger(
            cfg.ensemble, cfg.write_quorum, cfg.ack_quorum, self.cluster.clock()
        )
        record.ledgers.append(meta.ledger_id)
        return LedgerWriter(self.cluster.bookies, meta)

    def _owned(self, topic: str) -> _Owned:
        owned = self.owned.get(topic)
        if owned is None:
            raise NotOwner(f"broker {self.name} does not own {topic}")
        return owned

    # --- writing ---------------------------------------------------------------------------
    def publish(self, topic: str, data: bytes) -> Position:
        owned = self._owned(topic)
        self._roll_if_due(topic, owned)
        try:
            entry = owned.writer.add(data)
        except LedgerFenced:
            del self.owned[topic]
            raise OwnershipLost(f"{topic}: another broker has taken it over") from None
        return Position(owned.writer.meta.ledger_id, entry)

    def _roll_if_due(self, topic: str, owned: _Owned) -> None:
        cfg = self.cluster.config
        meta = owned.writer.meta
        age = self.cluster.clock() - meta.created_at
        if len(meta.entry_sizes) >= cfg.max_entries_per_ledger or (
            meta.entry_sizes and age >= cfg.max_ledger_age_s
        ):
            record = self.cluster.topics[topic]
            if record.epoch != owned.epoch:
                # the topic's ledger list changed owner: a versioned update would fail here
                del self.owned[topic]
                raise OwnershipLost(f"{topic}: another broker has taken it over")
            owned.writer.close(self.cluster.clock())
            owned.writer = self._new_ledger(record)

    # --- reading ---------------------------------------------------------------------------
    def read(self, topic: str, position: Position) -> bytes:
        """One message from whichever tier holds its ledger."""
        self._owned(topic)
        meta = self.cluster.ledger(position.ledger)
        if meta.offloaded_key is not None and not _on_bookies(self.cluster, meta):
            return self._read_offloaded(meta, position.entry)
        data = self.cluster.bookies.read(meta, position.entry)
        if data is None:
            raise KeyError(f"{topic}: no message at {position}")
        return data

    def tier_of(self, position: Position) -> Literal["bookie", "object store"]:
        meta = self.cluster.ledger(position.ledger)
        on_bookies = _on_bookies(self.cluster, meta)
        return "bookie" if on_bookies or meta.offloaded_key is None else "object store"

    def _read_offloaded(self, meta: LedgerMetadata, entry: int) -> bytes:
        key = meta.offloaded_key
        assert key is not None
        index = self._index_cache.get(meta.ledger_id)
        if index is None:
            (count,) = _COUNT.unpack(self.cluster.store.get(key, 0, _COUNT.size))
            raw = self.cluster.store.get(key, _COUNT.size, _COUNT.size + count * _SLOT.size)
            index = [_SLOT.unpack_from(raw, i * _SLOT.size) for i in range(count)]
            self._index_cache[meta.ledger_id] = index
        block = self._block_cache.get(meta.ledger_id)
        if block is None:  # read ahead: the whole ledger's entries in one ranged GET
            start = index[0][0] if index else 0
            end = index[-1][0] + index[-1][1] if index else 0
            block = (start, self.cluster.store.get(key, start, end))
            self._block_cache = {meta.ledger_id: block}
        offset, length = index[entry]
        base, data = block
        return data[offset - base : offset - base + length]

    def drop_caches(self) -> None:
        """Forget offloaded ledgers' indexes and read-ahead (the next read GETs them again)."""
        self._index_cache.clear()
        self._block_cache.clear()

    def positions(self, topic: str, after: Position = EARLIEST) -> list[Position]:
        """Every retained message position after ``after``, in order."""
        record = self.cluster.topics[topic]
        out: list[Position] = []
        for ledger_id in record.ledgers:
            if ledger_id < after.ledger:
                continue
            meta = self.cluster.ledger(ledger_id)
            last = meta.last_entry if meta.state == "closed" else len(meta.entry_sizes) - 1
            first = after.entry + 1 if ledger_id == after.ledger else 0
            out.extend(Position(ledger_id, e) for e in range(first, last + 1))
        return out

    # --- subscriptions -----------------------------------------------------------------------
    def subscribe(self, topic: str, name: str, initial: Literal["earliest", "latest"]) -> None:
        record = self.cluster.topics[topic]
        if name in record.cursors:
            return
        latest = self.positions(topic)
        start = latest[-1] if initial == "latest" and latest else EARLIEST
        record.cursors[name] = start
        self._owned(topic).read_positions[name] = start

    def seek(self, topic: str, name: str, position: Position) -> None:
        """Move a subscription so its next message is the one after ``position``."""
        self.cluster.topics[topic].cursors[name] = position
        self._owned(topic).read_positions[name] = position

    def receive(self, topic: str, name: str, limit: int) -> list[tuple[Position, bytes]]:
        owned = self._owned(topic)
        record = self.cluster.topics[topic]
        start = owned.read_positions.get(name, record.cursors[name])
        batch = self.positions(topic, start)[:limit]
        if batch:
            owned.read_positions[name] = batch[-1]
        return [(p, self.read(topic, p)) for p in batch]

    def ack(self, topic: str, name: str, position: Position) -> None:
        """Cumulative acknowledgement: everything up to ``position`` is consumed."""
        cursors = self.cluster.topics[topic].cursors
        cursors[name] = max(cursors[name], position)

    # --- tiering and retention ------------------------------------------------------------
    def maintain(self, topic: str) -> None:
        """Roll by age, offload past the local budget, drop offloaded copies, apply retention."""
        owned = self._owned(topic)
        self._roll_if_due(topic, owned)
        if self.cluster.config.offload:
            self.offload(topic)
        self._drop_offloaded_copies(topic)
        self.apply_retention(topic)

    def offload(self, topic: str) -> int:
        """Offload closed ledgers, oldest first, beyond the topic's local budget; how many."""
        c = self.cluster
        closed = [c.ledger(i) for i in c.topics[topic].ledgers if c.ledger(i).state == "closed"]
        local = sum(m.length for m in closed if m.offloaded_key is None)
        done = 0
        for meta in closed:
            if local <= c.config.offload_keep_local_bytes:
                break
            if meta.offloaded_key is not None:
                continue
            entries = [c.bookies.read(meta, e) for e in range(meta.entries)]
            if any(e is None for e in entries):
                raise RuntimeError(f"ledger {meta.ledger_id}: an entry is unreadable")
            key = f"offload/{topic}/{meta.ledger_id}"
            c.store.put(key, _pack([e for e in entries if e is not None]))
            meta.offloaded_key = key
            c.offloaded_at[meta.ledger_id] = c.clock()
            local -= meta.length
            done += 1
        return done

    def _drop_offloaded_copies(self, topic: str) -> None:
        c = self.cluster
        for ledger_id in c.topics[topic].ledgers:
            meta = c.ledger(ledger_id)
            since = c.offloaded_at.get(ledger_id)
            if since is not None and c.clock() - since >= c.config.offload_deletion_lag_s:
                c.bookies.delete_ledger(meta)

    def apply_retention(self, topic: str) -> int:
        """Delete ledgers every subscription has consumed, once past retention; how many."""
        c = self.cluster
        if c.config.retention_s is None:
            return 0
        record = c.topics[topic]
        consumed = min(record.cursors.values(), default=None)
        deleted = 0
        for ledger_id in list(record.ledgers):
            meta = c.ledger(ledger_id)
            if meta.state != "closed" or meta.closed_at is None:
                break
            if c.clock() - meta.closed_at < c.config.retention_s:
                break
            if consumed is not None and consumed < Position(ledger_id, meta.last_entry):
                break
            c.bookies.delete_ledger(meta)
            if meta.offloaded_key is not None:
                c.store.delete(meta.offloaded_key)
            record.ledgers.remove(ledger_id)
            del c.bookies.metadata.ledgers[ledger_id]
            c.offloaded_at.pop(ledger_id, None)
            self._index_cache.pop(ledger_id, None)
            self._block_cache.pop(ledger_id, None)
            deleted += 1
        return deleted


def _on_bookies(cluster: TieredCluster, meta: LedgerMetadata) -> bool:
    return any(
        (b := cluster.bookies.bookies.get(name)) is not None and b.holds(meta.ledger_id)
        for name in meta.bookies()
    )


def _pack(entries: list[bytes]) -> bytes:
    """``count u32 | count × (offset u64, length u32) | entries``: one ledger as one object."""
    offset = _COUNT.size + len(entries) * _SLOT.size
    slots = []
    for data in entries:
        slots.append(_SLOT.pack(offset, len(data)))
        offset += len(data)
    return _COUNT.pack(len(entries)) + b"".join(slots) + b"".join(entries)
