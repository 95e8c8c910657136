"""Checking Zab's ordering properties on what replicas delivered (codex 5.3).

The properties of Junqueira, Reed and Serafini (DSN 2011), on a record of two kinds of events in
real-time order — a primary *broadcasting* a transaction (proposing it), and a replica
*delivering* one (applying it to its state machine) at a position of its history:

- **agreement** (total order): replicas deliver the same transaction at every position, and a
  replica never delivers two different ones at one position (a replica re-delivering its prefix
  after a restart is fine);
- **local primary order**: a replica delivers a primary's transactions in the order it
  broadcast them, without gaps: ⟨e, c⟩ only right after ⟨e, c − 1⟩;
- **global primary order**: a replica delivers the transactions of an earlier primary before
  those of a later one (its delivered zxids increase);
- **primary integrity**: a primary delivers every transaction of an earlier epoch that any
  replica delivers before it broadcasts its first transaction — the property that needs
  synchronization (a new primary that proposes before installing its history breaks it).

:class:`OrderChecker` is fed events as they happen (``broadcast``, ``deliver``) and answers with
:meth:`OrderChecker.violations`. ``time`` orders events; equal times keep the order of the calls.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from archlab.consensus.zab.types import Zxid

PROPERTIES = ("agreement", "local primary order", "global primary order", "primary integrity")


@dataclass(frozen=True, slots=True)
class OrderViolation:
    property: str
    detail: str

    def __str__(self) -> str:
        return f"{self.property}: {self.detail}"


@dataclass
class _Replica:
    #: position -> zxid delivered there.
    delivered: dict[int, Zxid] = field(default_factory=dict)
    #: zxid -> sequence number of the (first) delivery.
    when: dict[Zxid, int] = field(default_factory=dict)
    last: Zxid = field(default_factory=Zxid)


class OrderChecker:
    """Incremental checker of the properties in the module docstring."""

    def __init__(self) -> None:
        self._replicas: dict[Hashable, _Replica] = {}
        self._by_position: dict[int, tuple[Hashable, Zxid]] = {}
        #: (primary, epoch) -> sequence number of its first broadcast in that epoch.
        self._first_broadcast: dict[tuple[Hashable, int], int] = {}
        self._events = 0
        self._violations: list[OrderViolation] = []
        self.deliveries = 0
        self.broadcasts = 0

    def _replica(self, node: Hashable) -> _Replica:
        return self._replicas.setdefault(node, _Replica())

    def _violate(self, prop: str, detail: str) -> None:
        self._violations.append(OrderViolation(prop, detail))

    def broadcast(self, node: Hashable, zxid: Zxid) -> None:
        """``node``, primary of ``zxid.epoch``, proposed ``zxid``."""
        self._events += 1
        self.broadcasts += 1
        self._first_broadcast.setdefault((node, zxid.epoch), self._events)

    def installed(self, node: Hashable, segments: tuple[tuple[int, int], ...]) -> None:
        """``node`` installed a snapshot of the history summed up by ``segments`` (a restart
        from its own snapshot, or a snapshot from the leader): it delivered all of it at once."""
        self._events += 1
        replica = self._replica(node)
        position = 0
        for epoch, last in segments:
            for counter in range(1, last + 1):
                position += 1
                zxid = Zxid(epoch, counter)
                known = replica.delivered.get(position)
                if known is not None and known != zxid:
                    self._violate(
                        "agreement",
                        f"{node} installed {zxid} at position {position} after delivering {known}",
                    )
                first = self._by_position.setdefault(position, (node, zxid))
                if first[1] != zxid:
                    self._violate(
                        "agreement",
                        f"{first[0]} delivered {first[1]} at position {position}, {node} "
                        f"installed {zxid}",
                    )
                replica.delivered[position] = zxid
                replica.when.setdefault(zxid, self._events)
        if segments:
            replica.last = Zxid(*segments[-1])

    def restarted(self, node: Hashable, position: int) -> None:
        """``node`` restarted from a state that reflects its first ``position`` deliveries: it
        will deliver from ``position + 1`` again (the same transactions, if all is well)."""
        replica = self._replica(node)
        replica.last = replica.delivered.get(position, Zxid()) if position else Zxid()

    def deliver(self, node: Hashable, position: int, zxid: Zxid) -> None:
        self._events += 1
        self.deliveries += 1
        replica = self._replica(node)
        known = replica.delivered.get(position)
        if known is not None:
            if known != zxid:
                self._violate(
                    "agreement",
                    f"{node} delivered {zxid} at position {position} after delivering {known}",
                )
            replica.last = max(replica.last, zxid)
            return
        first = self._by_position.setdefault(position, (node, zxid))
        if first[1] != zxid:
            self._violate(
                "agreement",
                f"{first[0]} delivered {first[1]} at position {position}, {node} delivered {zxid}",
            )
        if zxid <= replica.last:
            self._violate("global primary order", f"{node} delivered {zxid} after {replica.last}")
        elif zxid.counter > 1 and Zxid(zxid.epoch, zxid.counter - 1) not in replica.when:
            self._violate(
                "local primary order",
                f"{node} delivered {zxid} without ⟨{zxid.epoch},{zxid.counter - 1}⟩ before it",
            )
        replica.delivered[position] = zxid
        replica.when.setdefault(zxid, self._events)
        replica.last = max(replica.last, zxid)

    def violations(self) -> list[OrderViolation]:
        """Every violation so far, primary integrity included (checked over the whole record)."""
        found = list(self._violations)
        delivered_anywhere: dict[Zxid, Hashable] = {}
        for node, replica in self._replicas.items():
            for zxid in replica.when:
                delivered_anywhere.setdefault(zxid, node)
        for (primary, epoch), first in sorted(self._first_broadcast.items(), key=lambda kv: kv[1]):
            own = self._replicas.get(primary, _Replica()).when
            for zxid, node in sorted(delivered_anywhere.items()):
                if zxid.epoch >= epoch:
                    break
                when = own.get(zxid)
                if when is None or when > first:
                    found.append(
                        OrderViolation(
                            "primary integrity",
                            f"{node} delivered {zxid}, but {primary} broadcast in epoch {epoch} "
                            f"before delivering it",
                        )
                    )
                    break
        return found
