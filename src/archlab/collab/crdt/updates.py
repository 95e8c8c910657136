"""What text-CRDT replicas exchange: runs, deletion ops, versions (codex 5.4).

Plain immutable data: :mod:`archlab.collab.crdt.text` produces and integrates them and
:mod:`archlab.collab.crdt.codec` turns them into bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.collab.crdt.runs import Id
from archlab.errors import ArchlabError


class UpdateError(ArchlabError):
    """An update that cannot be applied: malformed, or naming ids this document lacks."""


@dataclass(frozen=True)
class RunUpdate:
    """Inserted characters ``(replica, counter) ..``; ``text`` None for collected tombstones."""

    replica: int
    counter: int
    length: int
    text: str | None
    origin_left: Id | None
    origin_right: Id | None
    deleted: bool = False


@dataclass(frozen=True)
class DeleteOp:
    """The ``number``-th deletion by ``replica``: id ranges ``(replica, counter, length)``."""

    replica: int
    number: int
    ranges: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Update:
    """Runs and deletion ops; ``floors`` says (replica, n): deletions below n were collected
    and are carried only by the runs' ``deleted`` flags."""

    runs: tuple[RunUpdate, ...] = ()
    deletes: tuple[DeleteOp, ...] = ()
    floors: tuple[tuple[int, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.runs and not self.deletes


@dataclass
class Version:
    """What a replica has: inserted characters and deletion ops, per replica (contiguous)."""

    inserts: dict[int, int] = field(default_factory=dict)
    deletes: dict[int, int] = field(default_factory=dict)

    def copy(self) -> Version:
        return Version(dict(self.inserts), dict(self.deletes))

    def covers(self, other: Version) -> bool:
        return all(self.inserts.get(r, 0) >= n for r, n in other.inserts.items()) and all(
            self.deletes.get(r, 0) >= n for r, n in other.deletes.items()
        )


def check_complete(update: Update, have: Version) -> None:
    """Refuse an update whose dependencies are neither in ``have`` nor in the update itself."""
    inserts = dict(have.inserts)
    deletes = dict(have.deletes)
    for u in sorted(update.runs, key=lambda x: (x.replica, x.counter)):
        if u.counter > inserts.get(u.replica, 0):
            raise UpdateError(
                f"run {u.replica}:{u.counter} skips ids from "
                f"{u.replica}:{inserts.get(u.replica, 0)}"
            )
        inserts[u.replica] = max(inserts.get(u.replica, 0), u.counter + u.length)
    for u in update.runs:
        for origin in (u.origin_left, u.origin_right):
            if origin is not None and origin[1] >= inserts.get(origin[0], 0):
                raise UpdateError(
                    f"run {u.replica}:{u.counter} names unknown origin {origin[0]}:{origin[1]}"
                )
    for replica, floor in update.floors:
        deletes[replica] = max(deletes.get(replica, 0), floor)
    for op in sorted(update.deletes, key=lambda d: (d.replica, d.number)):
        if op.number > deletes.get(op.replica, 0):
            raise UpdateError(f"delete {op.replica}#{op.number} skips earlier deletes")
        deletes[op.replica] = max(deletes.get(op.replica, 0), op.number + 1)
        for r, c, n in op.ranges:
            if c + n > inserts.get(r, 0):
                raise UpdateError(f"delete {op.replica}#{op.number} names unknown id {r}:{c}")


def run_tail(u: RunUpdate, skip: int) -> RunUpdate:
    """``u`` without its first ``skip`` characters (the rest, left origin the last one skipped)."""
    return RunUpdate(
        u.replica,
        u.counter + skip,
        u.length - skip,
        None if u.text is None else u.text[skip:],
        (u.replica, u.counter + skip - 1),
        u.origin_right,
        u.deleted,
    )
