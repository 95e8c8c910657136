"""A simulated machine that hosts one sans-IO protocol node (see :mod:`archlab.sim.process`).

The host turns the world into the node's inputs (messages from the network, its timers, client
requests), each stamped with the node's local clock, and executes the effects the node returns,
in order. It owns what survives the node object: its :class:`~archlab.sim.disk.Disk`, its
:class:`~archlab.sim.clock.NodeClock` and its address.

Faults a host can suffer (the nemesis calls these):

- :meth:`Host.crash`: the process dies. Timers, queued effects and everything in memory are
  gone; the disk loses what was not synced (optionally tearing the last write). Messages
  arriving while it is down are dropped.
- :meth:`Host.restart` ``("durable")``: a new node object is built by the factory over the
  surviving disk; ``("volatile")``: over an empty disk (a replaced machine).
- :meth:`Host.pause` / :meth:`Host.resume`: a stop-the-world pause (a long GC). The node runs
  nothing; arriving messages and due timers queue up and are handed to it, in the order they
  arrived, when it resumes; timers therefore fire late. A sync already issued completes.

``Sync`` is a barrier: the effects after it wait until the disk has synced (after the host's
``fsync_latency``), and a crash in between discards them, so a node that returns
``[Sync(), Send(...)]`` never sends before its state is durable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any, Literal

from archlab.sim.clock import NodeClock
from archlab.sim.disk import CrashReport, Disk
from archlab.sim.kernel import Simulation, Timer
from archlab.sim.latency import Constant, Distribution
from archlab.sim.network import Network
from archlab.sim.process import (
    Address,
    Apply,
    CancelTimer,
    Effect,
    Effects,
    Node,
    NodeEnv,
    NodeFactory,
    Note,
    Reply,
    Request,
    Response,
    Send,
    SetTimer,
    Sync,
)

Status = Literal["down", "up", "paused", "crashed"]
RestartMode = Literal["durable", "volatile"]
_Held = tuple[Literal["message"], Address, Any] | tuple[Literal["timer"], Hashable, None]


class Host:
    """One machine of the simulated cluster (see the module docstring)."""

    def __init__(
        self,
        sim: Simulation,
        network: Network,
        address: Address,
        factory: NodeFactory,
        peers: tuple[Address, ...],
        *,
        disk: Disk | None = None,
        clock: NodeClock | None = None,
        fsync_latency: Distribution | None = None,
        torn_writes: bool = False,
    ) -> None:
        self.sim = sim
        self.network = network
        self.address = address
        self.factory = factory
        self.peers = peers
        self.disk = disk if disk is not None else Disk()
        self.clock = clock if clock is not None else NodeClock(sim)
        self.fsync_latency = fsync_latency if fsync_latency is not None else Constant(0.0)
        self.torn_writes = torn_writes
        self.status: Status = "down"
        self.node: Node | None = None
        self.incarnation = -1
        #: Commands the node reported applied, by index (across incarnations).
        self.applied: dict[int, Any] = {}
        #: (index, first command, later different command): a replica changed its mind.
        self.apply_conflicts: list[tuple[int, Any, Any]] = []
        self._rng = sim.rng(f"host.{address}")
        self._timers: dict[Hashable, Timer] = {}
        self._backlog: deque[Effect] = deque()
        self._syncing = False
        self._held: list[_Held] = []
        network.attach(address, self.deliver)

    # -- lifecycle ----------------------------------------------------------------------

    def boot(self) -> None:
        """Start a new node object over the current disk (first boot or restart)."""
        if self.status in ("up", "paused"):
            raise RuntimeError(f"{self.address} is already running")
        self.incarnation += 1
        env = NodeEnv(
            address=self.address,
            peers=self.peers,
            disk=self.disk,
            rng=self.sim.rng(f"node.{self.address}.{self.incarnation}"),
            incarnation=self.incarnation,
        )
        self.node = self.factory(env)
        self.status = "up"
        self.sim.record("boot", node=self.address, incarnation=self.incarnation)
        self._execute(self.node.start(self.clock.now()))

    def crash(self) -> CrashReport:
        """Kill the process: memory, timers and unsynced writes are lost."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._backlog.clear()
        self._held.clear()
        self._syncing = False
        self.node = None
        self.status = "crashed"
        report = self.disk.crash(self._rng, torn=self.torn_writes)
        self.sim.record(
            "crash",
            node=self.address,
            lost_writes=report.lost_writes,
            torn_writes=report.torn_writes,
        )
        return report

    def restart(self, mode: RestartMode = "durable") -> None:
        """Boot again after a crash (crashing first if running); ``volatile`` wipes the disk."""
        if self.status in ("up", "paused"):
            self.crash()
        if mode == "volatile":
            self.disk.wipe()
        self.sim.record("restart", node=self.address, mode=mode)
        self.boot()

    def pause(self) -> None:
        """Stop processing; inputs queue until :meth:`resume`."""
        if self.status == "up":
            self.status = "paused"
            self.sim.record("pause", node=self.address)

    def resume(self) -> None:
        """Continue after a pause: queued inputs are handled in arrival order."""
        if self.status != "paused":
            return
        self.status = "up"
        self.sim.record("resume", node=self.address, queued=len(self._held))
        held, self._held = self._held, []
        for item in held:
            if not self._up():
                break
            if item[0] == "message":
                self._dispatch(item[1], item[2])
            else:
                self._on_timer(item[1])
        self._drain()

    def _up(self) -> bool:
        return self.status == "up"

    @property
    def running(self) -> bool:
        return self.status in ("up", "paused")

    # -- inputs -------------------------------------------------------------------------

    def deliver(self, src: Address, message: Any) -> None:
        """Network callback: hand ``message`` to the node (or queue / drop it)."""
        status = self.status
        if status == "up":
            self._dispatch(src, message)
        elif status == "paused":
            self._held.append(("message", src, message))

    def _dispatch(self, src: Address, message: Any) -> None:
        node = self.node
        assert node is not None
        if type(message) is Request:
            self._execute(node.on_request(self.clock.now(), message))
        else:
            self._execute(node.on_message(self.clock.now(), src, message))

    def _timer_due(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        if self.status == "paused":
            self._held.append(("timer", key, None))
        elif self.status == "up":
            self._on_timer(key)

    def _on_timer(self, key: Hashable) -> None:
        node = self.node
        assert node is not None
        self._execute(node.on_timer(self.clock.now(), key))

    # -- effects ------------------------------------------------------------------------

    def _execute(self, effects: Effects) -> None:
        if effects is None:
            return
        self._backlog.extend(effects)
        if not self._syncing:
            self._drain()

    def _drain(self) -> None:  # noqa: PLR0912 - the host's event loop: one branch per effect type a protocol core can emit
        backlog = self._backlog
        sim = self.sim
        while backlog and not self._syncing and self.status == "up":
            effect = backlog.popleft()
            kind = type(effect)
            if kind is Send:
                assert isinstance(effect, Send)
                self.network.send(self.address, effect.dst, effect.message)
            elif kind is SetTimer:
                assert isinstance(effect, SetTimer)
                old = self._timers.get(effect.key)
                if old is not None:
                    old.cancel()
                delay = self.clock.true_delay(effect.delay)
                self._timers[effect.key] = sim.timer(delay, self._timer_due, effect.key)
            elif kind is CancelTimer:
                assert isinstance(effect, CancelTimer)
                timer = self._timers.pop(effect.key, None)
                if timer is not None:
                    timer.cancel()
            elif kind is Sync:
                latency = self.fsync_latency.sample(self._rng)
                if latency <= 0:
                    self.disk.fsync()
                else:
                    self._syncing = True
                    sim.after(latency, self._sync_done, self.incarnation)
            elif kind is Reply:
                assert isinstance(effect, Reply)
                request = effect.request
                response = Response(request.id, effect.result)
                self.network.send(self.address, request.client, response)
            elif kind is Apply:
                assert isinstance(effect, Apply)
                self._record_apply(effect)
            elif kind is Note:
                assert isinstance(effect, Note)
                sim.record("note", node=self.address, text=effect.text)
            else:
                raise TypeError(f"{self.address}: unknown effect {effect!r}")

    def _sync_done(self, incarnation: int) -> None:
        if incarnation != self.incarnation or not self.running:
            return
        self.disk.fsync()
        self._syncing = False
        self._drain()

    def _record_apply(self, effect: Apply) -> None:
        known = self.applied.get(effect.index, _MISSING)
        if known is _MISSING:
            self.applied[effect.index] = effect.command
        elif known != effect.command:
            self.apply_conflicts.append((effect.index, known, effect.command))


_MISSING: Any = object()
