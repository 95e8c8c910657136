"""The heap: fixed-size pages of tuple-version slots, a free space map and a visibility map
(codex 4.3).

Every version of every row takes a slot until vacuum removes it, so dead versions make the heap
(and every sequential scan) bigger: that is bloat. The pieces mirror PostgreSQL's:

* pages of ``tuples_per_page`` slots; a table's size is its page count;
* a free space map: inserts go to the page of the version they replace when it has room (as a
  heap update does), otherwise to the lowest page with a free slot, otherwise to a new page at
  the end. Vacuum's removals put pages back in the map, so space is reused rather than returned;
  only empty pages at the very end are cut off (``lazy_truncate_heap``);
* a visibility map: two bits per page, *all-visible* (every tuple is visible to every
  snapshot) and *all-frozen* (every tuple is also frozen). Any change to a page clears both.
  A regular vacuum skips all-visible pages; an aggressive one reads every page not all-frozen.

Counters record page reads and writes so experiments can report vacuum's I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from archlab.storage.mvcc.heaptuple import Tid, TupleVersion


class Page:
    __slots__ = ("all_frozen", "all_visible", "slots", "used")

    def __init__(self, capacity: int) -> None:
        self.slots: list[TupleVersion | None] = [None] * capacity
        self.used = 0
        self.all_visible = False
        self.all_frozen = False

    @property
    def capacity(self) -> int:
        return len(self.slots)

    def clear_visibility(self) -> None:
        self.all_visible = False
        self.all_frozen = False


class Heap:
    """A growable list of pages with slot allocation through a free space map."""

    def __init__(self, tuples_per_page: int) -> None:
        if tuples_per_page < 1:
            raise ValueError("a page needs at least one slot")
        self.tuples_per_page = tuples_per_page
        self.pages: list[Page] = []
        self._free: list[int] = []  # min-heap of page numbers that may have a free slot
        self._in_free: set[int] = set()
        self.tuple_count = 0

    def __len__(self) -> int:
        return len(self.pages)

    def fetch(self, tid: Tid) -> TupleVersion:
        tup = self.pages[tid[0]].slots[tid[1]]
        if tup is None:
            raise KeyError(f"no tuple at {tid}")
        return tup

    def insert(self, tup: TupleVersion, near: int | None = None) -> Tid:
        """Place ``tup`` on page ``near`` if it has room, else where the free space map says."""
        page_no = near if near is not None and self._has_room(near) else self._page_with_room()
        page = self.pages[page_no]
        slot = page.slots.index(None)
        page.slots[slot] = tup
        page.used += 1
        page.clear_visibility()
        self.tuple_count += 1
        return page_no, slot

    def remove(self, tid: Tid) -> None:
        page = self.pages[tid[0]]
        if page.slots[tid[1]] is None:
            raise KeyError(f"no tuple at {tid}")
        page.slots[tid[1]] = None
        page.used -= 1
        self.tuple_count -= 1
        page.clear_visibility()
        if tid[0] not in self._in_free:
            self._in_free.add(tid[0])
            heapq.heappush(self._free, tid[0])

    def truncate(self) -> int:
        """Cut empty pages off the end of the heap; returns how many."""
        cut = 0
        while self.pages and self.pages[-1].used == 0:
            self.pages.pop()
            cut += 1
        return cut

    def tuples(self) -> Iterator[tuple[Tid, TupleVersion]]:
        for page_no, page in enumerate(self.pages):
            for slot, tup in enumerate(page.slots):
                if tup is not None:
                    yield (page_no, slot), tup

    def _has_room(self, page_no: int) -> bool:
        return page_no < len(self.pages) and self.pages[page_no].used < self.tuples_per_page

    def _page_with_room(self) -> int:
        # ``_in_free`` holds exactly the page numbers present in ``_free``; entries go stale
        # (page filled up or truncated away) and are dropped when they reach the top.
        while self._free:
            page_no = self._free[0]
            if self._has_room(page_no):
                return page_no
            heapq.heappop(self._free)
            self._in_free.discard(page_no)
        self.pages.append(Page(self.tuples_per_page))
        page_no = len(self.pages) - 1
        if page_no not in self._in_free:
            self._in_free.add(page_no)
            heapq.heappush(self._free, page_no)
        return page_no
