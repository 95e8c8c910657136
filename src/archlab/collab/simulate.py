"""Collaborative editing in the deterministic simulator, with faults (codex 5.4).

N editors type concurrently through :class:`archlab.sim.network.Network` (latency, loss,
duplication, reordering) while a fault schedule takes replicas offline and, in OT mode, takes
the central server away. Two modes:

* ``crdt``: every replica holds a :class:`~archlab.collab.crdt.text.TextDoc`, pushes each
  edit's encoded update to every peer, and runs anti-entropy (send my version; get back what I
  lack) with a random peer every ``sync_interval``. No server exists. Replicas also count
  their edits in a G-Counter merged the same way, and collect tombstones once every replica's
  version covers a deletion.
* ``ot``: clients run :class:`~archlab.collab.ot.jupiter.OTClient` against one
  :class:`~archlab.collab.ot.jupiter.OTServer`, over a reliable channel (sequence numbers,
  cumulative acks, retransmission: what TCP gives the real server) built on the lossy network.

:func:`run` returns a :class:`CollabRun` and :func:`check` says whether it converged: every
replica the same text (OT: every client equal to the server and synchronized), the edit
counter equal to the edits made. Broken variants (``tie-broken``: clients order tied inserts
their own way first; ``non-idempotent``: the edit counter's merge adds instead of taking the
max) exist so the seed sweep can show it catches them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.collab.channel import Channel
from archlab.collab.crdt import codec
from archlab.collab.crdt.basic import GCounter
from archlab.collab.crdt.text import TextDoc, Version
from archlab.collab.ot import ops
from archlab.collab.ot.jupiter import Broadcast, OTClient, OTServer, Submit
from archlab.errors import ConfigError
from archlab.randomness import RandomSource
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Uniform
from archlab.sim.network import LinkConfig, Network
from archlab.sim.trace import Trace

Mode = Literal["ot", "crdt"]
VARIANTS = {"ot": ("correct", "tie-broken"), "crdt": ("correct", "non-idempotent")}
SERVER = "server"


@dataclass(frozen=True)
class CollabConfig:
    mode: Mode = "crdt"
    seed: int = 0
    replicas: int = 4
    edit_time: float = 4.0  # seconds during which editors type
    edit_rate: float = 4.0  # edits per second per editor
    loss: float = 0.05
    duplicate: float = 0.05
    reorder: float = 0.1
    offline_periods: int = 2  # editors cut off from everyone for a while
    offline: float = 1.0  # seconds each
    server_outage: tuple[float, float] | None = None  # OT: (start, length) server unreachable
    sync_interval: float = 0.1
    variant: str = "correct"
    collect: bool = True
    settle_limit: float = 60.0  # seconds after editing ends to wait for convergence

    def __post_init__(self) -> None:
        if self.mode not in VARIANTS:
            raise ConfigError(f"collab mode must be 'ot' or 'crdt', not {self.mode!r}")
        if self.variant not in VARIANTS[self.mode]:
            raise ConfigError(
                f"{self.mode} variant {self.variant!r} unknown; "
                f"choose from {', '.join(VARIANTS[self.mode])}"
            )
        if self.replicas < 2:
            raise ConfigError("a collaboration needs at least 2 editors")


@dataclass
class CollabRun:
    config: CollabConfig
    texts: dict[str, str]
    edits: int
    counters: dict[str, int] = field(default_factory=dict)
    server_text: str | None = None
    states: dict[str, str] = field(default_factory=dict)
    converged_at: float | None = None  # virtual time all replicas first agreed after editing
    edit_end: float = 0.0
    outage_edits: int = 0  # edits typed while the server was unreachable (OT) / in the window
    outage_visible: int = 0  # of those, seen by every other editor before the window ended
    messages: int = 0
    bytes_sent: int = 0
    tombstones_collected: int = 0

    @property
    def settle_time(self) -> float | None:
        """Seconds from the end of editing (and of every fault) to agreement."""
        return None if self.converged_at is None else max(0.0, self.converged_at - self.edit_end)


def check(result: CollabRun) -> list[str]:
    """Problems found: empty means every replica converged."""
    problems: list[str] = []
    texts = set(result.texts.values())
    if len(texts) != 1:
        problems.append(f"replicas disagree: {len(texts)} different texts")
    if result.server_text is not None and any(t != result.server_text for t in texts):
        problems.append("a client's text differs from the server's")
    stuck = [name for name, state in result.states.items() if state != "synchronized"]
    if stuck:
        problems.append(f"clients not synchronized: {', '.join(stuck)}")
    wrong = sorted(n for n, c in result.counters.items() if c != result.edits)
    if wrong:
        problems.append(
            f"edit counters of {', '.join(wrong)} disagree with the {result.edits} edits made"
        )
    return problems


# -- runs ----------------------------------------------------------------------------------


class _Faults:
    """Which endpoints are cut off; re-applies the remaining cuts when one ends."""

    def __init__(self, net: Network, everyone: list[str]) -> None:
        self.net, self.everyone = net, everyone
        self.cut: dict[str, int] = {}

    def isolate(self, who: str) -> None:
        self.cut[who] = self.cut.get(who, 0) + 1
        self._apply()

    def rejoin(self, who: str) -> None:
        self.cut[who] -= 1
        self._apply()

    def _apply(self) -> None:
        self.net.heal()
        for who, n in self.cut.items():
            if n > 0:
                others = [e for e in self.everyone if e != who]
                self.net.partition([who], others)

    def reachable(self, a: str, b: str) -> bool:
        return not self.net.blocked(a, b)


def _schedule_edits(sim: Simulation, cfg: CollabConfig, name: str, edit: Any) -> None:
    rng = sim.rng(f"edits/{name}")

    def tick() -> None:
        if sim.now >= cfg.edit_time:
            return
        edit(rng)
        sim.after(rng.expovariate(cfg.edit_rate), tick)

    sim.after(rng.expovariate(cfg.edit_rate), tick)


def _schedule_offline(
    sim: Simulation, cfg: CollabConfig, faults: _Faults, names: list[str]
) -> None:
    rng = sim.rng("nemesis")
    for _ in range(cfg.offline_periods):
        who = rng.choice(names)
        start = rng.uniform(0.0, max(0.0, cfg.edit_time - cfg.offline))
        sim.at(start, faults.isolate, who)
        sim.at(start + cfg.offline, faults.rejoin, who)


def _random_edit(rng: RandomSource, length: int) -> tuple[int, int, str]:
    if length and rng.random() < 0.3:
        pos = rng.randrange(length)
        return pos, rng.randint(1, min(3, length - pos)), ""
    return (
        rng.randint(0, length),
        0,
        "".join(rng.choice("abcdefgh ") for _ in range(rng.randint(1, 4))),
    )


def run(cfg: CollabConfig) -> CollabRun:
    return _run_crdt(cfg) if cfg.mode == "crdt" else _run_ot(cfg)


def _network(cfg: CollabConfig) -> tuple[Simulation, Network]:
    sim = Simulation(cfg.seed, Trace(enabled=False))
    link = LinkConfig(
        latency=Uniform(0.005, 0.03),
        loss=cfg.loss,
        duplicate=cfg.duplicate,
        reorder=cfg.reorder,
        reorder_delay=0.05,
    )
    return sim, Network(sim, link, trace_messages=False)


def _merge_counter(variant: str, a: GCounter, b: GCounter) -> GCounter:
    if variant == "non-idempotent":  # the broken twin: adds where a join takes the max
        counts = dict(a.counts)
        for k, v in b.counts.items():
            counts[k] = counts.get(k, 0) + v
        return GCounter(counts)
    return a.merge(b)


@dataclass(frozen=True)
class SyncRequest:
    version: Version
    counter: GCounter


@dataclass(frozen=True)
class SyncReply:
    update: bytes
    counter: GCounter
    version: Version


def _run_crdt(cfg: CollabConfig) -> CollabRun:  # noqa: PLR0915 - one scenario script: replicas, network, faults, checks; split it and the schedule is hard to follow
    sim, net = _network(cfg)
    names = [f"r{i}" for i in range(cfg.replicas)]
    docs = {n: TextDoc(i) for i, n in enumerate(names)}
    counters = {n: GCounter() for n in names}
    known: dict[str, dict[str, Version]] = {n: {} for n in names}
    faults = _Faults(net, names)
    result = CollabRun(cfg, {}, 0)
    outage_marks: list[tuple[str, int, int]] = []  # (author, kind 0 insert / 1 delete, key)

    def send(src: str, dst: str, message: Any, size: int) -> None:
        result.messages += 1
        result.bytes_sent += size
        net.send(src, dst, message)

    def deliver(me: str, src: str, message: Any) -> None:
        doc = docs[me]
        if isinstance(message, SyncRequest):
            known[me][src] = message.version
            counters[me] = _merge_counter(cfg.variant, counters[me], message.counter)
            update = codec.encode(doc.update_since(message.version))
            send(me, src, SyncReply(update, counters[me], doc.version.copy()), len(update))
        elif isinstance(message, SyncReply):
            known[me][src] = message.version
            doc.apply(codec.decode(message.update))
            counters[me] = _merge_counter(cfg.variant, counters[me], message.counter)
        else:
            doc.apply(codec.decode(message))

    for n in names:
        net.attach(n, functools.partial(deliver, n))

    def local_edit(me: str, rng: RandomSource) -> None:
        doc = docs[me]
        pos, dels, text = _random_edit(rng, len(doc))
        update = doc.delete(pos, dels) if dels else doc.insert(pos, text)
        counters[me], _ = counters[me].increment(doc.replica)
        result.edits += 1
        if cfg.server_outage and _in_window(sim.now, cfg.server_outage):
            result.outage_edits += 1
            if dels:
                outage_marks.append((me, 1, doc.version.deletes[doc.replica]))
            else:
                outage_marks.append((me, 0, doc.version.inserts[doc.replica]))
        data = codec.encode(update)
        for peer in names:
            if peer != me:
                send(me, peer, data, len(data))

    def anti_entropy(me: str, rng: RandomSource) -> None:
        peer = rng.choice([p for p in names if p != me])
        send(me, peer, SyncRequest(docs[me].version.copy(), counters[me]), 64)
        if cfg.collect:
            _collect(docs[me], known[me], len(names))
        sim.after(cfg.sync_interval, anti_entropy, me, rng)

    for n in names:
        _schedule_edits(sim, cfg, n, lambda rng, me=n: local_edit(me, rng))
        sim.after(cfg.sync_interval, anti_entropy, n, sim.rng(f"sync/{n}"))
    _schedule_offline(sim, cfg, faults, names)
    if cfg.server_outage:  # no server in CRDT mode: count what spreads peer-to-peer meanwhile
        start, length = cfg.server_outage

        def measure() -> None:
            result.outage_visible = sum(
                all(_crdt_has(docs[p], docs[a].replica, kind, key) for p in names if p != a)
                for a, kind, key in outage_marks
            )

        sim.at(start + length, measure)
    edit_end = max(cfg.edit_time, _last_fault(cfg))
    result.edit_end = edit_end
    sim.run(until=edit_end)

    def agreed() -> bool:
        texts = {d.text for d in docs.values()}
        states = [dict(c.counts) for c in counters.values()]
        return len(texts) == 1 and all(s == states[0] for s in states)

    result.converged_at = _settle(sim, agreed, edit_end + cfg.settle_limit)
    result.texts = {n: d.text for n, d in docs.items()}
    result.counters = {n: c.value for n, c in counters.items()}
    result.tombstones_collected = sum(d.collected for d in docs.values())
    return result


def _crdt_has(doc: TextDoc, author: int, kind: int, key: int) -> bool:
    version = doc.version.deletes if kind else doc.version.inserts
    return version.get(author, 0) >= key


def _collect(doc: TextDoc, known: dict[str, Version], replicas: int) -> None:
    """Drop tombstone content once every replica's known version covers the deletion."""
    if len(known) < replicas - 1:
        return
    meet = Version(deletes=dict(doc.version.deletes))
    for version in known.values():
        for r in list(meet.deletes):
            meet.deletes[r] = min(meet.deletes[r], version.deletes.get(r, 0))
    doc.collect(meet)


