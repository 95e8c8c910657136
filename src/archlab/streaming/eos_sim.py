"""Producers on a faulty network against the real broker state (codex 7.1: exactly-once).

A deterministic, seeded simulation, sans-IO: the producer, the link and the broker's
:class:`~archlab.streaming.broker.partition.Partition` and
:class:`~archlab.streaming.broker.transactions.TransactionCoordinator` run in one loop. The
link drops requests (the broker never sees them) and responses (the broker appended, the
producer does not know); a *failover* restarts the broker from its log (recovery, producer
state rebuilt from the stored batches) and loses every response in flight. The producer keeps
up to five batches in flight and retries each batch until it is acknowledged.

Without idempotence every retry is appended again (duplicates) and a retried batch lands
after batches sent later (gaps: a reader sees a later record before an earlier one). With
idempotence the broker answers a retried batch with its first offsets and rejects a batch
whose predecessor is missing, so the producer resends them in order.

The transactional run writes transactions across two partitions and ends each by commit,
abort, or a crash of the producer (its successor's InitProducerId aborts the open transaction
and fences the old epoch; the zombie's late write is refused). A ``read_committed`` reader
then must see every record of every committed transaction and none of any other.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from archlab.randomness import RandomSource
from archlab.streaming.broker.isolation import visible_records
from archlab.streaming.broker.partition import Partition
from archlab.streaming.broker.transactions import ProducerIds, TransactionCoordinator
from archlab.streaming.log.partition import LogConfig, PartitionLog
from archlab.streaming.log.records import RecordBatch, decode_batch, make_batch, verify
from archlab.streaming.protocol import errors

IN_FLIGHT = 5
_CONFIG = LogConfig(flush_messages=0)


@dataclass(frozen=True)
class Faults:
    drop_request: float
    drop_response: float
    failover: float  # per round of in-flight requests


@dataclass(frozen=True)
class ProducerRun:
    records: int
    duplicates: int
    gaps: int
    lost: int
    retries: int
    failovers: int


def _read_all(p: Partition) -> list[RecordBatch]:
    out = []
    for seg in p.log.segments:
        data = os.pread(seg.fd, seg.size, 0)
        pos = 0
        while pos < len(data):
            out.append(decode_batch(data, pos))
            pos += verify(data, pos).size
    return out


def run_producer(
    directory: Path,
    rng: RandomSource,
    batches: int,
    per_batch: int,
    idempotent: bool,
    faults: Faults,
) -> ProducerRun:
    shutil.rmtree(directory, ignore_errors=True)
    part = Partition("t", 0, directory, _CONFIG, 0)
    pid = 4242 if idempotent else -1
    queue = list(range(batches))  # batch numbers waiting to be sent, lowest first
    acked: set[int] = set()
    retries = failovers = 0
    clock = 0
    while queue and clock < 50 * batches:  # a producer gives up eventually (delivery timeout)
        clock += 1
        # at most five unacknowledged batches: nothing past the oldest one + 5 is sent
        window = [b for b in queue if b < queue[0] + IN_FLIGHT]
        queue = queue[len(window) :]
        cut = len(window)
        if rng.random() < faults.failover:
            cut = rng.randrange(len(window) + 1)  # requests after the cut die with the broker
        failed: list[int] = []
        for i, b in enumerate(window):
            if i >= cut or rng.random() < faults.drop_request:
                failed.append(b)
                continue
            values = [b"%d" % (b * per_batch + j) for j in range(per_batch)]
            data = make_batch(
                values,
                timestamp=clock,
                producer_id=pid,
                producer_epoch=0 if idempotent else -1,
                base_sequence=b * per_batch if idempotent else -1,
            ).encode()
            result = part.produce(data, clock)
            part.commit_high_watermark()
            if cut < len(window) or rng.random() < faults.drop_response or result.error:
                failed.append(b)
            else:
                acked.add(b)
        if cut < len(window):
            failovers += 1
            part.log.close()
            part = Partition("t", 0, directory, _CONFIG, clock)
        retries += len(failed)
        queue = sorted(failed + queue)
    ids = [int(r.value or b"-1") for batch in _read_all(part) for r in batch.records]
    part.log.close()
    highest = -1
    gaps = 0
    seen: set[int] = set()
    for i in ids:
        if i not in seen and i < highest:
            gaps += 1
        seen.add(i)
        highest = max(highest, i)
    expected = {b * per_batch + j for b in acked for j in range(per_batch)}
    return ProducerRun(
        len(ids), len(ids) - len(seen), gaps, len(expected - seen), retries, failovers
    )


@dataclass(frozen=True)
class TxnRun:
    committed: int
    aborted: int
    crashed: int
    zombie_writes_accepted: int
    rc_aborted_seen: int  # read_committed: records of aborted transactions it returned
    rc_partial: int  # read_committed: committed transactions seen only in part
    ru_aborted_seen: int  # read_uncommitted: records of aborted transactions (they are in the log)


class _Cluster:
    """Two partitions and a transaction coordinator, restartable from their directories."""

    def __init__(self, directory: Path, now: int) -> None:
        self.dir = directory
        self.parts = [Partition("t", i, directory / f"t-{i}", _CONFIG, now) for i in range(2)]
        self.coordinator = TransactionCoordinator(
            PartitionLog(directory / "__transaction_state-0", _CONFIG, now),
            ProducerIds(directory / "pids"),
            self._marker,
            lambda group, offsets: None,
            now,
        )
        self.now = now

    def _marker(self, topic: str, partition: int, pid: int, epoch: int, commit: bool) -> int:
        p = self.parts[partition]
        offset = p.write_marker(pid, epoch, commit, self.now)
        p.commit_high_watermark()
        return offset

    def close(self) -> None:
        for p in self.parts:
            p.log.close()
        self.coordinator.log.close()


def run_transactions(
    directory: Path, rng: RandomSource, txns: int, per_txn: int, faults: Faults
) -> TxnRun:
    shutil.rmtree(directory, ignore_errors=True)
    now = 1
    c = _Cluster(directory, now)
    _, pid, epoch = c.coordinator.init_producer_id("app", 60_000, now)
    seqs = [0, 0]
    outcome: dict[int, str] = {}
    zombie_accepted = 0
    for t in range(txns):
        now += 1
        c.now = now
        assert c.coordinator.add_partitions("app", pid, epoch, [("t", 0), ("t", 1)], now) == 0
        for p in (0, 1):
            values = [b"%d:%d" % (t, j) for j in range(per_txn)]
            data = make_batch(
                values,
                timestamp=now,
                producer_id=pid,
                producer_epoch=epoch,
                base_sequence=seqs[p],
                transactional=True,
            ).encode()
            while True:  # retry through the faulty link until acknowledged
                if rng.random() < faults.drop_request:
                    continue
                result = c.parts[p].produce(data, now, txn_allowed=True)
                c.parts[p].commit_high_watermark()
                if result.error == errors.NONE and rng.random() >= faults.drop_response:
                    break
            seqs[p] += per_txn
        if rng.random() < faults.failover:  # the broker restarts with the transaction open
            c.close()
            c = _Cluster(directory, now)
        roll = rng.random()
        if roll < 0.2:  # the producer crashes; its successor takes over the transactional id
            _, new_pid, new_epoch = c.coordinator.init_producer_id("app", 60_000, now)
            zombie = make_batch(
                [b"zombie"],
                timestamp=now,
                producer_id=pid,
                producer_epoch=epoch,
                base_sequence=seqs[0],
                transactional=True,
            ).encode()
            allowed = c.coordinator.in_transaction(pid, "t", 0)
            if c.parts[0].produce(zombie, now, txn_allowed=allowed).error == errors.NONE:
                zombie_accepted += 1
            pid, epoch, seqs = new_pid, new_epoch, [0, 0]
            outcome[t] = "crashed"
            continue
        commit = roll >= 0.45
        while True:  # EndTxn retried when its response is lost: the second call is a no-op
            err = c.coordinator.end_txn("app", pid, epoch, commit, now)
            if err == errors.NONE and rng.random() >= faults.drop_response:
                break
        outcome[t] = "committed" if commit else "aborted"
    rc = _visible(c, read_committed=True)
    ru = _visible(c, read_committed=False)
    c.close()
    committed = {t for t, o in outcome.items() if o == "committed"}
    seen_rc: dict[int, int] = {}
    for t in rc:
        seen_rc[t] = seen_rc.get(t, 0) + 1
    return TxnRun(
        committed=len(committed),
        aborted=sum(1 for o in outcome.values() if o == "aborted"),
        crashed=sum(1 for o in outcome.values() if o == "crashed"),
        zombie_writes_accepted=zombie_accepted,
        rc_aborted_seen=sum(1 for t in rc if t not in committed),
        rc_partial=sum(1 for t in committed if seen_rc.get(t, 0) != 2 * per_txn),
        ru_aborted_seen=sum(1 for t in ru if t not in committed),
    )


def _visible(c: _Cluster, read_committed: bool) -> list[int]:
    """Transaction numbers of the records a consumer sees (-1 for a zombie's record)."""
    out = []
    for p in c.parts:
        fetched = p.fetch(0, 1 << 30, read_committed)
        limit = p.last_stable_offset if read_committed else p.high_watermark
        batches = [b for b in _read_all(p) if b.last_offset < limit]
        for _, r in visible_records(batches, fetched.aborted, read_committed):
            text = (r.value or b"").decode()
            out.append(int(text.split(":")[0]) if ":" in text else -1)
    return out
