"""Push notifications as a tickle (codex 10.1), through a lossy, reordering provider.

Apple's and Google's push services promise neither delivery nor order: a notification can
be dropped, delayed, or overtaken by a later one. WhatsApp therefore sends a *tickle*, a
notification with no content: the woken app connects and fetches its messages from the
server, which holds them durably, in order, until acknowledged. The alternative puts each
message in its notification and displays what arrives.

:func:`run` simulates both on archlab's discrete-event kernel with the same provider, the
same messages and the server's real :class:`~archlab.cases.whatsapp.inbox.Inbox` (the LSM):
a sender sends ``messages`` at random intervals to an offline recipient; the provider drops
each notification with probability ``loss`` and delays the rest by an exponential time (so
they overtake one another); with a tickle, the device fetches on every notification that
arrives and once more when the user opens the app at the end. Counted per mode: messages
displayed, lost, and displayed after a later-sent one (out of order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from archlab.cases.whatsapp.inbox import Inbox
from archlab.sim.kernel import Simulation
from archlab.sim.trace import Trace

Mode = Literal["tickle", "payload"]


@dataclass(frozen=True)
class PushConfig:
    messages: int = 500
    loss: float = 0.1
    mean_delay: float = 2.0  # seconds a notification spends in the provider, exponential
    mean_gap: float = 1.0  # seconds between messages sent, exponential
    fetch_latency: float = 0.3  # a woken app's connect + fetch round trip

    def __post_init__(self) -> None:
        if not 0 <= self.loss < 1 or self.messages < 1:
            raise ValueError("loss must be in [0, 1) and messages at least 1")


@dataclass(frozen=True)
class PushOutcome:
    mode: str
    sent: int
    displayed: int
    lost: int
    out_of_order: int
    notifications_lost: int
    mean_latency_s: float  # send to display, over displayed messages


def run(config: PushConfig, mode: Mode, directory: Path, seed: int) -> PushOutcome:
    sim = Simulation(seed, trace=Trace(enabled=False))
    inbox = Inbox(directory, sync="none")
    provider, sender = sim.rng("provider"), sim.rng("sender")
    sent_at: dict[int, float] = {}
    shown: list[tuple[int, float]] = []  # message id, time displayed
    dropped = 0

    def push(content: int | None) -> None:
        nonlocal dropped
        if provider.random() < config.loss:
            dropped += 1
            return
        sim.after(provider.expovariate(1 / config.mean_delay), notified, content)

    def notified(content: int | None) -> None:
        if mode == "payload":
            assert content is not None
            shown.append((content, sim.now))
        else:
            sim.after(config.fetch_latency, fetch)

    def fetch() -> None:
        pending = inbox.pending("bob")
        for item in pending:
            shown.append((item.msg_id, sim.now))
        if pending:
            inbox.acknowledge("bob", pending[-1].seq)

    def send(number: int) -> None:
        sent_at[number] = sim.now
        inbox.append("bob", "alice", number, f"ciphertext {number}".encode())
        push(None if mode == "tickle" else number)
        if number < config.messages:
            sim.after(sender.expovariate(1 / config.mean_gap), send, number + 1)

    try:
        sim.after(0.0, send, 1)
        sim.run()
        if mode == "tickle":
            fetch()  # the user opens the app
        else:
            inbox.acknowledge("bob", config.messages)
    finally:
        inbox.close()
    late, highest = 0, 0
    for number, _ in shown:
        late += number < highest
        highest = max(highest, number)
    displayed = len({n for n, _ in shown})
    latency = sum(t - sent_at[n] for n, t in shown) / max(1, len(shown))
    return PushOutcome(
        mode,
        config.messages,
        displayed,
        config.messages - displayed,
        late,
        dropped,
        round(latency, 3),
    )
