"""Transaction ids on a circle: PostgreSQL's 32-bit XID arithmetic (codex 4.3).

PostgreSQL numbers transactions with a 32-bit counter that wraps around. Ids 0, 1 and 2 are
special (invalid, bootstrap, frozen); normal ids start at 3, and after ``2^32 - 1`` the counter
goes back to 3. Two normal ids are ordered by their signed 32-bit difference,
``(int32)(a - b) < 0`` (``TransactionIdPrecedes`` in ``transam.c``): every id sees the
``2^31 - 1`` ids before it as the past and the ``2^31`` after it as the future. That is why a
tuple's ``xmin`` must be frozen before the counter moves ``2^31`` past it: after that, the
comparison would put a committed ancestor into the future and the row would vanish.

:class:`XidSpace` does this arithmetic for a space of ``bits`` bits: 32 is PostgreSQL's, and a
smaller space (say 16 bits, a horizon of 32,768) wraps the same way in a few thousand
transactions, which is how the freezing experiments finish in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID_XID = 0
BOOTSTRAP_XID = 1
FROZEN_XID = 2
FIRST_NORMAL_XID = 3


@dataclass(frozen=True, slots=True)
class XidSpace:
    """Modular arithmetic on transaction ids of ``bits`` bits (PostgreSQL: 32)."""

    bits: int = 32

    def __post_init__(self) -> None:
        if not 8 <= self.bits <= 32:
            raise ValueError(f"an XID space needs 8 to 32 bits, got {self.bits}")

    @property
    def modulus(self) -> int:
        return 1 << self.bits

    @property
    def max_xid(self) -> int:
        """The largest id (``MaxTransactionId``)."""
        return (1 << self.bits) - 1

    @property
    def horizon(self) -> int:
        """How far ahead the future reaches: ``2^(bits-1)`` (2^31 in PostgreSQL)."""
        return 1 << (self.bits - 1)

    @staticmethod
    def is_normal(xid: int) -> bool:
        return xid >= FIRST_NORMAL_XID

    def check(self, xid: int) -> int:
        if not 0 <= xid <= self.max_xid:
            raise ValueError(f"XID {xid} is outside a {self.bits}-bit space")
        return xid

    def precedes(self, a: int, b: int) -> bool:
        """``TransactionIdPrecedes``: is ``a`` logically before ``b``?

        Special ids compare as plain unsigned numbers (they are older than every normal id);
        two normal ids by the sign of their difference modulo ``2^bits``.
        """
        if a < FIRST_NORMAL_XID or b < FIRST_NORMAL_XID:
            return a < b
        return ((a - b) & self.max_xid) >= self.horizon

    def precedes_or_equals(self, a: int, b: int) -> bool:
        return a == b or self.precedes(a, b)

    def follows(self, a: int, b: int) -> bool:
        return self.precedes(b, a)

    def follows_or_equals(self, a: int, b: int) -> bool:
        return a == b or self.precedes(b, a)

    def advance(self, xid: int) -> int:
        """The id after ``xid`` (``TransactionIdAdvance``): wraps from the top to 3."""
        xid += 1
        if xid > self.max_xid:
            return FIRST_NORMAL_XID
        return xid

    def add(self, xid: int, delta: int) -> int:
        """``xid + delta`` on the circle, stepping over the special ids 0–2 either way.

        This is how ``varsup.c`` derives its limits (``oldest + 2^31 - 1``, ``wrap - 3M`` ...)
        and ``vacuum.c`` its cutoffs (``OldestXmin - vacuum_freeze_min_age``).
        """
        raw = xid + delta
        result = raw & self.max_xid
        if result < FIRST_NORMAL_XID:
            if delta >= 0:
                result += FIRST_NORMAL_XID
            else:
                result = (result - FIRST_NORMAL_XID) & self.max_xid
        return result

    def distance(self, older: int, newer: int) -> int:
        """How many ids ``newer`` is ahead of ``older`` (modulo the space), ``age()``-style.

        Special ids in between are not skipped, as in PostgreSQL's ``age()``.
        """
        return (newer - older) & self.max_xid

    def age(self, xid: int, next_xid: int) -> int:
        """``age(xid)``: ids consumed since ``xid``; frozen and special ids are infinitely old
        in PostgreSQL's eyes but have no age that matters here, so they report 0."""
        if not self.is_normal(xid):
            return 0
        return self.distance(xid, next_xid)

    def older(self, a: int, b: int) -> int:
        """The logically older of two ids."""
        return a if self.precedes(a, b) else b
