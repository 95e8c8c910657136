"""A live simulated consensus cluster the dashboard drives step by step (codex 5.3).

:class:`LiveCluster` runs one protocol's simulated cluster — the same
:class:`~archlab.sim.world.World` ``archlab sim raft|paxos|zab`` builds, on the deterministic
kernel — a step of virtual time at a time, and lets a user act on it between steps: isolate a
server from its peers, heal, crash, restart, step a server's clock forward, submit a client
command. It is sans-IO: no threads, sockets or wall clock; the web layer calls it.

**Determinism is the rewind.** A live run is fully described by its :class:`LiveSpec` (protocol,
seed, size) and its :class:`Action` list, each action stamped with the step it was taken at.
Going back to step *k* rebuilds the world from the seed and replays the actions up to *k*; the
result is identical to what was on screen at step *k* (tests assert it). The same pair is the
"command that reproduces this": ``archlab live raft --seed 3 --actions '40:isolate:n0' --step 200``.

Clients do nothing until a command is submitted: a submitted operation is queued in the run's
:class:`ScriptedWorkload` and the first idle client process picks it up, so the history the
linearizability checker sees is exactly the commands the user asked for, with real sessions,
redirects and timeouts in between.
"""

from __future__ import annotations

import shlex
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from archlab.consensus.simhost import ServerNode
from archlab.consensus.simscenario import current_leader
from archlab.errors import ConfigError
from archlab.sim.latency import Uniform
from archlab.sim.process import Op, Request, Response
from archlab.sim.scenario import get_scenario
from archlab.sim.world import World

PROTOCOLS = ("raft", "paxos", "zab")
#: Virtual seconds per step: short enough to see a message in flight (latency 2-8 ms).
STEP_SECONDS = 0.002
#: The most steps one live run may reach (a rewind replays them all).
MAX_STEPS = 20_000
KINDS = ("isolate", "heal", "crash", "restart", "skew", "read", "write", "cas")
LOG_TAIL = 8


@dataclass(frozen=True)
class LiveSpec:
    """What a live run is built from: protocol, seed and number of servers."""

    protocol: str = "raft"
    seed: int = 0
    nodes: int = 3

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if not 1 <= self.nodes <= 7:
            raise ConfigError(f"nodes must be between 1 and 7, got {self.nodes}")


@dataclass(frozen=True)
class Action:
    """One thing the user did, at ``step``: ``kind`` with its arguments (text)."""

    step: int
    kind: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        return ":".join([str(self.step), self.kind, *self.args])

    @staticmethod
    def decode(text: str) -> Action:
        parts = text.strip().split(":")
        if len(parts) < 2 or not parts[0].isdigit() or parts[1] not in KINDS:
            raise ConfigError(
                f"action {text!r}: expected STEP:KIND[:ARG...] with KIND one of {', '.join(KINDS)}"
            )
        return Action(int(parts[0]), parts[1], tuple(parts[2:]))


def encode_actions(actions: Sequence[Action]) -> str:
    return ",".join(a.encode() for a in actions)


def decode_actions(text: str) -> list[Action]:
    actions = [Action.decode(t) for t in text.split(",") if t.strip()]
    steps = [a.step for a in actions]
    if steps != sorted(steps):
        raise ConfigError(f"actions {text!r}: steps must not decrease")
    return actions


class ScriptedWorkload:
    """The operations the user submitted, handed to clients in order."""

    def __init__(self) -> None:
        self.queue: deque[Op] = deque()

    def next_op(self, rng: Any, process: int) -> Op:
        return self.queue.popleft()


@dataclass
class InFlight:
    src: str
    dst: str
    kind: str
    sent: float
    arrives: float


