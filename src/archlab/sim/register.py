"""A primary-backup replicated register, correct and deliberately broken (codex 5.1).

The first protocol hosted by the simulator, and the checkers' first real subject. One node is
the *primary* of a numbered *view*; clients send it ``read``, ``write v`` and ``cas [old, new]``;
the other nodes are *backups*. Each node keeps ``(view, voted, version, value)`` in a
checksummed state file (``version`` is ``(view, seq)``, so versions from later views are
larger).

``correct`` variant (synchronous replication, failover only to an up-to-date backup)
    - The primary handles one operation at a time. A write (or a compare-and-set whose compare
      holds) is persisted, then replicated; the client is answered once a majority (the primary
      included) has the new version on disk. Replicate messages are retransmitted until acked.
    - A read (or a compare-and-set whose compare fails) is answered only after a majority
      confirms it is still in the primary's view, so a deposed primary cannot answer from its
      stale copy.
    - Backups that hear nothing from the primary for a random election timeout start a view
      change: a node grants its vote for view ``v`` once, and only to a candidate whose version
      is at least its own. A majority of votes makes the candidate primary; it first
      re-replicates its value under the new view, then serves clients.
    - A node that boots with an empty disk (a volatile restart) does not vote or acknowledge
      until it has recovered the view and the latest value from a majority of the others,
      which keeps the quorums intersecting (the recovery of Viewstamped Replication).

``broken`` variant (acknowledges before replicating; promotes any backup)
    - The primary answers a write as soon as its own disk has it; the backups receive its
      value asynchronously, with the next heartbeat. Reads are answered locally.
    - A backup that times out promotes itself to primary of the next view with no votes and no
      check that it is up to date; a node with a wiped disk simply starts empty.

Under a nemesis the broken variant loses acknowledged writes and serves stale reads; the
linearizability checker finds them. :class:`RegisterStub` is the client side: it follows
"not primary" redirects until the client's deadline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from archlab.sim.client import Completion, Redirect
from archlab.sim.disk import Disk
from archlab.sim.process import (
    Address,
    CancelTimer,
    Effect,
    NodeEnv,
    NodeFactory,
    Note,
    Op,
    Reply,
    Request,
    Send,
    SetTimer,
    Sync,
)
from archlab.sim.records import read_state, write_state

Variant = Literal["correct", "broken"]
VARIANTS: tuple[Variant, ...] = ("correct", "broken")
Version = tuple[int, int]
STATE_FILE = "register.state"
#: ``voted`` after a recovery: this node may have voted in its view before it lost its disk.
UNKNOWN_VOTE = "?"

# -- messages between nodes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heartbeat:
    view: int


@dataclass(frozen=True, slots=True)
class Replicate:
    view: int
    op_id: int
    version: Version
    value: Any


@dataclass(frozen=True, slots=True)
class Ack:
    view: int
    op_id: int
    version: Version


@dataclass(frozen=True, slots=True)
class Confirm:
    view: int
    op_id: int


@dataclass(frozen=True, slots=True)
class ConfirmAck:
    view: int
    op_id: int


@dataclass(frozen=True, slots=True)
class StaleView:
    """ "Your view is old; I am at ``view``"."""

    view: int


@dataclass(frozen=True, slots=True)
class VoteRequest:
    view: int
    version: Version


@dataclass(frozen=True, slots=True)
class VoteReply:
    view: int
    granted: bool


@dataclass(frozen=True, slots=True)
class RecoverRequest:
    nonce: int


@dataclass(frozen=True, slots=True)
class RecoverReply:
    nonce: int
    view: int
    version: Version
    value: Any
    primary: Address | None


# -- replies to clients ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ok:
    value: Any


@dataclass(frozen=True, slots=True)
class CasFailed:
    value: Any


@dataclass(frozen=True, slots=True)
class NotPrimary:
    hint: Address | None


@dataclass(frozen=True)
class RegisterConfig:
    """Timing of the protocol, in seconds of the node's local clock."""

    variant: Variant = "correct"
    heartbeat: float = 0.05
    election_min: float = 0.15
    election_max: float = 0.30
    retransmit: float = 0.05


@dataclass
class _InFlight:
    kind: Literal["replicate", "confirm"]
    op_id: int
    request: Request | None
    result: Any
    version: Version
    acks: set[Address]


