"""A tuple version: one row's value as one transaction wrote it (codex 4.3).

PostgreSQL never updates a row in place. An UPDATE writes a new version and stamps the old one's
``xmax`` with the updater's XID; a DELETE only stamps ``xmax``. The header fields kept here are
the ones visibility, locking, vacuum and freezing read:

* ``xmin``: the XID that created the version; ``frozen`` says it has been frozen (PostgreSQL
  sets ``HEAP_XMIN_FROZEN`` and keeps the id for forensics, as here), after which it is
  committed and older than every snapshot, whatever the counter says.
* ``xmax``: the XID that deleted or superseded it, or that merely locked it
  (``lock_only``, ``HEAP_XMAX_LOCK_ONLY``: ``SELECT ... FOR UPDATE``); 0 when none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archlab.storage.mvcc.xid import INVALID_XID

#: Where a version lives: (page number, slot number), PostgreSQL's ctid.
Tid = tuple[int, int]


@dataclass(slots=True)
class TupleVersion:
    key: str
    value: Any
    xmin: int
    xmax: int = INVALID_XID
    lock_only: bool = False
    frozen: bool = False

    def __repr__(self) -> str:
        xmin = f"{self.xmin}{'F' if self.frozen else ''}"
        xmax = f"{self.xmax}{'L' if self.lock_only else ''}" if self.xmax else "-"
        return f"<{self.key}={self.value!r} xmin={xmin} xmax={xmax}>"
