"""A sharded transactional store on two-phase commit, optionally Spanner-style (5.2, 6.1).

Every server of the simulated cluster hosts a :class:`StoreNode` that plays the roles its
:class:`StoreConfig` gives its address:

- a **shard**: a :class:`~archlab.txn.twopc.participant.Participant` holding the keys that
  ``placement`` maps to it;
- a **coordinator**: a :class:`~archlab.txn.twopc.coordinator.Coordinator` that clients send
  transactions to;
- a **time master** (Spanner-style only): answers clock polls.

Timestamps are logical by default. With a :class:`~archlab.txn.clocksync.TrueTimeConfig` the
store is Spanner-style: every node keeps a :class:`~archlab.txn.truetime.TrueTime` synchronised
with the masters, prepare and commit timestamps are at least ``TT.now().latest``, commits wait
out ``TT.after(s)`` before anyone sees them (``commit_wait``), and read-only transactions read
without locks at ``TT.now().latest`` (``snapshot_reads``).

:class:`TxnStub` is the client side: it sends each transaction to a random coordinator and
reads the answer (committed: ``ok`` with the reads; aborted: ``fail``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from archlab.randomness import RandomSource
from archlab.sim.client import Completion, Redirect
from archlab.sim.process import Address, Effect, NodeEnv, NodeFactory, Op, Reply, Request
from archlab.txn.clocksync import SYNC_TIMER, TimeMaster, TimeSync, TrueTimeConfig
from archlab.txn.timestamps import LogicalTimestamps, Timestamps, TrueTimeTimestamps
from archlab.txn.truetime import TimeReply, TimeRequest, TrueTime
from archlab.txn.twopc.coordinator import Coordinator, CoordinatorConfig
from archlab.txn.twopc.messages import (
    READ,
    Abort,
    Aborted,
    Ack,
    Commit,
    Committed,
    Prepare,
    QueryDecision,
    SnapshotRead,
    SnapshotReply,
    Unavailable,
    Vote,
)
from archlab.txn.twopc.participant import Participant, ParticipantConfig

Placement = Callable[[Hashable], Address]


def hash_placement(shards: tuple[Address, ...]) -> Placement:
    """Keys spread over ``shards`` by a stable hash (CRC-32 of the key's text)."""

    def place(key: Hashable) -> Address:
        return shards[zlib.crc32(str(key).encode()) % len(shards)]

    return place


@dataclass(frozen=True)
class StoreConfig:
    """Which node does what, and how the protocol is timed."""

    shards: tuple[Address, ...]
    coordinators: tuple[Address, ...]
    placement: Placement | None = None
    participant: ParticipantConfig = field(default_factory=ParticipantConfig)
    coordinator: CoordinatorConfig = field(default_factory=CoordinatorConfig)
    truetime: TrueTimeConfig | None = None
    snapshot_timeout: float = 0.3

    def place(self) -> Placement:
        return self.placement or hash_placement(self.shards)


class StoreNode:
    """One server of the store (see the module docstring)."""

    def __init__(self, env: NodeEnv, config: StoreConfig) -> None:
        self.env = env
        self.config = config
        me = env.address
        tt_config = config.truetime
        self.truetime: TrueTime | None = None
        self.sync: TimeSync | None = None
        self.master: TimeMaster | None = None
        timestamps: Timestamps = LogicalTimestamps()
        if tt_config is not None:
            if me in tt_config.masters:
                self.master = TimeMaster(tt_config.master_epsilon)
            self.truetime = TrueTime(tt_config.drift_bound)
            self.sync = TimeSync(self.truetime, tt_config, _rng(env))
            timestamps = TrueTimeTimestamps(self.truetime, tt_config.commit_wait)
        self.timestamps = timestamps
        self.participant = (
            Participant(me, env.disk, timestamps, config.participant)
            if me in config.shards
            else None
        )
        self.coordinator = (
            Coordinator(
                me,
                env.peers.index(me),
                env.incarnation,
                env.disk,
                config.place(),
                timestamps,
                config.coordinator,
            )
            if me in config.coordinators
            else None
        )

    @property
    def snapshot_reads(self) -> bool:
        return self.config.truetime is not None and self.config.truetime.snapshot_reads

    # -- inputs -------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if self.participant is not None:
            effects += self.participant.recover(now)
        if self.coordinator is not None:
            effects += self.coordinator.recover(now)
        if self.sync is not None and self.master is None:
            effects += self.sync.start(now)
        return effects

    def on_request(self, now: float, request: Request) -> list[Effect]:
        coordinator = self.coordinator
        if coordinator is None:
            return [Reply(request, Unavailable(f"{self.env.address} does not coordinate"))]
        micro = tuple(request.op.value)
        if self.snapshot_reads and micro and all(f == READ for f, _, _ in micro):
            return coordinator.begin_snapshot(now, request, self.config.snapshot_timeout)
        return coordinator.begin(now, request)

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:  # noqa: PLR0911 - a protocol's message dispatch: one branch per message type
        p, c = self.participant, self.coordinator
        kind = type(message)
        if p is not None:
            if kind is Prepare:
                return p.on_prepare(now, src, message)
            if kind is Commit:
                return p.on_commit(now, src, message)
            if kind is Abort:
                return p.on_abort(now, src, message)
            if kind is SnapshotRead:
                return p.on_snapshot_read(now, src, message)
        if c is not None:
            if kind is Vote:
                return c.on_vote(now, src, message)
            if kind is Ack:
                return c.on_ack(now, src, message)
            if kind is QueryDecision:
                return c.on_query(now, src, message)
            if kind is SnapshotReply:
                return c.on_snapshot_reply(now, src, message)
        if kind is TimeRequest and self.master is not None:
            return self.master.on_request(now, src, message)
        if kind is TimeReply and self.sync is not None:
            return self.sync.on_reply(now, message)
        return []

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if key == SYNC_TIMER:
            return self.sync.on_timer(now) if self.sync is not None else []
        assert isinstance(key, tuple)
        if key[0] in ("lock", "query"):
            return self.participant.on_timer(now, key) if self.participant is not None else []
        return self.coordinator.on_timer(now, key) if self.coordinator is not None else []


def _rng(env: NodeEnv) -> RandomSource:
    return env.rng


def store_factory(config: StoreConfig) -> NodeFactory:
    def build(env: NodeEnv) -> StoreNode:
        return StoreNode(env, config)

    return build


class TxnStub:
    """The client side of the store (see the module docstring).

    ``empty`` replaces the value of a read of a key never written (``()`` for list-append
    histories, whose reads return lists).
    """

    def __init__(
        self,
        coordinators: tuple[Address, ...],
        rng: RandomSource,
        empty: Any = None,
        retry_delay: float = 0.01,
    ) -> None:
        self.coordinators = coordinators
        self.rng = rng
        self.empty = empty
        self.retry_delay = retry_delay

    def route(self, op: Op) -> Address:
        index = int(self.rng.uniform(0, len(self.coordinators))) % len(self.coordinators)
        return self.coordinators[index]

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        if isinstance(result, Committed):
            micro = tuple(
                (f, k, self.empty if f == READ and v is None else v) for f, k, v in result.micro
            )
            return Completion("ok", micro)
        if isinstance(result, Aborted):
            return Completion("fail", op.value)
        return Redirect(self.route(op), self.retry_delay)

    def timed_out(self, op: Op, target: Address) -> None:
        pass