def _in_window(now: float, window: tuple[float, float]) -> bool:
    return window[0] <= now < window[0] + window[1]


def _last_fault(cfg: CollabConfig) -> float:
    end = cfg.offline if cfg.offline_periods else 0.0
    if cfg.server_outage:
        end = max(end, sum(cfg.server_outage))
    return max(end, cfg.edit_time)


def _settle(sim: Simulation, agreed: Any, limit: float) -> float | None:
    """Run until ``agreed()`` holds at a check (every 10 ms) or ``limit``; when it first held."""
    while sim.now < limit:
        if agreed():
            return sim.now
        sim.run(until=sim.now + 0.01)
    return sim.now if agreed() else None


def _run_ot(cfg: CollabConfig) -> CollabRun:  # noqa: PLR0915 - one scenario script: clients, server, network, faults, checks; split it and the schedule is hard to follow
    sim, net = _network(cfg)
    names = [f"c{i}" for i in range(cfg.replicas)]
    transform = ops.transform_tie_broken if cfg.variant == "tie-broken" else ops.transform
    server = OTServer("")
    clients = {n: OTClient(n, "", transform=transform) for n in names}
    faults = _Faults(net, [SERVER, *names])
    result = CollabRun(cfg, {}, 0)
    in_flight: dict[str, list[int]] = {n: [] for n in names}  # edit ids per in-flight op
    buffered: dict[str, list[int]] = {n: [] for n in names}
    committed_at: dict[int, int] = {}  # edit id -> server revision
    author: dict[int, str] = {}
    outage_ids: list[int] = []

    def server_deliver(src: str, payload: Any) -> None:
        assert isinstance(payload, Submit)
        message = server.receive(payload)
        for n in names:
            channels[SERVER].send(n, message)
            result.messages += 1
            result.bytes_sent += _op_size(message.op)

    def client_deliver(me: str, src: str, payload: Any) -> None:
        assert isinstance(payload, Broadcast)
        client = clients[me]
        if payload.client == me:
            for edit_id in in_flight[me]:
                committed_at[edit_id] = payload.revision
            in_flight[me], buffered[me] = buffered[me], []
        reply = client.receive(payload)
        if reply is not None:
            submit(me, reply)

    def submit(me: str, message: Submit) -> None:
        channels[me].send(SERVER, message)
        result.messages += 1
        result.bytes_sent += _op_size(message.op)

    channels = {SERVER: Channel(sim, net, SERVER, server_deliver)}
    for n in names:
        channels[n] = Channel(sim, net, n, lambda src, p, me=n: client_deliver(me, src, p))

    def local_edit(me: str, rng: RandomSource) -> None:
        client = clients[me]
        pos, dels, text = _random_edit(rng, len(client.doc))
        edit_id = result.edits
        result.edits += 1
        author[edit_id] = me
        if cfg.server_outage and _in_window(sim.now, cfg.server_outage):
            result.outage_edits += 1
            outage_ids.append(edit_id)
        message = client.edit(pos, dels, text)
        (in_flight if message is not None else buffered)[me].append(edit_id)
        if message is not None:
            submit(me, message)

    for n in names:
        _schedule_edits(sim, cfg, n, lambda rng, me=n: local_edit(me, rng))
    _schedule_offline(sim, cfg, faults, names)
    if cfg.server_outage:
        start, length = cfg.server_outage
        sim.at(start, faults.isolate, SERVER)
        sim.at(start + length, faults.rejoin, SERVER)

        def measure() -> None:
            result.outage_visible = sum(
                e in committed_at
                and all(clients[n].revision >= committed_at[e] for n in names if n != author[e])
                for e in outage_ids
            )

        sim.at(start + length - 1e-9, measure)
    edit_end = max(cfg.edit_time, _last_fault(cfg))
    result.edit_end = edit_end
    sim.run(until=edit_end)

    def agreed() -> bool:
        return all(
            c.doc == server.doc and c.state == "synchronized" and c.revision == server.revision
            for c in clients.values()
        )

    result.converged_at = _settle(sim, agreed, edit_end + cfg.settle_limit)
    result.texts = {n: c.doc for n, c in clients.items()}
    result.server_text = server.doc
    result.states = {n: c.state for n, c in clients.items()}
    result.counters = {}
    return result


def _op_size(op: ops.Op) -> int:
    return sum(len(c.encode()) if isinstance(c, str) else 4 for c in op)


def sweep(
    cfg: CollabConfig, seeds: Iterable[int], *, stop_at_first: bool = False
) -> list[tuple[int, list[str]]]:
    """Run ``cfg`` for every seed; the seeds whose run failed :func:`check`, with problems."""
    from dataclasses import replace

    failures: list[tuple[int, list[str]]] = []
    for seed in seeds:
        problems = check(run(replace(cfg, seed=seed)))
        if problems:
            failures.append((seed, problems))
            if stop_at_first:
                break
    return failures
