"""Partition replication: acks, ISR, high watermark, leader epochs (codex 7.1), sans-IO.

One partition replicated on every simulated server (:mod:`archlab.sim`). The leader appends
a producer's record (a RecordBatch v2 in the node's log file, fsynced) and answers according
to ``acks``: 0 at once, 1 after its own append, ``all`` once the high watermark passes the
record. Followers *fetch*: each fetch names the follower's log end and the epoch of its last
record, which tells the leader how far that follower has the log; the high watermark is the
lowest log end among the in-sync replicas (ISR). A follower that has not caught up for
``replica_lag`` is dropped from the ISR; one that catches up is added back. ``acks=all`` is
refused with NOT_ENOUGH_REPLICAS while the ISR is smaller than ``min_insync``.

Leader epochs: every leader change starts a new epoch, stamped in the ``partitionLeaderEpoch``
of the batches it writes. A follower fetching with ``(offset, last epoch)`` that does not
match the leader's log is told where that epoch ends on the leader and truncates to it
before fetching again (KIP-101/279), so a deposed leader drops what it wrote that was never
committed instead of keeping a divergent history.

Leadership and the ISR live in :class:`Controller`, which stands for Kafka's controller
quorum (itself replicated by Raft in KRaft; archlab's Raft is chapter 5.3): brokers heartbeat
to it, it elects the next leader *from the ISR only* when the leader's heartbeats stop, and it
accepts ISR changes only from the current leader of the current epoch.

``broken`` variant: a follower acknowledges records before it has appended them (it fetches
past them at once and writes them a little later); a crash in between loses records the
leader counted as replicated.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.sim.client import Completion, Redirect
from archlab.sim.process import Address, Effect, NodeEnv, Op, Reply, Request, Send, SetTimer, Sync
from archlab.streaming.log.records import decode_batch, iter_batches, make_batch, with_offset

Variant = Literal["correct", "broken"]
LOG = "partition.log"


@dataclass(frozen=True)
class Entry:
    offset: int
    epoch: int
    value: int


@dataclass(frozen=True)
class ReplicationConfig:
    variant: Variant = "correct"
    acks: Literal["0", "1", "all"] = "all"
    min_insync: int = 2
    tick: float = 0.02
    session_timeout: float = 0.15
    replica_lag: float = 0.15
    max_fetch: int = 20
    broken_delay: float = 0.1


@dataclass
class Controller:
    """The controller quorum's view of the partition (see the module docstring)."""

    replicas: tuple[Address, ...]
    session_timeout: float
    leader: Address | None = None
    epoch: int = 0
    isr: set[Address] = field(default_factory=set)
    last_seen: dict[Address, float] = field(default_factory=dict)
    elections: int = 0

    def __post_init__(self) -> None:
        self.leader = self.replicas[0]
        self.isr = set(self.replicas)

    def heartbeat(self, node: Address, now: float) -> None:
        self.last_seen[node] = now
        alive = {
            r for r in self.replicas if now - self.last_seen.get(r, -1e9) <= self.session_timeout
        }
        if self.leader is not None and self.leader in alive:
            return
        candidates = [r for r in self.replicas if r in self.isr and r in alive and r != self.leader]
        if not candidates:
            return  # clean election only: without an in-sync replica the partition is offline
        self.leader = candidates[0]
        self.epoch += 1
        self.elections += 1
        self.isr = {r for r in self.isr if r in alive}

    def alter_isr(self, leader: Address, epoch: int, isr: set[Address]) -> bool:
        if leader != self.leader or epoch != self.epoch or leader not in isr:
            return False
        self.isr = set(isr)
        return True


@dataclass(frozen=True)
class FetchRequest:
    epoch: int
    offset: int
    last_epoch: int


@dataclass(frozen=True)
class FetchResponse:
    epoch: int
    entries: tuple[Entry, ...]
    high_watermark: int
    diverging_end: int | None = None


@dataclass(frozen=True)
class NotLeader:
    hint: Address | None


@dataclass(frozen=True)
class Refused:
    reason: str


