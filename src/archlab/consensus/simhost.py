"""Hosting any consensus server in the deterministic simulator (codex 5.3).

:class:`ServerNode` is the :class:`archlab.sim.process.Node` that runs one
:class:`~archlab.consensus.server.ConsensusServer` (Raft's, Multi-Paxos's, Zab's) on a simulated
host. It translates in both directions:

- inputs: the node's local clock becomes ticks (:class:`TickClock`), peer messages go to
  ``server.receive``, a client's :class:`~archlab.sim.process.Request` becomes a
  :class:`~archlab.consensus.client.ClientRequest` (its payload is the request's ``envelope``,
  put there by :class:`~archlab.consensus.simclient.KVClientStub`), and :class:`Admin` messages
  let a scenario act on the server (a membership change);
- outputs: the server's actions become effects, in order: ``SyncStorage`` -> ``Sync()`` (the
  host's barrier: nothing after it runs before the disk is synced, nor at all if it crashes
  first), ``SendMessage`` -> ``Send``, ``Respond`` -> ``Reply``, ``Applied`` -> ``Apply`` (the
  default scenario check compares what replicas applied), ``Note`` -> ``Note``.

Servers are numbered ``1..N`` in the order of the world's addresses (``n0`` is server 1):
:func:`server_id` and :func:`server_address` convert.

**Time.** The server counts ticks; the host turns its local clock into ticks. On every input
(not only the tick timer) :class:`TickClock` works out how many tick periods of the local clock
have passed since the last tick and ticks that many times first, up to ``max_catch_up`` — a
process resuming from a pause therefore *sees* the time it lost before it handles anything held
during the pause, as a real server reading a monotonic clock would. A backward clock step
re-anchors the count (no time passes); a forward step or a fast drift makes ticks come early.
Lease reads (:class:`~archlab.consensus.raft.ReadMode`) rest on tick periods staying within the
configured drift bound, which the clock-skew nemesis can break on purpose.

:class:`RunObserver` watches every server of a run for what a host can check without the
history: at most one leader per term (election safety) and, for servers that expose
``persist_problems``, messages promising state that was not written before they were sent.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from archlab.consensus.client import ClientRequest, Command, OpenSession, Reply
from archlab.consensus.server import (
    Applied,
    ConsensusServer,
    Note,
    Respond,
    SendMessage,
    SyncStorage,
)
from archlab.sim import process as sim
from archlab.sim.process import Address, Effect, NodeEnv, Op, Request

TICK_TIMER = "tick"
_REPLY_OP = Op("reply")


def server_id(address: Address, servers: tuple[Address, ...]) -> int:
    """The server number (1-based) of ``address`` among ``servers``."""
    return servers.index(address) + 1


def server_address(server: int, servers: tuple[Address, ...]) -> Address | None:
    """The address of server number ``server``, or None if there is no such server."""
    return servers[server - 1] if 1 <= server <= len(servers) else None


def applied_record(action: Applied) -> str:
    """How an applied entry is recorded: readable, and equal exactly when the entries are."""
    text = action.data.decode("utf-8", "backslashreplace")
    return f"term {action.term} {action.kind} {text}".rstrip()


class TickClock:
    """Logical ticks from a local clock, catching up after pauses (see the module docstring)."""

    def __init__(self, period: float, max_catch_up: int) -> None:
        if period <= 0 or max_catch_up < 1:
            raise ValueError("a tick clock needs a positive period and max_catch_up >= 1")
        self.period = period
        self.max_catch_up = max_catch_up
        self._last = 0.0

    def start(self, now: float, phase: float) -> None:
        """The first tick falls ``phase`` seconds (local) from ``now``."""
        self._last = now + phase - self.period

    def due(self, now: float) -> int:
        """How many ticks to run now (and account them as run)."""
        if now < self._last:
            self._last = now  # the clock stepped back: re-anchor, no time passed
            return 0
        count = int((now - self._last) / self.period + 1e-9)
        self._last += count * self.period
        return min(count, self.max_catch_up)

    def next_delay(self, now: float) -> float:
        """Local seconds until the next tick is due."""
        return max(0.0, self._last + self.period - now)


@dataclass(frozen=True)
class Admin:
    """A message a scenario hands a server directly: ``action(server)`` runs on it, in order
    with its other inputs; the text it returns is noted in the trace."""

    action: Callable[[Any], str]


class RunObserver:
    """Invariants checked on the servers while a run goes on (see the module docstring).

    Replica agreement (no two servers apply different entries at one index) is always
    watched; election safety and persist-before-send only with ``invariants``.

    ``on_violation`` is called at the first violation: a world passes its simulation's
    ``stop``, so a run ends where its state is known to be corrupt (a broken protocol can
    livelock from there on) and the history up to that point is checked as usual.
    """

    def __init__(
        self, on_violation: Callable[[], object] | None = None, invariants: bool = True
    ) -> None:
        self.on_violation = on_violation
        #: False: watch replica agreement only (election safety and persist-before-send off).
        self.invariants = invariants
        #: Called as ``listener(event, address, term)`` for ``"elected"`` (a server has just
        #: become leader of ``term``) and ``"first-commit"`` (a leader has just applied its
        #: first entry in its term), synchronously, before the server's messages leave.
        self.leader_listeners: list[Callable[[str, Address, int], None]] = []
        self.leaders: dict[int, list[Address]] = {}
        self.applied: dict[int, tuple[str, Address]] = {}
        self.violations: list[str] = []

    def saw_leader(self, term: int, address: Address, now: float) -> None:
        holders = self.leaders.setdefault(term, [])
        if address in holders:
            return
        holders.append(address)
        if len(holders) == 2 and self.invariants:
            self._violated(
                f"election safety: two leaders in term {term} ({holders[0]} and {address}, "
                f"the second at t={now:.3f})"
            )
        self._tell("elected", address, term)

    def saw_first_commit(self, term: int, address: Address) -> None:
        self._tell("first-commit", address, term)

    def _tell(self, event: str, address: Address, term: int) -> None:
        for listener in self.leader_listeners:
            listener(event, address, term)

    def saw_applied(self, index: int, record: str, address: Address) -> None:
        known = self.applied.get(index)
        if known is None:
            self.applied[index] = (record, address)
        elif known[0] != record:
            self._violated(
                f"state machine safety: {address} applied [{record}] at index {index}, "
                f"{known[1]} applied [{known[0]}]"
            )

    def persist_problem(self, address: Address, text: str) -> None:
        if self.invariants:
            self._violated(f"persist before send: {address} sent {text}")

    def _violated(self, text: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(text)
        if self.on_violation is not None and len(self.violations) == 1:
            self.on_violation()

    def summary(self) -> dict[str, Any]:
        return {
            "terms_with_leaders": len(self.leaders),
            "violations": list(self.violations),
        }


class ServerNode:
    """A simulated host's node running a :class:`ConsensusServer` (see the module docstring)."""

    def __init__(
        self,
        env: NodeEnv,
        server: ConsensusServer,
        clock: TickClock,
        observer: RunObserver | None = None,
    ) -> None:
        self.env = env
        self.server = server
        self.clock = clock
        self.observer = observer
        self._led: int | None = None
        self._committed_in: int | None = None

    # -- inputs -----------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        self.clock.start(now, self.env.rng.uniform(0.0, self.clock.period))
        return [*self._effects(now), sim.SetTimer(TICK_TIMER, self.clock.next_delay(now))]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if key != TICK_TIMER:
            return []
        self._advance(now)
        return [*self._effects(now), sim.SetTimer(TICK_TIMER, self.clock.next_delay(now))]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        self._advance(now)
        if isinstance(message, Admin):
            text = message.action(self.server)
            return [sim.Note(text), *self._effects(now)]
        self.server.receive(message)
        return self._effects(now)

    def on_request(self, now: float, request: Request) -> list[Effect]:
        self._advance(now)
        payload = request.envelope
        if not isinstance(payload, Command | OpenSession):
            malformed = Reply("fail", error="malformed: the request carries no kv payload")
            return [sim.Reply(request, malformed)]
        self.server.request(ClientRequest(request.client, request.id, payload))
        return self._effects(now)

    def _advance(self, now: float) -> None:
        for _ in range(self.clock.due(now)):
            self.server.tick()

    # -- outputs ----------------------------------------------------------------------------

    def _effects(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        servers = self.env.peers
        applied = False
        for action in self.server.drain():
            if isinstance(action, SendMessage):
                dst = server_address(action.dst, servers)
                if dst is not None:
                    effects.append(sim.Send(dst, action.message))
            elif isinstance(action, SyncStorage):
                effects.append(sim.Sync())
            elif isinstance(action, Respond):
                response = action.response
                request = Request(response.request_id, str(action.client), _REPLY_OP)
                effects.append(sim.Reply(request, response.reply))
            elif isinstance(action, Applied):
                record = applied_record(action)
                effects.append(sim.Apply(action.index, record))
                applied = True
                if self.observer is not None:
                    self.observer.saw_applied(action.index, record, self.env.address)
            elif isinstance(action, Note):
                effects.append(sim.Note(action.text))
        self._observe(now, applied)
        return effects

    def _observe(self, now: float, applied: bool) -> None:
        observer = self.observer
        if observer is None:
            return
        term = self.server.leadership()
        if term is not None and term != self._led:
            self._led = term
            observer.saw_leader(term, self.env.address, now)
        elif term is not None and applied and self._committed_in != term:
            self._committed_in = term
            observer.saw_first_commit(term, self.env.address)
        self._led = term
        problems = getattr(self.server, "persist_problems", None)
        if problems:
            for text in problems:
                observer.persist_problem(self.env.address, text)
            problems.clear()
