"""Many SWIM members in archlab's discrete-event simulator (codex 10.5).

:class:`SwimCluster` hosts one :class:`~archlab.cases.ringpop.swim.Swim` core per member on
:class:`~archlab.sim.kernel.Simulation`'s virtual clock: each outbound message is lost with
probability ``loss`` and otherwise delivered after a random one-way delay; each member's next
deadline is one cancellable timer. Crashed members neither receive nor tick. The cluster
records, for every (member, status), when each observer first saw it, which is what the
experiment's detection, dissemination and false-positive numbers are read from.
"""

from __future__ import annotations

from collections.abc import Callable

from archlab.cases.ringpop.swim import Message, Outbound, Status, Swim, SwimConfig
from archlab.sim.kernel import Simulation, Timer
from archlab.sim.trace import Trace


class SwimCluster:
    """``size`` members that start knowing each other (or join through a seed later)."""

    def __init__(
        self,
        size: int,
        config: SwimConfig | None = None,
        seed: int = 0,
        loss: float = 0.0,
        delay: float = 0.002,
    ) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), not {loss}")
        self.sim = Simulation(seed, trace=Trace(enabled=False))
        self.config = config or SwimConfig()
        self.loss = loss
        self.delay = delay
        self._net = self.sim.rng("network")
        self.names = [f"m{i:04d}" for i in range(size)]
        self.nodes: dict[str, Swim] = {}
        self.crashed: set[str] = set()
        self._timers: dict[str, Timer] = {}
        #: (member, status) -> {observer: virtual time it first saw that status}
        self.seen: dict[tuple[str, Status], dict[str, float]] = {}
        #: status -> every (member, incarnation) any member held it at: a suspicion episode
        #: is one (member, incarnation) suspected; refuting it raises the incarnation.
        self.episodes: dict[Status, set[tuple[str, int]]] = {
            "alive": set(),
            "suspect": set(),
            "faulty": set(),
        }
        for name in self.names:
            self.nodes[name] = Swim(
                name, self.sim.rng(f"node.{name}"), self.config, 0.0, self.names
            )
            self._reschedule(name)

    @property
    def now(self) -> float:
        return self.sim.now

    def periods(self, seconds: float) -> float:
        return seconds / self.config.period

    def run_for(self, periods: float, stop_when: Callable[[], bool] | None = None) -> bool:
        """Advance ``periods`` protocol periods, or until ``stop_when()``; True if it stopped."""
        reason = self.sim.run(until=self.now + periods * self.config.period, stop_when=stop_when)
        return reason == "predicate"

    def crash(self, name: str) -> None:
        self.crashed.add(name)
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def add(self, name: str, seed_member: str) -> None:
        """A new member that joins through ``seed_member``."""
        node = Swim(name, self.sim.rng(f"node.{name}"), self.config, self.now, [name])
        self.nodes[name] = node
        self._send(name, node.join(self.now, [seed_member]))
        self._reschedule(name)

    def live(self) -> list[str]:
        return [n for n in self.nodes if n not in self.crashed]

    def observers(self, member: str, status: Status) -> dict[str, float]:
        return self.seen.get((member, status), {})

    def anyone_sees(self, member: str, status: Status) -> bool:
        return bool(self.observers(member, status))

    def everyone_sees(self, member: str, status: Status) -> bool:
        seen = self.observers(member, status)
        return all(n in seen for n in self.live() if n != member)

    def messages_sent(self) -> int:
        return sum(node.messages_sent for node in self.nodes.values())

    # -- plumbing --------------------------------------------------------------------------

    def _wake(self, name: str) -> None:
        node = self.nodes[name]
        self._send(name, node.tick(self.now))
        self._observe(name)
        self._reschedule(name)

    def _deliver(self, dst: str, src: str, message: Message) -> None:
        if dst in self.crashed or dst not in self.nodes:
            return
        self._send(dst, self.nodes[dst].receive(self.now, src, message))
        self._observe(dst)
        self._reschedule(dst)

    def _send(self, src: str, out: list[Outbound]) -> None:
        for item in out:
            if self._net.random() < self.loss:
                continue
            latency = self.delay * (0.5 + self._net.random())
            self.sim.after(latency, self._deliver, item.to, src, item.message)

    def _observe(self, name: str) -> None:
        node = self.nodes[name]
        for time, update in node.changes:
            self.seen.setdefault((update.member, update.status), {}).setdefault(name, time)
            self.episodes[update.status].add((update.member, update.incarnation))
        node.changes.clear()

    def _reschedule(self, name: str) -> None:
        deadline = self.nodes[name].next_deadline()
        timer = self._timers.get(name)
        if timer is not None and timer.active and timer.time == deadline:
            return
        if timer is not None:
            timer.cancel()
        self._timers[name] = self.sim.timer(max(0.0, deadline - self.now), self._wake, name)
