"""What Multi-Paxos's and Zab's storages on the simulator's disk share (codex 5.3).

Both keep their durable state in checksummed files on a :class:`~archlab.sim.disk.Disk` and
serve reads from an in-memory mirror that ``open`` rebuilds from those files. Both also rely on
a *member mark*: a file written once, when the cluster is created (:meth:`DiskMirror.bootstrap`).
A disk without it was wiped, so what its node promised or acknowledged is forgotten, and the
node must rejoin without a vote (Multi-Paxos's learner, Zab's observer): :attr:`DiskMirror.voter`.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from archlab.sim.records import Files, RecordLog, write_state

M = TypeVar("M")


class DiskMirror(Generic[M]):
    """A storage over ``disk``: its ``mirror`` (of type ``M``), its record ``log``, its mark."""

    #: The member mark's file name.
    member_file: ClassVar[str]

    def __init__(self, disk: Files, mirror: M, log: RecordLog) -> None:
        self.disk = disk
        self._mirror = mirror
        self._log = log
        #: Whether this disk has held the node's state since the cluster was created (a wiped
        #: one has not: its promises and acknowledgements are forgotten).
        self.voter = disk.exists(self.member_file)

    @classmethod
    def bootstrap(cls, disk: Files) -> None:
        """Mark a founding member's disk (see :attr:`voter`)."""
        write_state(disk, cls.member_file, {"voter": True})