@dataclass
class LiveCluster:
    """A live run: build with :meth:`start`, then :meth:`advance`, :meth:`act`, :meth:`goto`."""

    spec: LiveSpec
    actions: list[Action] = field(default_factory=list)
    step: int = 0
    world: World = field(init=False, repr=False)
    _workload: ScriptedWorkload = field(init=False, repr=False)
    _flight: list[InFlight] = field(init=False, repr=False, default_factory=list)
    _cursor: int = field(init=False, repr=False, default=0)
    _events: list[dict[str, Any]] = field(init=False, repr=False, default_factory=list)

    @classmethod
    def start(cls, spec: LiveSpec, actions: Sequence[Action] = (), step: int = 0) -> LiveCluster:
        """A run of ``spec`` replayed to ``step`` with ``actions`` (those after it kept)."""
        live = cls(spec, list(actions))
        live._build()
        live._apply_due(0)
        live.advance(step)
        return live

    def _build(self) -> None:
        scenario = get_scenario(self.spec.protocol)
        config = replace(
            scenario.default_config(),
            seed=self.spec.seed,
            nodes=self.spec.nodes,
            clients=2,
            ops=0,
            latency=Uniform(0.002, 0.008),
            client_timeout=1.0,
            options=tuple(
                (k, 0 if k == "spares" else v) for k, v in scenario.default_config().options
            ),
        )
        self.world = scenario.build(config)
        self._workload = ScriptedWorkload()
        self.world.budget.workload = self._workload
        self._flight = []
        self._cursor = 0
        self._events = []
        self.step = 0
        for host in self.world.hosts.values():
            host.boot()
        for client in self.world.clients:
            client.done = True  # idle until a command is submitted

    # -- moving in time ------------------------------------------------------------------

    def advance(self, steps: int = 1) -> None:
        """Run ``steps`` steps, applying recorded actions at their steps."""
        target = min(self.step + max(0, steps), MAX_STEPS)
        while self.step < target:
            self.world.sim.run(until=(self.step + 1) * STEP_SECONDS)
            self.step += 1
            self._observe()
            self._apply_due(self.step)

    def goto(self, step: int) -> None:
        """Be at ``step``: replay from the seed when it is in the past (deterministic)."""
        step = max(0, min(step, MAX_STEPS))
        if step < self.step:
            self._build()
            self._apply_due(0)
        self.advance(step - self.step)

    def _apply_due(self, step: int) -> None:
        for action in self.actions:
            if action.step == step:
                self._perform(action)

    def act(self, kind: str, *args: str) -> Action:
        """Do ``kind`` now; actions recorded after the current step are discarded."""
        action = Action.decode(":".join([str(self.step), kind, *args]))
        self.actions = [a for a in self.actions if a.step <= self.step]
        self._perform(action)
        self.actions.append(action)
        self._observe()
        return action

    # -- actions -------------------------------------------------------------------------

    def _perform(self, action: Action) -> None:
        world, args = self.world, action.args
        servers = world.servers
        if action.kind in ("isolate", "crash", "restart", "skew"):
            if not args or args[0] not in servers:
                raise ConfigError(f"{action.kind}: name a server ({', '.join(servers)})")
            host = world.hosts[args[0]]
        if action.kind == "isolate":
            world.network.partition([args[0]], [s for s in servers if s != args[0]])
        elif action.kind == "heal":
            world.network.heal()
        elif action.kind == "crash":
            if host.status != "crashed":
                host.crash()
        elif action.kind == "restart":
            if host.status == "crashed":
                host.restart()
        elif action.kind == "skew":
            host.clock.step(_number(args[1] if len(args) > 1 else "0.2", "skew seconds"))
        else:
            self._submit(action)
        self._events.append({"step": action.step, "text": _describe(action)})

    def _submit(self, action: Action) -> None:
        key = action.args[0] if action.args else "k0"
        if key not in {"k0", "k1", "k2"}:
            raise ConfigError(f"{action.kind}: key must be k0, k1 or k2, got {key!r}")
        value: Any = None
        if action.kind == "write":
            value = int(_number(action.args[1] if len(action.args) > 1 else "1", "value"))
        elif action.kind == "cas":
            if len(action.args) < 3:
                raise ConfigError("cas: expected cas:KEY:OLD:NEW")
            value = (int(_number(action.args[1], "old")), int(_number(action.args[2], "new")))
        self._workload.queue.append(Op(action.kind, key, value))
        self.world.budget.remaining += 1
        for client in self.world.clients:
            if client.done:
                client.done = False
                client.start(0.0)
                break

    # -- what is on screen ---------------------------------------------------------------

    def _observe(self) -> None:
        """Collect new sends and notes from the trace; forget messages that arrived."""
        sim = self.world.sim
        records = sim.trace.records
        for time, event, fields in records[self._cursor :]:
            if event == "send":
                self._flight.append(
                    InFlight(fields["src"], fields["dst"], _kind(fields["msg"]), time, fields["at"])
                )
            elif event == "note":
                step = round(time / STEP_SECONDS)
                self._events.append({"step": step, "text": f"{fields['node']}: {fields['text']}"})
        self._cursor = len(records)
        self._flight = [m for m in self._flight if m.arrives > sim.now]
        del self._events[:-200]

    def leader(self) -> str | None:
        return current_leader(self.world)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready data."""
        world = self.world
        blocked = set(world.network.blocked_links)
        return {
            "spec": {
                "protocol": self.spec.protocol,
                "seed": self.spec.seed,
                "nodes": self.spec.nodes,
            },
            "step": self.step,
            "time": round(world.sim.now, 6),
            "leader": self.leader(),
            "nodes": [self._node(a) for a in world.servers],
            "clients": [c.address for c in world.clients],
            "messages": [
                {
                    "src": m.src,
                    "dst": m.dst,
                    "kind": m.kind,
                    "progress": round(
                        min(1.0, (world.sim.now - m.sent) / max(1e-9, m.arrives - m.sent)), 3
                    ),
                }
                for m in self._flight
            ],
            "blocked": [[a, b] for a, b in blocked],
            "isolated": [
                a
                for a in world.servers
                if len(world.servers) > 1
                and all((a, b) in blocked for b in world.servers if b != a)
            ],
            "history": [_event(e) for e in world.recorder.events],
            "pending": len(self._workload.queue),
            "events": self._events[-40:],
            "actions": encode_actions(self.actions),
            "command": self.command(),
        }

    def _node(self, address: str) -> dict[str, Any]:
        host = self.world.hosts[address]
        node = host.node
        view: dict[str, Any] = {
            "address": address,
            "status": host.status,
            "clock_error": round(host.clock.error(), 4),
            "role": "down",
            "term": None,
            "commit": None,
            "last": None,
            "log": [],
        }
        if isinstance(node, ServerNode):
            view.update(describe_server(node.server))
        return view

    def command(self) -> str:
        """The command line that replays this run to the current step."""
        parts = ["archlab", "live", self.spec.protocol, "--seed", str(self.spec.seed)]
        if self.spec.nodes != 3:
            parts += ["--nodes", str(self.spec.nodes)]
        if self.actions:
            parts += ["--actions", encode_actions(self.actions)]
        parts += ["--step", str(self.step)]
        return shlex.join(parts)

    def check(self) -> dict[str, Any]:
        """Run the linearizability checker over the history so far; with its timeline page."""
        from archlab.check.linearizability import check_linearizable
        from archlab.check.timeline import render_timeline

        events = list(self.world.recorder.events)
        verdict = check_linearizable(events, model="kv", time_limit=10.0)
        faults = [
            (float(a.step) * STEP_SECONDS, self.world.sim.now, _describe(a))
            for a in self.actions
            if a.kind in ("isolate", "crash")
        ]
        timeline = render_timeline(
            events,
            title=f"{self.spec.protocol} seed {self.spec.seed}, step {self.step}",
            faults=faults,
            highlight=verdict.highlight,
        )
        valid: bool | str = verdict.valid
        text = (
            "linearizable" if valid is True else "NOT linearizable" if valid is False else "unknown"
        )
        return {
            "valid": valid,
            "summary": f"{text}: {verdict.operations} operation"
            + ("" if verdict.operations == 1 else "s")
            + (f" ({verdict.reason})" if verdict.reason else ""),
            "timeline": timeline,
        }


def describe_server(server: Any) -> dict[str, Any]:
    """Role, term (ballot, epoch), commit index, last index and log tail of any server."""
    status = server.status()
    name = type(status).__name__
    if name == "Status":  # Raft
        log = server.node.log
        first = max(log.first_index(), status.last_index - LOG_TAIL + 1)
        entries = log.entries(first, status.last_index + 1) if first <= status.last_index else []
        return {
            "role": status.role.value,
            "term": status.term,
            "commit": status.commit,
            "last": status.last_index,
            "log": [
                {"index": e.index, "term": e.term, "text": _entry_text(e.data, e.kind.value)}
                for e in entries
            ],
        }
    if name == "PaxosStatus":
        return {
            "role": status.role.value,
            "term": repr(status.promised),
            "commit": status.commit,
            "last": status.next_slot - 1,
            "log": [
                {
                    "index": slot.index,
                    "term": repr(slot.ballot),
                    "text": _entry_text(slot.value, ""),
                }
                for slot in sorted(server.node.slots.values(), key=lambda x: x.index)[-LOG_TAIL:]
            ],
        }
    history = server.node.history
    return {  # ZabStatus
        "role": f"{status.state.value} ({status.phase.value})",
        "term": status.epoch,
        "commit": status.committed,
        "last": status.length,
        "log": [
            {
                "index": p,
                "term": history.at(p).zxid.epoch,
                "text": _entry_text(history.at(p).data, ""),
            }
            for p in range(max(history.base + 1, history.length - LOG_TAIL + 1), history.length + 1)
        ],
    }


def _entry_text(data: bytes, kind: str) -> str:
    if kind == "config":
        return "config"
    if not data:
        return "no-op"
    text = data.decode("utf-8", "replace")
    return text if len(text) <= 40 else text[:39] + "…"


def _kind(message: Any) -> str:
    if isinstance(message, Request):
        return f"request {getattr(message.op, 'f', '')}".strip()
    if isinstance(message, Response):
        return "response"
    return type(message).__name__


def _event(event: Any) -> dict[str, Any]:
    return {
        "process": event.process,
        "type": event.type,
        "f": event.f,
        "key": _plain(event.key),
        "value": _plain(event.value),
        "time": None if event.time is None else round(float(event.time), 4),
    }


def _plain(value: Hashable | Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{what}: expected a number, got {text!r}") from None


def _describe(action: Action) -> str:
    return " ".join([action.kind, *action.args])
