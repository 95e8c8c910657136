"""The knobs of the engine, with PostgreSQL's defaults, and a scaled-down XID space (codex 4.3).

Every age and margin is in transaction ids, as in ``postgresql.conf`` and ``varsup.c``:

========================================  ==============  ======================================
setting                                   PostgreSQL       what it does here
========================================  ==============  ======================================
``vacuum_freeze_min_age``                 50 million      vacuum freezes tuples older than this
``vacuum_freeze_table_age``               150 million     a vacuum past this age scans every
                                                          page that is not all-frozen
``autovacuum_freeze_max_age``             200 million     autovacuum forces an anti-wraparound
                                                          vacuum past this age
``xid_warn_margin``                       40 million      warnings when the distance to
                                                          wraparound is under this
``xid_stop_margin``                       3 million       no new XIDs within this distance
``autovacuum_vacuum_threshold``           50              autovacuum when dead tuples exceed
``autovacuum_vacuum_scale_factor``        0.2             threshold + scale factor × tuples
``autovacuum_vacuum_insert_threshold``    1000            ... or inserts since the last vacuum
``autovacuum_vacuum_insert_scale_factor`` 0.2             exceed threshold + factor × tuples
========================================  ==============  ======================================

:meth:`MvccSettings.scaled` keeps the proportions and shrinks the space: with ``xid_bits=16``
the wraparound horizon is 2^15 = 32,768 ids and every XID-valued setting above is divided by
2^16 (``autovacuum_freeze_max_age`` becomes 3,052, the stop margin 46), so a workload reaches
wraparound in tens of thousands of transactions instead of two billion. The arithmetic, the
thresholds and the order in which things happen are PostgreSQL's; only the unit is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from archlab.errors import ConfigError
from archlab.storage.mvcc.xid import FIRST_NORMAL_XID, XidSpace

#: Settings whose unit is transaction ids, scaled by :meth:`MvccSettings.scaled`.
XID_VALUED = (
    "vacuum_freeze_min_age",
    "vacuum_freeze_table_age",
    "autovacuum_freeze_max_age",
    "xid_warn_margin",
    "xid_stop_margin",
)


@dataclass(frozen=True)
class MvccSettings:
    """Engine configuration; the defaults are PostgreSQL's (see the module docstring)."""

    xid_bits: int = 32
    vacuum_freeze_min_age: int = 50_000_000
    vacuum_freeze_table_age: int = 150_000_000
    autovacuum_freeze_max_age: int = 200_000_000
    xid_warn_margin: int = 40_000_000
    xid_stop_margin: int = 3_000_000
    autovacuum: bool = True
    autovacuum_vacuum_threshold: int = 50
    autovacuum_vacuum_scale_factor: float = 0.2
    autovacuum_vacuum_insert_threshold: int = 1000
    autovacuum_vacuum_insert_scale_factor: float = 0.2
    #: Tuple slots per heap page (an 8 KiB page holds ~50-200 small tuples in PostgreSQL).
    tuples_per_page: int = 32
    page_bytes: int = 8192
    #: The first XID handed out (``pg_resetwal -x``); tests start near the top to cross 2^32.
    start_xid: int = FIRST_NORMAL_XID
    #: Refuse new XIDs near wraparound. Turning this off exists only to show the data loss
    #: the refusal prevents; PostgreSQL has no such switch.
    wraparound_protection: bool = True

    def __post_init__(self) -> None:
        space = XidSpace(self.xid_bits) if 8 <= self.xid_bits <= 32 else None
        if space is None:
            raise ConfigError(f"xid_bits must be between 8 and 32, got {self.xid_bits}")
        for name in XID_VALUED:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative number of XIDs, got {value!r}")
        if self.autovacuum_freeze_max_age < 1:
            raise ConfigError("autovacuum_freeze_max_age must be at least 1 XID")
        if self.xid_warn_margin < self.xid_stop_margin:
            raise ConfigError(
                f"xid_warn_margin ({self.xid_warn_margin}) must not be below xid_stop_margin "
                f"({self.xid_stop_margin})"
            )
        budget = space.horizon - self.xid_warn_margin
        if self.autovacuum_freeze_max_age >= budget:
            raise ConfigError(
                f"autovacuum_freeze_max_age {self.autovacuum_freeze_max_age} leaves no room "
                f"before the wraparound warnings of a {self.xid_bits}-bit space "
                f"(must be below {budget})"
            )
        if self.tuples_per_page < 1:
            raise ConfigError(f"tuples_per_page must be at least 1, got {self.tuples_per_page}")
        if not FIRST_NORMAL_XID <= self.start_xid <= space.max_xid:
            raise ConfigError(
                f"start_xid must be a normal XID of a {self.xid_bits}-bit space "
                f"(3 to {space.max_xid}), got {self.start_xid}"
            )

    @property
    def space(self) -> XidSpace:
        return XidSpace(self.xid_bits)

    @property
    def effective_freeze_min_age(self) -> int:
        """``vacuum_freeze_min_age`` clamped to half of ``autovacuum_freeze_max_age``, as
        ``vacuum_get_cutoffs`` does so that freezing happens well before it is forced."""
        return min(self.vacuum_freeze_min_age, self.autovacuum_freeze_max_age // 2)

    @property
    def effective_freeze_table_age(self) -> int:
        """``vacuum_freeze_table_age`` clamped to 95% of ``autovacuum_freeze_max_age``, so a
        regular vacuum turns aggressive before an anti-wraparound one is forced."""
        return min(self.vacuum_freeze_table_age, self.autovacuum_freeze_max_age * 95 // 100)

    @classmethod
    def scaled(cls, xid_bits: int, **overrides: Any) -> MvccSettings:
        """PostgreSQL's defaults in a ``xid_bits``-bit XID space.

        Each XID-valued default is multiplied by ``2^(xid_bits - 32)`` (and kept at least 1);
        ``overrides`` are applied afterwards, already in the scaled unit.
        """
        if not 8 <= xid_bits <= 32:
            raise ConfigError(f"xid_bits must be between 8 and 32, got {xid_bits}")
        base = cls()
        scaled = {name: max(1, getattr(base, name) >> (32 - xid_bits)) for name in XID_VALUED}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown MVCC setting(s): {', '.join(unknown)}")
        return replace(base, xid_bits=xid_bits, **{**scaled, **overrides})

    def scale_of(self, postgres_xids: int) -> int:
        """A PostgreSQL figure in XIDs expressed in this space's unit."""
        return max(1, postgres_xids >> (32 - self.xid_bits))
