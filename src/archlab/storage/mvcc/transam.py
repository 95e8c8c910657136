"""The XID counter and its wraparound limits, as ``varsup.c`` computes and enforces them
(codex 4.3).

``SetTransactionIdLimit`` derives four limits from ``datfrozenxid``, the oldest XID that may
still be unfrozen anywhere (here: the oldest ``relfrozenxid`` of all tables):

* wrap limit = ``datfrozenxid + 2^31 - 1``: at that point the oldest unfrozen XID would turn
  from past into future;
* stop limit = wrap limit − 3 million: ``GetNewTransactionId`` refuses to assign XIDs from here
  ("database is not accepting commands that assign new transaction IDs to avoid wraparound
  data loss");
* warn limit = wrap limit − 40 million: every assignment past it warns "database must be
  vacuumed within N transactions";
* vacuum limit = ``datfrozenxid + autovacuum_freeze_max_age``: past it, autovacuum is asked for
  anti-wraparound vacuums even when it is disabled.

Only vacuum moves ``datfrozenxid`` forward (by freezing), and vacuum needs no XID of its own, so
a refusing database can always be rescued by a vacuum, provided nothing holds back its horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.storage.mvcc.errors import WraparoundRefusal
from archlab.storage.mvcc.settings import MvccSettings


@dataclass(frozen=True)
class XidLimits:
    oldest_frozen: int
    vac_limit: int
    warn_limit: int
    stop_limit: int
    wrap_limit: int


class XidCounter:
    """Hands out XIDs in order, wrapping around, and enforces the wraparound limits."""

    def __init__(self, settings: MvccSettings) -> None:
        self.settings = settings
        self.space = settings.space
        self.next_xid = settings.start_xid
        self.assigned = 0
        self.warnings = 0
        self.refusals = 0
        self.last_warning = ""
        self.wraparound_vacuum_requested = False
        self.limits = self.compute_limits(self.next_xid)

    def compute_limits(self, oldest_frozen: int) -> XidLimits:
        space, s = self.space, self.settings
        wrap = space.add(oldest_frozen, space.max_xid >> 1)
        return XidLimits(
            oldest_frozen=oldest_frozen,
            vac_limit=space.add(oldest_frozen, s.autovacuum_freeze_max_age),
            warn_limit=space.add(wrap, -s.xid_warn_margin),
            stop_limit=space.add(wrap, -s.xid_stop_margin),
            wrap_limit=wrap,
        )

    def set_oldest_frozen(self, oldest_frozen: int) -> None:
        """``SetTransactionIdLimit``: recompute the limits after vacuum advanced it."""
        self.limits = self.compute_limits(oldest_frozen)
        if self.space.precedes(self.next_xid, self.limits.vac_limit):
            self.wraparound_vacuum_requested = False

    def remaining(self) -> int:
        """XIDs left before the wrap limit (``xidWrapLimit - xid``)."""
        return self.space.distance(self.next_xid, self.limits.wrap_limit)

    def refusing(self) -> bool:
        """Would the next assignment be refused?"""
        return self.settings.wraparound_protection and self.space.follows_or_equals(
            self.next_xid, self.limits.stop_limit
        )

    def assign(self) -> int:
        """``GetNewTransactionId``: the next XID, or :class:`WraparoundRefusal`."""
        xid = self.next_xid
        space, limits = self.space, self.limits
        if space.follows_or_equals(xid, limits.vac_limit):
            self.wraparound_vacuum_requested = True
            if self.settings.wraparound_protection:
                left = space.distance(xid, limits.wrap_limit)
                if space.follows_or_equals(xid, limits.stop_limit):
                    self.refusals += 1
                    raise WraparoundRefusal(
                        "database is not accepting commands that assign new transaction IDs "
                        f"to avoid wraparound data loss ({left} XIDs before wraparound; "
                        "vacuum must freeze old tuples)"
                    )
                if space.follows_or_equals(xid, limits.warn_limit):
                    self.warnings += 1
                    self.last_warning = f"database must be vacuumed within {left} transactions"
        self.next_xid = space.advance(xid)
        self.assigned += 1
        return xid
