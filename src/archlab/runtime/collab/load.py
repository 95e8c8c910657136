"""How the work of collaborative editing lands on nodes as editors grow (codex 5.4).

Editors type at a fixed rate in the deterministic simulator (virtual time gives the
concurrency: operations made within one round trip are concurrent); every piece of protocol
work runs for real and its CPU time is taken with ``perf_counter``:

* OT: the central server's work per edit — :meth:`OTServer.receive` (transform against the
  operations the client had not seen, apply), encoding the broadcast once, and copying the
  frame into each editor's send buffer (what a server does per socket).
* CRDT (peer to peer, full mesh): a peer's work per remote edit (decode, integrate) and per
  own edit (encode, one frame copy per peer).

Utilisation at ``n`` editors typing ``rate`` edits/s is then ``n * rate * server_cost`` for
the server and ``(n-1) * rate * remote_cost + rate * own_cost`` for a peer; a straight-line
fit of each cost against ``n`` gives the editor count at which each reaches 100% of one core.
"""

from __future__ import annotations

import functools
import json
import math
import random
import statistics
import time
from dataclasses import dataclass

from archlab.collab.crdt import codec
from archlab.collab.crdt.text import TextDoc
from archlab.collab.ot.jupiter import Broadcast, OTClient, OTServer, Submit
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Uniform
from archlab.sim.network import LinkConfig, Network
from archlab.sim.trace import Trace


@dataclass(frozen=True)
class LoadPoint:
    editors: int
    server_us: float  # server CPU per edit
    transforms: float  # operations each submitted edit was transformed against (mean)
    peer_remote_us: float  # CRDT peer CPU per remote edit
    peer_own_us: float  # CRDT peer CPU per own edit (encode + a frame per peer)
    commit_ms: float  # OT: virtual submit-to-ack time (network and waiting on the server)


def _network(seed: int) -> tuple[Simulation, Network]:
    sim = Simulation(seed, Trace(enabled=False))
    return sim, Network(sim, LinkConfig(latency=Uniform(0.02, 0.06)), trace_messages=False)


def _edit(rng: random.Random, length: int) -> tuple[int, int, str]:
    if length > 10 and rng.random() < 0.2:
        return rng.randrange(length - 1), 1, ""
    return rng.randint(0, length), 0, rng.choice("abcdefgh ")


def measure_ot(
    editors: int, rate: float, seconds: float, start: str, seed: int
) -> tuple[float, float, float]:
    """(server µs per edit, mean transforms per edit, mean commit ms)."""
    sim, net = _network(seed)
    server = OTServer(start)
    names = [f"c{i}" for i in range(editors)]
    clients = {n: OTClient(n, start) for n in names}
    buffers = {n: bytearray() for n in names}
    spent: list[float] = []
    lag: list[int] = []
    sent_at: dict[str, float] = {}
    commits: list[float] = []

    def on_server(src: str, m: Submit) -> None:
        began = time.perf_counter()
        lag.append(server.revision - m.revision)
        b = server.receive(m)
        frame = json.dumps([b.client, b.revision, list(b.op)]).encode()
        for n in names:
            buffers[n] += frame
        spent.append(time.perf_counter() - began)
        for n in names:
            buffers[n].clear()
            net.send("server", n, b)

    def on_client(me: str, src: str, b: Broadcast) -> None:
        if b.client == me:
            commits.append(sim.now - sent_at.pop(me))
        reply = clients[me].receive(b)
        if reply is not None:
            sent_at[me] = sim.now
            net.send(me, "server", reply)

    net.attach("server", on_server)
    for n in names:
        net.attach(n, functools.partial(on_client, n))

    def tick(me: str, rng: random.Random) -> None:
        if sim.now >= seconds:
            return
        c = clients[me]
        message = c.edit(*_edit(rng, len(c.doc)))
        if message is not None:
            sent_at[me] = sim.now
            net.send(me, "server", message)
        sim.after(rng.expovariate(rate), tick, me, rng)

    for n in names:
        rng = sim.rng(f"typing/{n}")
        sim.after(rng.expovariate(rate), tick, n, rng)
    sim.run()
    if any(c.doc != server.doc for c in clients.values()):
        raise RuntimeError(f"OT load run with {editors} editors did not converge")
    return (
        statistics.median(spent) * 1e6,
        statistics.fmean(lag),
        statistics.fmean(commits) * 1e3,
    )


def measure_crdt(
    editors: int, rate: float, seconds: float, start: str, seed: int
) -> tuple[float, float]:
    """(peer µs per remote edit, peer µs per own edit)."""
    sim, net = _network(seed)
    names = [f"p{i}" for i in range(editors)]
    seed_doc = TextDoc(editors)
    seed_doc.insert(0, start)
    snapshot = codec.snapshot(seed_doc)
    docs = {n: codec.load(snapshot, i) for i, n in enumerate(names)}
    buffers = bytearray()
    remote: list[float] = []
    own: list[float] = []

    def on_peer(me: str, src: str, data: bytes) -> None:
        began = time.perf_counter()
        docs[me].apply(codec.decode(data))
        remote.append(time.perf_counter() - began)

    for n in names:
        net.attach(n, functools.partial(on_peer, n))

    def tick(me: str, rng: random.Random) -> None:
        if sim.now >= seconds:
            return
        doc = docs[me]
        pos, dels, text = _edit(rng, len(doc))
        began = time.perf_counter()
        update = doc.delete(pos, dels) if dels else doc.insert(pos, text)
        data = codec.encode(update)
        for _ in range(editors - 1):
            buffers.extend(data)
        own.append(time.perf_counter() - began)
        buffers.clear()
        for peer in names:
            if peer != me:
                net.send(me, peer, data)
        sim.after(rng.expovariate(rate), tick, me, rng)

    for n in names:
        rng = sim.rng(f"typing/{n}")
        sim.after(rng.expovariate(rate), tick, n, rng)
    sim.run()
    if len({d.text for d in docs.values()}) != 1:
        raise RuntimeError(f"CRDT load run with {editors} peers did not converge")
    return statistics.median(remote) * 1e6, statistics.median(own) * 1e6


def measure(editors: int, rate: float, seconds: float, start: str, seed: int) -> LoadPoint:
    server_us, transforms, commit_ms = measure_ot(editors, rate, seconds, start, seed)
    remote_us, own_us = measure_crdt(editors, rate, seconds, start, seed)
    return LoadPoint(editors, server_us, transforms, remote_us, own_us, commit_ms)


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``; slope clamped at 0 (costs do not fall with load)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    b = (
        max(0.0, sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var)
        if var
        else 0.0
    )
    return my - b * mx, b


def saturation(rate: float, cost: tuple[float, float], load_per_editor: float = 1.0) -> float:
    """Editors ``n`` at which ``load_per_editor * n * rate * (a + b n)`` µs/s reaches 1e6."""
    a, b = cost
    k = load_per_editor * rate
    if b <= 0:
        return 1e6 / (k * a) if a > 0 else math.inf
    return (-a + math.sqrt(a * a + 4 * b * 1e6 / k)) / (2 * b)


def server_utilisation(editors: int, rate: float, server_us: float) -> float:
    return editors * rate * server_us / 1e6


def peer_utilisation(editors: int, rate: float, remote_us: float, own_us: float) -> float:
    return ((editors - 1) * rate * remote_us + rate * own_us) / 1e6