def encode_entry(e: Entry) -> bytes:
    data = make_batch([str(e.value).encode()], timestamp=0).encode()
    return with_offset(data, e.offset, e.epoch)


def read_log(data: bytes) -> list[Entry]:
    """Entries of the durable log; a torn or damaged tail is dropped (see PartitionLog)."""
    return [
        Entry(
            h.base_offset,
            h.partition_leader_epoch,
            int(decode_batch(data, pos).records[0].value or b"0"),
        )
        for pos, h in iter_batches(data)
    ]


class ReplicaNode:
    def __init__(self, env: NodeEnv, controller: Controller, config: ReplicationConfig) -> None:
        self.env = env
        self.me = env.address
        self.controller = controller
        self.config = config
        data = env.disk.read(LOG) if env.disk.exists(LOG) else b""
        self.log = read_log(data)
        env.disk.replace(LOG, b"".join(encode_entry(e) for e in self.log)) if data else None
        self.high_watermark = 0
        self.epoch = -1
        self.follower_end: dict[Address, int] = {}
        self.caught_up_at: dict[Address, float] = {}
        self.waiting: list[tuple[int, Request]] = []
        self.pending: list[Entry] = []  # broken variant: acknowledged, not yet appended
        self.fetch_sent = -1.0

    # -- helpers -----------------------------------------------------------------------------

    @property
    def end(self) -> int:
        return len(self.log) + len(self.pending)

    def _append(self, entries: list[Entry]) -> list[Effect]:
        for e in entries:
            assert e.offset == len(self.log), (e, len(self.log))
            self.env.disk.append(LOG, encode_entry(e))
            self.log.append(e)
        return [Sync()]

    def _truncate(self, offset: int) -> list[Effect]:
        if offset >= len(self.log):
            return []
        del self.log[offset:]
        self.env.disk.replace(LOG, b"".join(encode_entry(e) for e in self.log))
        return [Sync()]

    def _epoch_end(self, epoch: int) -> int:
        """The first offset after ``epoch`` in this log (the log end for the latest epoch)."""
        for e in self.log:
            if e.epoch > epoch:
                return e.offset
        return len(self.log)

    # -- the sim's Node protocol -------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("tick", 0.0)]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if key == "append-pending":
            entries, self.pending = self.pending, []
            return self._append(
                [e for e in entries if e.offset == len(self.log)] if entries else []
            )
        self.controller.heartbeat(self.me, now)
        effects: list[Effect] = [SetTimer("tick", self.config.tick)]
        if self.controller.leader == self.me:
            if self.epoch != self.controller.epoch:  # a new leadership
                self.epoch = self.controller.epoch
                self.pending = []
                self.follower_end = {}
                self.caught_up_at = {r: now for r in self.controller.isr}
            effects += self._leader_tick(now)
        else:
            self.waiting_fail(effects)
            leader = self.controller.leader
            if leader is not None and now - self.fetch_sent > 3 * self.config.tick:
                last_epoch = self.log[-1].epoch if self.log else -1
                self.fetch_sent = now
                effects.append(
                    Send(leader, FetchRequest(self.controller.epoch, self.end, last_epoch))
                )
        return effects

    def waiting_fail(self, effects: list[Effect]) -> None:
        for _, request in self.waiting:
            effects.append(Reply(request, NotLeader(self.controller.leader)))
        self.waiting = []

    def _leader_tick(self, now: float) -> list[Effect]:
        isr = set(self.controller.isr)
        lagging = {
            r
            for r in isr - {self.me}
            if now - self.caught_up_at.get(r, now) > self.config.replica_lag
        }
        if lagging and self.controller.alter_isr(self.me, self.epoch, isr - lagging):
            pass
        return self._advance()

    def _advance(self) -> list[Effect]:
        isr = self.controller.isr
        ends = [len(self.log)] + [self.follower_end.get(r, 0) for r in isr if r != self.me]
        self.high_watermark = max(self.high_watermark, min(ends))
        effects: list[Effect] = []
        still = []
        for offset, request in self.waiting:
            if offset < self.high_watermark:
                effects.append(Reply(request, offset))
            else:
                still.append((offset, request))
        self.waiting = still
        return effects

    def on_request(self, now: float, request: Request) -> list[Effect]:
        c = self.controller
        if c.leader != self.me or self.epoch != c.epoch:
            return [Reply(request, NotLeader(c.leader))]
        if request.op.f == "read":
            return [Reply(request, [e.value for e in self.log[: self.high_watermark]])]
        if self.config.acks == "all" and len(c.isr) < self.config.min_insync:
            return [Reply(request, Refused("NOT_ENOUGH_REPLICAS"))]
        entry = Entry(len(self.log), self.epoch, int(request.op.value))
        effects = self._append([entry])
        if self.config.acks == "all":
            self.waiting.append((entry.offset, request))
            return effects + self._advance()
        return [*effects, Reply(request, entry.offset)]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, FetchRequest):
            return self._serve_fetch(now, src, message)
        if isinstance(message, FetchResponse):
            return self._apply_fetch(now, message)
        return []

    def _serve_fetch(self, now: float, src: Address, req: FetchRequest) -> list[Effect]:
        if self.controller.leader != self.me or req.epoch != self.epoch:
            return []
        if req.offset > 0:
            end = self._epoch_end(req.last_epoch)
            mine = self.log[req.offset - 1].epoch if req.offset <= len(self.log) else None
            if mine != req.last_epoch or end < req.offset:
                return [
                    Send(
                        src,
                        FetchResponse(
                            self.epoch, (), self.high_watermark, min(end, req.offset - 1)
                        ),
                    )
                ]
        self.follower_end[src] = req.offset
        if req.offset >= len(self.log):
            self.caught_up_at[src] = now
            isr = self.controller.isr
            if src not in isr and req.offset >= self.high_watermark:
                self.controller.alter_isr(self.me, self.epoch, isr | {src})
        entries = tuple(self.log[req.offset : req.offset + self.config.max_fetch])
        return [
            Send(src, FetchResponse(self.epoch, entries, self.high_watermark)),
            *self._advance(),
        ]

    def _apply_fetch(self, now: float, resp: FetchResponse) -> list[Effect]:
        self.fetch_sent = -1.0
        if resp.epoch != self.controller.epoch or self.controller.leader == self.me:
            return []
        if resp.diverging_end is not None:
            self.pending = []
            return self._truncate(resp.diverging_end)
        entries = [e for e in resp.entries if e.offset >= self.end]
        if not entries:
            self.high_watermark = max(self.high_watermark, min(resp.high_watermark, len(self.log)))
            return []
        if self.config.variant == "broken":  # acknowledge (fetch past them) before appending
            self.pending += entries
            leader = self.controller.leader
            effects: list[Effect] = [SetTimer("append-pending", self.config.broken_delay)]
            if leader is not None:
                self.fetch_sent = now
                effects.append(
                    Send(leader, FetchRequest(self.controller.epoch, self.end, entries[-1].epoch))
                )
            return effects
        effects = self._append(entries)
        self.high_watermark = max(self.high_watermark, min(resp.high_watermark, len(self.log)))
        return effects


@dataclass
class ProducerStub:
    """The client side: send appends to the leader, follow NotLeader hints."""

    servers: tuple[Address, ...]
    leader: Address | None = None

    def route(self, op: Op) -> Address:
        return self.leader or self.servers[0]

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        if isinstance(result, NotLeader):
            self.leader = result.hint
            return Redirect(result.hint, delay=0.02)
        if isinstance(result, Refused):
            return Completion("fail", result.reason)
        return Completion("ok", result)

    def timed_out(self, op: Op, target: Address) -> None:
        self.leader = None


@dataclass
class AppendWorkload:
    """Appends of unique values."""

    next_value: int = 0

    def next_op(self, rng: Any, process: int) -> Op:
        self.next_value += 1
        return Op("append", None, self.next_value)
