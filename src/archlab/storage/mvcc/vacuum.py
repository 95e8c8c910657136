"""Lazy vacuum: remove what no snapshot can see, freeze what is old, advance relfrozenxid
(codex 4.3).

One pass over a table, as ``vacuumlazy.c`` does it:

1. The *horizon* (``OldestXmin``) is the oldest XID any running transaction might still
   treat as running: its own XID or the xmin of the snapshot it holds. The *freeze limit*
   (``FreezeLimit``) is ``horizon - vacuum_freeze_min_age``.
2. Pages are read in order. A regular vacuum skips runs of at least 32 all-visible pages
   (``SKIP_PAGES_THRESHOLD``); an *aggressive* vacuum (table older than
   ``vacuum_freeze_table_age``, or an anti-wraparound autovacuum) skips only all-frozen ones.
3. On each page read, every version is classified by :func:`satisfies_vacuum`: DEAD versions
   (deleter committed before the horizon, or creator aborted) are removed with their index
   entries; RECENTLY_DEAD ones are kept, because some snapshot may still need them. Committed
   creators older than the freeze limit are frozen; lock-only and aborted ``xmax`` older than
   it are cleared. A page whose versions are all visible to everyone is marked all-visible,
   and all-frozen when they are also frozen.
4. Empty pages at the end of the heap are truncated away.
5. If every page that is not all-frozen was read, ``relfrozenxid`` advances to the oldest XID
   still present unfrozen (bounded by the horizon), as in PostgreSQL 16.

A page counts as *dirtied* when anything on it changed (a removal, a freeze, a visibility-map
bit set); that and *pages read* are the vacuum's I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.storage.mvcc.clog import XidStatus
from archlab.storage.mvcc.heaptuple import Tid
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.table import Table
from archlab.storage.mvcc.visibility import StatusOf, TupleState, satisfies_vacuum

#: ``SKIP_PAGES_THRESHOLD``: only runs of this many skippable pages are skipped.
SKIP_PAGES_THRESHOLD = 32


@dataclass(frozen=True)
class VacuumReport:
    """What one vacuum of one table did (``VACUUM VERBOSE``'s numbers)."""

    table: str
    reason: str
    aggressive: bool
    horizon: int
    freeze_limit: int
    pages_before: int
    pages_read: int
    pages_skipped_all_visible: int
    pages_skipped_all_frozen: int
    pages_dirtied: int
    pages_truncated: int
    tuples_removed: int
    tuples_recently_dead: int
    tuples_live: int
    tuples_frozen: int
    index_entries_removed: int
    relfrozenxid_before: int
    relfrozenxid_after: int

    @property
    def advanced_relfrozenxid(self) -> bool:
        return self.relfrozenxid_after != self.relfrozenxid_before


def vacuum_table(  # noqa: PLR0912, PLR0915 - lazy vacuum's phases (scan, prune, freeze, truncate) in the order PostgreSQL runs them
    table: Table,
    *,
    horizon: int,
    status: StatusOf,
    settings: MvccSettings,
    aggressive: bool,
    freeze_min_age: int | None = None,
    reason: str = "manual",
) -> VacuumReport:
    """Vacuum ``table`` once (see the module docstring); returns what it did."""
    space = settings.space
    min_age = settings.effective_freeze_min_age if freeze_min_age is None else freeze_min_age
    freeze_limit = space.add(horizon, -min_age)
    mask, half = space.max_xid, space.horizon
    heap = table.heap
    pages = heap.pages
    pages_before = len(pages)
    read = skipped_visible = skipped_frozen = dirtied = 0
    removed = recently_dead = live = frozen = 0
    oldest_unfrozen = horizon
    missed_unfrozen = False  # skipped a page that may hold unfrozen XIDs
    dead: dict[str, set[Tid]] = {}
    page_no = 0
    while page_no < pages_before:
        run_end = page_no
        while run_end < pages_before and (
            pages[run_end].all_frozen if aggressive else pages[run_end].all_visible
        ):
            run_end += 1
        if run_end - page_no >= SKIP_PAGES_THRESHOLD:
            for skipped in pages[page_no:run_end]:
                live += skipped.used
                if skipped.all_frozen:
                    skipped_frozen += 1
                else:
                    skipped_visible += 1
                    missed_unfrozen = True
            page_no = run_end
            continue
        page = pages[page_no]
        read += 1
        changed = False
        all_visible = all_frozen = True
        for slot, tup in enumerate(page.slots):
            if tup is None:
                continue
            state = satisfies_vacuum(tup, horizon, status, space)
            if state is TupleState.DEAD:
                heap.remove((page_no, slot))
                dead.setdefault(tup.key, set()).add((page_no, slot))
                removed += 1
                changed = True
                continue
            if state is TupleState.RECENTLY_DEAD:
                recently_dead += 1
            elif state is not TupleState.INSERT_IN_PROGRESS:
                live += 1
            # (a - b) & mask >= half is TransactionIdPrecedes(a, b) for the normal XIDs stored
            # in tuples, inlined: this loop runs once per tuple of every page read
            xmin, xmax = tup.xmin, tup.xmax
            if (
                not tup.frozen
                and state is not TupleState.INSERT_IN_PROGRESS
                and ((xmin - freeze_limit) & mask) >= half
            ):
                tup.frozen = True
                frozen += 1
                changed = True
            if xmax and ((xmax - freeze_limit) & mask) >= half:
                fate = status(xmax)
                if fate is not XidStatus.IN_PROGRESS and (
                    tup.lock_only or fate is XidStatus.ABORTED
                ):
                    tup.xmax = xmax = 0
                    tup.lock_only = False
                    changed = True
            if not tup.frozen and ((xmin - oldest_unfrozen) & mask) >= half:
                oldest_unfrozen = xmin
            if xmax and ((xmax - oldest_unfrozen) & mask) >= half:
                oldest_unfrozen = xmax
            visible_to_all = state is TupleState.LIVE and (
                tup.frozen or ((xmin - horizon) & mask) >= half
            )
            if not visible_to_all:
                all_visible = all_frozen = False
            elif not tup.frozen or xmax:
                all_frozen = False
        if all_visible and not page.all_visible:
            page.all_visible = True
            changed = True
        if all_frozen and all_visible and not page.all_frozen:
            page.all_frozen = True
            changed = True
        dirtied += changed
        page_no += 1
    index_removed = 0
    for key, tids in dead.items():
        table.drop_versions(key, tids)
        index_removed += len(tids)
    truncated = heap.truncate()
    before = table.relfrozenxid
    if not missed_unfrozen and space.follows(oldest_unfrozen, table.relfrozenxid):
        table.relfrozenxid = oldest_unfrozen
    table.n_dead_tup = recently_dead
    table.n_live_tup = live
    table.reltuples = float(live)
    table.inserts_since_vacuum = 0
    return VacuumReport(
        table=table.name,
        reason=reason,
        aggressive=aggressive,
        horizon=horizon,
        freeze_limit=freeze_limit,
        pages_before=pages_before,
        pages_read=read,
        pages_skipped_all_visible=skipped_visible,
        pages_skipped_all_frozen=skipped_frozen,
        pages_dirtied=dirtied,
        pages_truncated=truncated,
        tuples_removed=removed,
        tuples_recently_dead=recently_dead,
        tuples_live=live,
        tuples_frozen=frozen,
        index_entries_removed=index_removed,
        relfrozenxid_before=before,
        relfrozenxid_after=table.relfrozenxid,
    )
