"""An etcd-style core (step / tick / propose / ready / advance) hosted through the Node contract.

The core below is a minimal fixed-leader log replicator written in the shape of etcd's raft:
the application persists each ``Ready``'s entries, then sends its messages, then applies its
committed entries, then calls ``advance``. The adapter is the pattern documented in
:mod:`archlab.sim.process`. Under crashes, every acknowledgement a follower sends must be
backed by entries already durable on its disk; the same adapter with the ``Sync`` placed
after the sends (a deliberately broken variant) is caught violating exactly that.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import pytest

from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant, Uniform
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import Apply, Effect, NodeEnv, Request, Send, SetTimer, Sync
from archlab.sim.records import RecordLog, decode, encode, unframe_all

TICK = 0.01


@dataclass(frozen=True)
class AppendEntries:
    first: int  # index of entries[0]; indexes start at 1
    entries: tuple[str, ...]
    commit: int


@dataclass(frozen=True)
class AppendAck:
    index: int  # the follower has this many entries durable


@dataclass
class Ready:
    entries: list[str] = field(default_factory=list)
    messages: list[tuple[str, Any]] = field(default_factory=list)
    committed: list[tuple[int, str]] = field(default_factory=list)


class ToyCore:
    """Leader = peers[0]; followers append what it sends and acknowledge what they stored."""

    def __init__(self, me: str, peers: tuple[str, ...], log: list[str]) -> None:
        self.me, self.peers = me, peers
        self.leader = me == peers[0]
        self.log = list(log)
        self.stable = len(log)  # entries already persisted
        self.commit = 0
        self.applied = 0
        self.match = {p: 0 for p in peers}
        self._out: list[tuple[str, Any]] = []

    def propose(self, command: str) -> None:
        assert self.leader
        self.log.append(command)

    def tick(self) -> None:
        if not self.leader:
            return
        for peer in self.peers[1:]:
            first = self.match[peer] + 1
            entries = tuple(self.log[first - 1 :])
            self._out.append((peer, AppendEntries(first, entries, self.commit)))

    def step(self, src: str, message: Any) -> None:
        if isinstance(message, AppendEntries) and not self.leader:
            if message.first <= len(self.log) + 1:
                keep = message.first - 1
                new = list(message.entries)
                if self.log[keep : keep + len(new)] != new:
                    self.log[keep:] = new
                    self.stable = min(self.stable, keep)
            self.commit = max(self.commit, min(message.commit, len(self.log)))
            # The acknowledgement leaves with the Ready that persists these entries.
            self._out.append((src, AppendAck(len(self.log))))
        elif isinstance(message, AppendAck) and self.leader:
            self.match[src] = max(self.match[src], message.index)

    def has_ready(self) -> bool:
        return bool(self._out) or self.stable < len(self.log) or self._leader_commit() > 0

    def _leader_commit(self) -> int:
        if not self.leader:
            return self.commit - self.applied
        self.match[self.me] = self.stable
        ranked = sorted(self.match.values(), reverse=True)
        self.commit = max(self.commit, ranked[len(self.peers) // 2])
        return self.commit - self.applied

    def ready(self) -> Ready:
        committed = [(i, self.log[i - 1]) for i in range(self.applied + 1, self.commit + 1)]
        return Ready(list(self.log[self.stable :]), list(self._out), committed)

    def advance(self, rd: Ready) -> None:
        self.stable = len(self.log)
        self._out = self._out[len(rd.messages) :]
        if rd.committed:
            self.applied = rd.committed[-1][0]


class ToyNode:
    """The adapter from the Ready shape to the Node contract (see archlab.sim.process)."""

    def __init__(self, env: NodeEnv, broken: bool = False) -> None:
        self.env, self.broken = env, broken
        self.wal = RecordLog.open(env.disk, "wal")
        self.core = ToyCore(env.address, env.peers, [decode(r) for r in self.wal.records])
        self.proposed = len(self.core.log)

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("tick", TICK)]

    def on_message(self, now: float, src: str, message: Any) -> list[Effect]:
        self.core.step(src, message)
        return self.drain()

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if self.core.leader:
            self.proposed += 1
            self.core.propose(f"{self.env.address}.{self.env.incarnation}.{self.proposed}")
        self.core.tick()
        return [*self.drain(), SetTimer("tick", TICK)]

    def on_request(self, now: float, request: Request) -> list[Effect]:
        return []

    def drain(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.core.has_ready():
            rd = self.core.ready()
            if not (rd.entries or rd.messages or rd.committed):
                break
            persist: list[Effect] = []
            if rd.entries:
                self.wal.truncate(self.core.stable)
                for entry in rd.entries:
                    self.wal.append(encode(entry))
                persist = [Sync()]
            sends: list[Effect] = [Send(dst, m) for dst, m in rd.messages]
            effects += [*sends, *persist] if self.broken else [*persist, *sends]
            effects += [Apply(i, cmd) for i, cmd in rd.committed]
            self.core.advance(rd)
        return effects


def run_cluster(seed: int, broken: bool) -> tuple[list[str], dict[str, dict[int, Any]]]:
    """Run 3 toy nodes with random crashes; return violations of persist-before-send."""
    sim = Simulation(seed)
    net = Network(sim, LinkConfig(latency=Uniform(0.001, 0.004)), trace_messages=False)
    peers = ("n0", "n1", "n2")
    hosts = {
        p: Host(
            sim,
            net,
            p,
            lambda env: ToyNode(env, broken),
            peers,
            fsync_latency=Constant(0.003),
        )
        for p in peers
    }
    violations: list[str] = []
    real_send = net.send

    def checked_send(src: str, dst: str, message: Any) -> None:
        if isinstance(message, AppendAck):
            durable = hosts[src].disk.durable_read("wal") or b""
            stored = len(unframe_all(durable)[0])
            if stored < message.index:
                violations.append(f"{src} acked {message.index} with {stored} entries durable")
        real_send(src, dst, message)

    net.send = checked_send  # type: ignore[method-assign]
    for host in hosts.values():
        host.boot()
    rng = random.Random(seed)
    t = 0.0
    while t < 2.0:
        t += rng.uniform(0.02, 0.1)
        victim = hosts[rng.choice(peers[1:])]
        sim.at(t, victim.crash)
        sim.at(t + rng.uniform(0.005, 0.05), victim.restart)
    sim.run(until=2.5)
    return violations, {p: h.applied for p, h in hosts.items()}


def test_ready_style_core_persists_before_it_sends_under_crashes() -> None:
    for seed in range(5):
        violations, applied = run_cluster(seed, broken=False)
        assert violations == []
        leader = applied["n0"]
        assert len(leader) > 50, "the cluster made progress"
        for node in ("n1", "n2"):
            for index, command in applied[node].items():
                assert leader.get(index, command) == command


def test_sending_before_the_sync_is_caught() -> None:
    found = [v for seed in range(5) for v in run_cluster(seed, broken=True)[0]]
    assert found, "the broken adapter must be caught acknowledging undurable entries"
    assert "acked" in found[0]


@pytest.mark.parametrize("broken", [False, True])
def test_runs_are_deterministic(broken: bool) -> None:
    assert run_cluster(11, broken) == run_cluster(11, broken)
