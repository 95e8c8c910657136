"""The group coordinator: join, sync, heartbeat, leave, rebalance, committed offsets (codex 7.1).

Kafka's classic group protocol. A member that joins (or a member that leaves or stops
heartbeating) moves the group to *preparing rebalance*; every member learns it from its next
heartbeat and rejoins. When all known members have rejoined, or the rebalance timeout has
passed (stragglers are dropped), the generation advances and every join is answered; the
leader receives the members' subscriptions, computes the assignment itself (range,
cooperative-sticky ... are client-side assignors: the broker passes their bytes through) and
sends it in SyncGroup, which hands each member its share and makes the group *stable*.

Replies that must wait (a join while others have not rejoined, a follower's sync before the
leader's) are :class:`Ticket` objects that the host polls; :meth:`GroupCoordinator.tick`
expires sessions and closes rebalances whose time is up. Committed offsets are records in the
internal compacted topic ``__consumer_offsets`` and are replayed from it after a restart.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from archlab.streaming.log.partition import PartitionLog
from archlab.streaming.log.records import RecordBatch, make_batch
from archlab.streaming.protocol import errors

Message = dict[str, Any]
EMPTY, PREPARING, COMPLETING, STABLE = (
    "Empty",
    "PreparingRebalance",
    "CompletingRebalance",
    "Stable",
)


@dataclass
class Ticket:
    """A reply that may not be ready yet; the host waits until ``response`` is set."""

    response: Message | None = None
    deadline_ms: int = 0


@dataclass
class Member:
    member_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: list[tuple[str, bytes]]
    last_seen_ms: int
    assignment: bytes = b""
    join: Ticket | None = None
    sync: Ticket | None = None


@dataclass
class Group:
    group_id: str
    state: str = EMPTY
    generation: int = 0
    protocol_type: str = ""
    protocol_name: str | None = None
    leader: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    rebalance_deadline_ms: int = 0
    next_member: int = 0
    initial_wait: bool = False


class GroupCoordinator:
    def __init__(self, offsets_log: PartitionLog, initial_delay_ms: int = 50) -> None:
        self.groups: dict[str, Group] = {}
        self.offsets: dict[tuple[str, str, int], tuple[int, str | None]] = {}
        self.log = offsets_log
        self.initial_delay_ms = initial_delay_ms
        for batch in offsets_log.batches():
            self._apply(batch)

    def group(self, group_id: str) -> Group:
        return self.groups.setdefault(group_id, Group(group_id))

    # -- membership ------------------------------------------------------------------------

    def join(self, req: Message, client_id: str, now_ms: int) -> Ticket:
        g = self.group(req["group_id"])
        ticket = Ticket(
            deadline_ms=now_ms + max(req["rebalance_timeout_ms"], req["session_timeout_ms"])
        )
        protocols = [(p["name"], p["metadata"]) for p in req["protocols"]]
        if g.members and g.protocol_type and req["protocol_type"] != g.protocol_type:
            ticket.response = _join_error(errors.INCONSISTENT_GROUP_PROTOCOL)
            return ticket
        member_id = req["member_id"]
        if member_id and member_id not in g.members:
            ticket.response = _join_error(errors.UNKNOWN_MEMBER_ID)
            return ticket
        if not member_id:
            g.next_member += 1
            member_id = f"{client_id or 'member'}-{g.generation}-{g.next_member}"
        rebalance_ms = (
            req["rebalance_timeout_ms"]
            if req["rebalance_timeout_ms"] > 0
            else req["session_timeout_ms"]
        )
        m = g.members.get(member_id)
        if m is None:
            m = Member(member_id, req["session_timeout_ms"], rebalance_ms, protocols, now_ms)
            g.members[member_id] = m
        m.protocols, m.last_seen_ms, m.join = protocols, now_ms, ticket
        g.protocol_type = req["protocol_type"]
        if g.state != PREPARING:
            self._prepare(g, now_ms)
        self._maybe_complete_join(g, now_ms)
        return ticket

    def _prepare(self, g: Group, now_ms: int) -> None:
        delay = self.initial_delay_ms if g.state == EMPTY else 0
        for m in g.members.values():
            if m.sync is not None and m.sync.response is None:
                m.sync.response = _sync_reply(errors.REBALANCE_IN_PROGRESS)
        g.state = PREPARING
        g.initial_wait = bool(delay)
        timeout = max((m.rebalance_timeout_ms for m in g.members.values()), default=0)
        g.rebalance_deadline_ms = now_ms + (delay if delay else timeout)

    def _maybe_complete_join(self, g: Group, now_ms: int) -> None:
        if g.state != PREPARING:
            return
        waiting = [m for m in g.members.values() if m.join is not None]
        all_in = len(waiting) == len(g.members)
        if now_ms < g.rebalance_deadline_ms and not (all_in and not g.initial_wait):
            return
        g.initial_wait = False
        for m in list(g.members.values()):
            if m.join is None:  # did not rejoin in time
                del g.members[m.member_id]
        if not g.members:
            g.state = EMPTY
            return
        g.generation += 1
        g.protocol_name = _common_protocol(list(g.members.values()))
        if g.leader not in g.members:
            g.leader = next(iter(g.members))
        g.state = COMPLETING
        subscriptions = [
            {
                "member_id": m.member_id,
                "metadata": dict(m.protocols).get(g.protocol_name or "", b""),
            }
            for m in g.members.values()
        ]
        for m in g.members.values():
            ticket, m.join = m.join, None
            m.last_seen_ms = now_ms
            if ticket is not None:
                ticket.response = {
                    "error_code": errors.NONE,
                    "generation_id": g.generation,
                    "protocol_type": g.protocol_type,
                    "protocol_name": g.protocol_name,
                    "leader": g.leader,
                    "member_id": m.member_id,
                    "members": subscriptions if m.member_id == g.leader else [],
                }

    def sync(self, req: Message, now_ms: int) -> Ticket:
        g = self.group(req["group_id"])
        ticket = Ticket(deadline_ms=now_ms + 60_000)
        m = g.members.get(req["member_id"])
        if m is None:
            ticket.response = _sync_reply(errors.UNKNOWN_MEMBER_ID)
        elif req["generation_id"] != g.generation:
            ticket.response = _sync_reply(errors.ILLEGAL_GENERATION)
        elif g.state == PREPARING:
            ticket.response = _sync_reply(errors.REBALANCE_IN_PROGRESS)
        elif g.state == STABLE:
            ticket.response = _sync_reply(errors.NONE, m.assignment, g)
        else:
            m.last_seen_ms, m.sync = now_ms, ticket
            if req["member_id"] == g.leader:
                given = {a["member_id"]: a["assignment"] for a in req["assignments"]}
                for member in g.members.values():
                    member.assignment = given.get(member.member_id, b"")
                g.state = STABLE
                for member in g.members.values():
                    if member.sync is not None:
                        member.sync.response = _sync_reply(errors.NONE, member.assignment, g)
                        member.sync = None
        return ticket

    def heartbeat(self, req: Message, now_ms: int) -> int:
        g = self.group(req["group_id"])
        m = g.members.get(req["member_id"])
        if m is None:
            return errors.UNKNOWN_MEMBER_ID
        m.last_seen_ms = now_ms
        if req["generation_id"] != g.generation:
            return errors.ILLEGAL_GENERATION
        if g.state == PREPARING:
            return errors.REBALANCE_IN_PROGRESS
        return errors.NONE

    def leave(self, group_id: str, member_ids: list[str], now_ms: int) -> list[int]:
        g = self.group(group_id)
        codes = []
        for member_id in member_ids:
            if g.members.pop(member_id, None) is None:
                codes.append(errors.UNKNOWN_MEMBER_ID)
                continue
            codes.append(errors.NONE)
        if any(c == errors.NONE for c in codes):
            self._after_departure(g, now_ms)
        return codes

    def _after_departure(self, g: Group, now_ms: int) -> None:
        if not g.members:
            g.state, g.leader = EMPTY, ""
            return
        if g.state != PREPARING:
            self._prepare(g, now_ms)
        self._maybe_complete_join(g, now_ms)

    def tick(self, now_ms: int) -> None:
        for g in self.groups.values():
            expired = [
                m.member_id
                for m in g.members.values()
                if m.join is None and now_ms - m.last_seen_ms > m.session_timeout_ms
            ]
            for member_id in expired:
                del g.members[member_id]
            if expired:
                self._after_departure(g, now_ms)
            self._maybe_complete_join(g, now_ms)

    # -- offsets ---------------------------------------------------------------------------

    def check_commit(self, group_id: str, generation: int, member_id: str) -> int:
        g = self.group(group_id)
        if generation < 0 and not g.members:
            return errors.NONE  # a commit outside any group (assign() consumers)
        if member_id not in g.members:
            return errors.UNKNOWN_MEMBER_ID
        if generation != g.generation:
            return errors.ILLEGAL_GENERATION
        if g.state == PREPARING:
            return errors.REBALANCE_IN_PROGRESS
        return errors.NONE

    def commit(
        self, group_id: str, offsets: list[tuple[str, int, int, str | None]], now_ms: int
    ) -> None:
        """Append the offsets to ``__consumer_offsets``, then make them visible."""
        keys, values = [], []
        for topic, partition, offset, metadata in offsets:
            keys.append(json.dumps([group_id, topic, partition]).encode())
            values.append(struct.pack(">q", offset) + (metadata or "").encode())
        if keys:
            self.log.append(make_batch(values, keys=keys, timestamp=now_ms).encode(), now_ms)
            for topic, partition, offset, metadata in offsets:
                self.offsets[(group_id, topic, partition)] = (offset, metadata)

    def _apply(self, batch: RecordBatch) -> None:
        for r in batch.records:
            if r.key is None or r.value is None:
                continue
            group_id, topic, partition = json.loads(r.key)
            (offset,) = struct.unpack_from(">q", r.value)
            self.offsets[(group_id, topic, partition)] = (offset, r.value[8:].decode() or None)

    def committed(self, group_id: str, topic: str, partition: int) -> tuple[int, str | None]:
        return self.offsets.get((group_id, topic, partition), (-1, None))

    def committed_topics(self, group_id: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for g, t, p in self.offsets:
            if g == group_id:
                out.setdefault(t, []).append(p)
        return out


def _common_protocol(members: list[Member]) -> str | None:
    """The first protocol of the first member that every member supports."""
    supported = [set(name for name, _ in m.protocols) for m in members]
    for name, _ in members[0].protocols:
        if all(name in s for s in supported):
            return name
    return None


def _join_error(code: int) -> Message:
    return {
        "error_code": code,
        "generation_id": -1,
        "protocol_name": None,
        "leader": "",
        "member_id": "",
        "members": [],
    }


def _sync_reply(code: int, assignment: bytes = b"", g: Group | None = None) -> Message:
    return {
        "error_code": code,
        "assignment": assignment,
        "protocol_type": g.protocol_type if g else None,
        "protocol_name": g.protocol_name if g else None,
    }