def bootstrap(address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
    """Install the initial state: view 0, whose primary is the first server, value None."""
    write_state(
        disk, STATE_FILE, {"view": 0, "voted": servers[0], "version": [0, 0], "value": None}
    )


class RegisterNode:
    """One replica of the register (see the module docstring)."""

    def __init__(self, env: NodeEnv, config: RegisterConfig) -> None:
        self.env = env
        self.config = config
        self.me = env.address
        self.others = tuple(p for p in env.peers if p != env.address)
        self.majority = len(env.peers) // 2 + 1
        self.correct = config.variant == "correct"
        state = read_state(env.disk, STATE_FILE)
        self.role: Literal["primary", "backup", "candidate", "recovering"] = "backup"
        if state is None:
            self.view, self.voted, self.version, self.value = 0, None, (0, 0), None
            if self.correct:
                self.role = "recovering"
                self.view = -1
        else:
            self.view = int(state["view"])
            self.voted = state["voted"]
            self.version = (int(state["version"][0]), int(state["version"][1]))
            self.value = state["value"]
        self.primary: Address | None = None
        self.ready = False
        self.queue: deque[Request] = deque()
        self.inflight: _InFlight | None = None
        self.votes: set[Address] = set()
        self.next_op = 0
        self.nonce = 0
        self.recovery: dict[Address, RecoverReply] = {}

    # -- inputs -------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        if self.role == "recovering":
            return self._begin_recovery()
        if self.env.incarnation == 0 and self.view == 0 and self.voted == self.me:
            # The installed primary of view 0: every replica starts with the same state.
            self.role, self.primary, self.ready = "primary", self.me, True
            return [SetTimer("heartbeat", 0.0), Note(f"primary of view {self.view}")]
        if self.env.incarnation == 0 and self.view == 0:
            self.primary = self.voted
        return [self._election_timer()]

    def on_request(self, now: float, request: Request) -> list[Effect]:
        if self.role != "primary":
            hint = self.primary if self.primary != self.me else None
            return [Reply(request, NotPrimary(hint))]
        if not self.correct:
            return self._serve_at_once(request)
        self.queue.append(request)
        return self._next_operation()

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if key == "heartbeat" and self.role == "primary":
            beat: Heartbeat | Replicate = Heartbeat(self.view)
            if not self.correct:  # asynchronous replication: ship the value with heartbeats
                beat = Replicate(self.view, 0, self.version, self.value)
            beats: list[Effect] = [Send(p, beat) for p in self.others]
            return [*beats, SetTimer("heartbeat", self.config.heartbeat)]
        if key == "election" and self.role in ("backup", "candidate"):
            return self._campaign()
        if key == "retransmit" and self.role == "primary" and self.inflight is not None:
            return [*self._broadcast_inflight(), SetTimer("retransmit", self.config.retransmit)]
        if key == "recover" and self.role == "recovering":
            return self._begin_recovery()
        return []

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:  # noqa: PLR0911, PLR0912 - a protocol's message dispatch: one branch per message type
        kind = type(message)
        if self.role == "recovering":
            if kind is RecoverReply:
                return self._on_recover_reply(src, message)
            return []
        if kind is RecoverRequest:
            reply = RecoverReply(message.nonce, self.view, self.version, self.value, self.primary)
            return [Send(src, reply)]
        if kind is RecoverReply:
            return []
        view = message.view
        if view > self.view:
            effects = self._adopt_view(view, None)
        elif view < self.view:
            if kind in (VoteReply, StaleView):
                return []
            return [Send(src, StaleView(self.view))]
        else:
            effects = []
        if kind is Heartbeat:
            return effects + self._from_primary(src)
        if kind is Replicate:
            return effects + self._on_replicate(src, message)
        if kind is Confirm:
            return [*effects, *self._from_primary(src), Send(src, ConfirmAck(view, message.op_id))]
        if kind is Ack or kind is ConfirmAck:
            return effects + self._on_ack(src, message)
        if kind is VoteRequest:
            return effects + self._on_vote_request(src, message)
        if kind is VoteReply:
            return effects + self._on_vote_reply(src, message)
        return effects  # StaleView: adopting the view was the point

    # -- backups ------------------------------------------------------------------------

    def _from_primary(self, src: Address) -> list[Effect]:
        """A message from the primary of our view: follow it, and stay quiet."""
        self.primary = src
        if self.role == "candidate":
            self.role = "backup"
        return [self._election_timer()]

    def _on_replicate(self, src: Address, m: Replicate) -> list[Effect]:
        effects = self._from_primary(src)
        if m.version > self.version:
            self.version, self.value = m.version, m.value
            self._persist()
            effects.append(Sync())
        if self.correct:
            effects.append(Send(src, Ack(self.view, m.op_id, self.version)))
        return effects

    def _adopt_view(self, view: int, primary: Address | None) -> list[Effect]:
        """A higher view exists: step down to a backup of it."""
        effects: list[Effect] = []
        if self.role == "primary":
            effects += self._abandon_operations()
            effects += [CancelTimer("heartbeat"), CancelTimer("retransmit")]
        self.view, self.voted, self.primary = view, None, primary
        self.role, self.ready = "backup", False
        self._persist()
        effects += [self._election_timer(), Note(f"backup in view {view}")]
        return effects

    def _abandon_operations(self) -> list[Effect]:
        """Deposed: answer what certainly did not happen; the rest stays unknown."""
        effects: list[Effect] = []
        inflight = self.inflight
        if inflight is not None and inflight.kind == "confirm" and inflight.request is not None:
            effects.append(Reply(inflight.request, NotPrimary(None)))
        self.inflight = None
        effects += [Reply(r, NotPrimary(None)) for r in self.queue]
        self.queue.clear()
        return effects

    # -- elections ----------------------------------------------------------------------

    def _election_timer(self) -> SetTimer:
        c = self.config
        return SetTimer("election", self.env.rng.uniform(c.election_min, c.election_max))

    def _campaign(self) -> list[Effect]:
        self.view += 1
        self.voted = self.me
        self.primary = None
        if not self.correct:  # promote any backup: no votes, no up-to-date check
            self._persist()
            return [Sync(), *self._become_primary()]
        self.role = "candidate"
        self.votes = {self.me}
        self._persist()
        if len(self.votes) >= self.majority:
            return [Sync(), *self._become_primary()]
        request = VoteRequest(self.view, self.version)
        return [
            Sync(),
            *(Send(p, request) for p in self.others),
            self._election_timer(),
            Note(f"candidate for view {self.view}"),
        ]

    def _on_vote_request(self, src: Address, m: VoteRequest) -> list[Effect]:
        grant = self.voted in (None, src) and m.version >= self.version
        if not grant:
            return [Send(src, VoteReply(self.view, False))]
        self.voted = src
        self._persist()
        return [Sync(), Send(src, VoteReply(self.view, True)), self._election_timer()]

    def _on_vote_reply(self, src: Address, m: VoteReply) -> list[Effect]:
        if self.role != "candidate" or not m.granted:
            return []
        self.votes.add(src)
        if len(self.votes) >= self.majority:
            return self._become_primary()
        return []

    def _become_primary(self) -> list[Effect]:
        self.role, self.primary = "primary", self.me
        self.ready = not self.correct
        # Re-replicate our value under the new view: once a majority has it, every value
        # acknowledged in earlier views is safe, and we may serve clients.
        self.version = (self.view, 0)
        self._persist()
        effects: list[Effect] = [
            CancelTimer("election"),
            Sync(),
            Note(f"primary of view {self.view}"),
            SetTimer("heartbeat", 0.0),
        ]
        if self.correct:
            effects += self._start(
                _InFlight("replicate", self._op_id(), None, None, self.version, set())
            )
        else:
            effects += [
                Send(p, Replicate(self.view, 0, self.version, self.value)) for p in self.others
            ]
        return effects

    # -- the primary's operations (correct variant) -------------------------------------

    def _op_id(self) -> int:
        self.next_op += 1
        return self.next_op

    def _next_operation(self) -> list[Effect]:
        effects: list[Effect] = []
        while self.role == "primary" and self.ready and self.inflight is None and self.queue:
            request = self.queue.popleft()
            op = request.op
            if op.f == "read":
                effects += self._start(self._confirm(request, Ok(self.value)))
            elif op.f == "write":
                effects += self._start(self._write(request, op.value, Ok(op.value)))
            elif op.f == "cas":
                expected, new = op.value
                if self.value == expected:
                    effects += self._start(self._write(request, new, Ok(op.value)))
                else:
                    effects += self._start(self._confirm(request, CasFailed(op.value)))
            else:
                effects.append(Reply(request, NotPrimary(None)))
        return effects

    def _confirm(self, request: Request, result: Any) -> _InFlight:
        return _InFlight("confirm", self._op_id(), request, result, self.version, set())

    def _write(self, request: Request, value: Any, result: Any) -> _InFlight:
        self.version = (self.view, self.version[1] + 1)
        self.value = value
        self._persist()
        return _InFlight("replicate", self._op_id(), request, result, self.version, set())

    def _start(self, inflight: _InFlight) -> list[Effect]:
        self.inflight = inflight
        effects: list[Effect] = [Sync()] if inflight.kind == "replicate" else []
        inflight.acks.add(self.me)
        effects += self._broadcast_inflight()
        effects.append(SetTimer("retransmit", self.config.retransmit))
        return effects + self._maybe_done()

    def _broadcast_inflight(self) -> list[Effect]:
        inflight = self.inflight
        assert inflight is not None
        message: Replicate | Confirm
        if inflight.kind == "replicate":
            message = Replicate(self.view, inflight.op_id, inflight.version, self.value)
        else:
            message = Confirm(self.view, inflight.op_id)
        return [Send(p, message) for p in self.others if p not in inflight.acks]

    def _on_ack(self, src: Address, m: Ack | ConfirmAck) -> list[Effect]:
        inflight = self.inflight
        if self.role != "primary" or inflight is None or m.op_id != inflight.op_id:
            return []
        if isinstance(m, Ack) and m.version < inflight.version:
            return []
        inflight.acks.add(src)
        return self._maybe_done()

    def _maybe_done(self) -> list[Effect]:
        inflight = self.inflight
        if inflight is None or len(inflight.acks) < self.majority:
            return []
        self.inflight = None
        effects: list[Effect] = [CancelTimer("retransmit")]
        if inflight.request is not None:
            effects.append(Reply(inflight.request, inflight.result))
        else:
            self.ready = True
        return effects + self._next_operation()

    # -- the primary's operations (broken variant) --------------------------------------

    def _serve_at_once(self, request: Request) -> list[Effect]:
        op = request.op
        if op.f == "read":
            return [Reply(request, Ok(self.value))]
        if op.f == "cas":
            expected, new = op.value
            if self.value != expected:
                return [Reply(request, CasFailed(op.value))]
            value, result = new, Ok(op.value)
        elif op.f == "write":
            value, result = op.value, Ok(op.value)
        else:
            return [Reply(request, NotPrimary(None))]
        self.version = (self.view, self.version[1] + 1)
        self.value = value
        self._persist()
        # Acknowledged now; the backups hear of it with the next heartbeat.
        return [Sync(), Reply(request, result)]

    # -- recovery after a volatile restart (correct variant) -----------------------------

    def _begin_recovery(self) -> list[Effect]:
        self.nonce = self.env.rng.getrandbits(32)
        self.recovery = {}
        request = RecoverRequest(self.nonce)
        return [
            *(Send(p, request) for p in self.others),
            SetTimer("recover", 2 * self.config.retransmit),
            Note("recovering an empty disk"),
        ]

    def _on_recover_reply(self, src: Address, m: RecoverReply) -> list[Effect]:
        if m.nonce != self.nonce or m.view < 0:
            return []
        self.recovery[src] = m
        if len(self.recovery) < self.majority:
            return []
        replies = [self.recovery[a] for a in sorted(self.recovery)]
        newest = max(replies, key=lambda r: r.version)
        self.view = max(r.view for r in replies)
        self.voted = UNKNOWN_VOTE
        self.version, self.value = newest.version, newest.value
        self.primary = next((r.primary for r in replies if r.view == self.view), None)
        self.role = "backup"
        self._persist()
        return [
            CancelTimer("recover"),
            Sync(),
            self._election_timer(),
            Note(f"recovered view {self.view} version {list(self.version)}"),
        ]

    # -- disk ---------------------------------------------------------------------------

    def _persist(self) -> None:
        state = {
            "view": self.view,
            "voted": self.voted,
            "version": list(self.version),
            "value": self.value,
        }
        write_state(self.env.disk, STATE_FILE, state)


def node_factory(config: RegisterConfig) -> NodeFactory:
    def build(env: NodeEnv) -> RegisterNode:
        return RegisterNode(env, config)

    return build


class RegisterStub:
    """The client side: send to the believed primary, follow redirects."""

    def __init__(self, servers: tuple[Address, ...], retry_delay: float = 0.02) -> None:
        self.servers = servers
        self.guess = servers[0]
        self.retry_delay = retry_delay

    def route(self, op: Op) -> Address:
        return self.guess

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        if isinstance(result, Ok):
            self.guess = source
            return Completion("ok", result.value if op.f == "read" else op.value)
        if isinstance(result, CasFailed):
            self.guess = source
            return Completion("fail", op.value)
        if isinstance(result, NotPrimary) and result.hint is not None and result.hint != source:
            self.guess = result.hint
            return Redirect(result.hint)
        self.guess = self._after(source)
        return Redirect(self.guess, self.retry_delay)

    def timed_out(self, op: Op, target: Address) -> None:
        self.guess = self._after(target)

    def _after(self, node: Address) -> Address:
        return self.servers[(self.servers.index(node) + 1) % len(self.servers)]
