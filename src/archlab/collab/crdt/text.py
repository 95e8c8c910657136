"""A text sequence CRDT with Fugue's ordering, run-length items and tombstones (codex 5.4).

Which algorithm and why: **Fugue** (Weidner & Kleppmann), in its *FugueMax* form, integrated
with the YATA/Yjs machinery of left and right origins. Each inserted character names the
character to its left and the one to its right when it was typed (its *origins*); a remote
character is placed between its origins, and among concurrent characters with the same left
origin the rule below decides. Plain YATA (Yjs) can interleave concurrent insertions in some
backward-typing cases; the Fugue paper shows this variant of the rule ("YjsMod") is
equivalent to FugueMax, which never interleaves two concurrently typed runs: typing "abc"
and "xyz" at the same place gives "abcxyz" or "xyzabc", never "axbycz". The paper's rule and
proof are summarised in docs/references.md §5.4.

Ids are ``(replica, counter)``; a replica's counter grows by one per character it inserts.
Deleting keeps the character as a tombstone (other replicas may still name it as an origin).
Deletions carry their own per-replica counters (``(replica, n)`` for the n-th delete op), so a
version vector over deletions says which deletions a peer has seen; :meth:`TextDoc.collect`
drops a tombstone's content once every replica has seen the deletion (Yjs keeps the id and
length, not the text) and merges adjacent collected runs of one replica.

Updates are plain data (:class:`Update`); :mod:`archlab.collab.crdt.codec` turns them into
bytes. The document never does I/O.
"""

from __future__ import annotations

from bisect import bisect_right

from archlab.collab.crdt.runs import Id, Run, RunTree
from archlab.collab.crdt.updates import (
    DeleteOp,
    RunUpdate,
    Update,
    UpdateError,
    Version,
    check_complete,
    run_tail,
)

__all__ = ["DeleteOp", "RunUpdate", "TextDoc", "Update", "UpdateError", "Version"]


class TextDoc:
    """One replica's copy of a shared text."""

    def __init__(self, replica: int) -> None:
        if replica < 0:
            raise ValueError(f"replica id must be non-negative, got {replica}")
        self.replica = replica
        self.tree = RunTree()
        self.version = Version()
        self._starts: dict[int, list[int]] = {}  # replica -> sorted run start counters
        self._by_start: dict[int, list[Run]] = {}
        self._delete_log: dict[int, list[DeleteOp]] = {}
        self._delete_floor: dict[int, int] = {}  # replica -> number of its first logged op
        self._pending: list[RunUpdate | DeleteOp] = []
        self._floors: list[tuple[int, int]] = []
        self.collected = 0  # tombstoned characters whose content was dropped

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.tree.visible

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.tree if not r.deleted and r.text is not None)

    @property
    def run_count(self) -> int:
        return sum(len(v) for v in self._by_start.values())

    @property
    def tombstones(self) -> int:
        return self.tree.total - self.tree.visible

    @property
    def pending(self) -> int:
        return len(self._pending)

    def id_at(self, position: int) -> Id:
        run, offset = self.tree.find_visible(position)
        return (run.replica, run.counter + offset)

    def position_of_id(self, ident: Id) -> int | None:
        """The visible position of a character, or None if it is deleted (for cursors)."""
        run, offset = self._locate(ident)
        if run.deleted:
            return None
        return self.tree.visible_before(run) + offset

    # -- local edits -------------------------------------------------------------------------

    def insert(self, position: int, text: str) -> Update:
        """Insert ``text`` before visible ``position``; returns the update to send to peers."""
        if not text:
            return Update()
        if not 0 <= position <= len(self):
            raise IndexError(f"insert at {position} outside 0..{len(self)}")
        if position == 0:
            left_run: Run | None = None
            left: Id | None = None
            right_run = next(iter(self.tree), None)
        else:
            left_run, offset = self.tree.find_visible(position - 1)
            left = (left_run.replica, left_run.counter + offset)
            if offset < left_run.length - 1:
                right_run = self.tree.split(left_run, offset + 1)
                self._index_add(right_run)
            else:
                right_run = self.tree.next_run(left_run)
        right = None if right_run is None else (right_run.replica, right_run.counter)
        counter = self.version.inserts.get(self.replica, 0)
        update = RunUpdate(self.replica, counter, len(text), text, left, right)
        if (
            left_run is not None
            and left_run.replica == self.replica
            and not left_run.deleted
            and left_run.text is not None
            and left_run.counter + left_run.length == counter
            and left_run.origin_right == right
        ):
            left_run.text += text  # typing on: extend the run
            left_run.length += len(text)
            self.tree.adjust(left_run, len(text), len(text))
        else:
            run = Run(self.replica, counter, text, len(text), left, right)
            self.tree.insert_after(left_run, run)
            self._index_add(run)
        self.version.inserts[self.replica] = counter + len(text)
        return Update(runs=(update,))

    def delete(self, position: int, length: int = 1) -> Update:
        """Delete ``length`` visible characters from ``position``; returns the update."""
        if length <= 0:
            return Update()
        if position < 0 or position + length > len(self):
            raise IndexError(f"delete {position}..{position + length} outside 0..{len(self)}")
        ranges: list[tuple[int, int, int]] = []
        remaining = length
        run, offset = self.tree.find_visible(position)
        while remaining:
            if offset:
                run = self.tree.split(run, offset)
                self._index_add(run)
                offset = 0
            if run.deleted:
                nxt = self.tree.next_run(run)
                assert nxt is not None
                run = nxt
                continue
            if run.length > remaining:
                self._index_add(self.tree.split(run, remaining))
            self._mark_deleted(run)
            ranges.append((run.replica, run.counter, run.length))
            remaining -= run.length
            if remaining:
                nxt = self.tree.next_run(run)
                assert nxt is not None
                run = nxt
        number = self.version.deletes.get(self.replica, 0)
        op = DeleteOp(self.replica, number, tuple(ranges))
        self._record_delete(op)
        return Update(deletes=(op,))

    # -- sync --------------------------------------------------------------------------------

    def update_since(self, version: Version | None = None) -> Update:
        """Everything this replica has that a peer at ``version`` lacks (all, if None)."""
        have = version or Version()
        runs: list[RunUpdate] = []
        for replica, starts in self._starts.items():
            known = have.inserts.get(replica, 0)
            index = max(0, bisect_right(starts, known) - 1)
            for run in self._by_start[replica][index:]:
                skip = max(0, known - run.counter)
                if skip >= run.length:
                    continue
                runs.append(_run_update(run, skip))
        runs.sort(key=lambda u: (u.replica, u.counter))
        deletes: list[DeleteOp] = []
        floors: list[tuple[int, int]] = []
        for replica, log in self._delete_log.items():
            floor = self._delete_floor.get(replica, 0)
            known = have.deletes.get(replica, 0)
            if known < floor:
                floors.append((replica, floor))
            deletes += log[max(0, known - floor) :]
        return Update(tuple(runs), tuple(deletes), tuple(floors))

    def apply(self, update: Update, *, strict: bool = False) -> None:
        """Integrate a peer's update. Parts whose dependencies are missing wait (or, with
        ``strict``, the whole update is refused before anything changes)."""
        if strict:
            check_complete(update, self.version)
        self._pending.extend(update.runs)
        self._pending.extend(update.deletes)
        self._floors.extend(update.floors)
        progress = True
        while progress and self._pending:
            progress = False
            waiting: list[RunUpdate | DeleteOp] = []
            for item in sorted(self._pending, key=_causal_key):
                if isinstance(item, RunUpdate):
                    done = self._integrate_run(item)
                else:
                    done = self._integrate_delete(item)
                if done:
                    progress = True
                else:
                    waiting.append(item)
            self._pending = waiting
            progress = self._raise_floors() or progress

    def _raise_floors(self) -> bool:
        """Adopt a peer's collected-deletion floor once the runs it covers are here."""
        if not self._floors or any(isinstance(p, RunUpdate) for p in self._pending):
            return False
        raised = False
        for replica, floor in self._floors:
            if floor > self.version.deletes.get(replica, 0):
                self.version.deletes[replica] = floor
                self._delete_floor[replica] = floor
                self._delete_log[replica] = []
                raised = True
        self._floors = []
        return raised

    # -- tombstone collection ----------------------------------------------------------------

    def collect(self, seen_by_all: Version) -> int:
        """Drop the content of tombstones whose deletion every replica has seen.

        ``seen_by_all`` is the meet of every replica's version (the deletions all have).
        Returns the number of characters whose content was dropped.
        """
        dropped = 0
        stable: dict[int, list[tuple[int, int]]] = {}
        for replica, log in self._delete_log.items():
            floor = self._delete_floor.get(replica, 0)
            cut = max(0, min(len(log), seen_by_all.deletes.get(replica, 0) - floor))
            for op in log[:cut]:
                for r, c, n in op.ranges:
                    stable.setdefault(r, []).append((c, c + n))
            self._delete_log[replica] = log[cut:]
            self._delete_floor[replica] = floor + cut
        for replica, spans in stable.items():
            merged = _merge_spans(spans)
            starts = [a for a, _ in merged]
            for run in self._by_start.get(replica, []):
                if not run.deleted or run.text is None:
                    continue
                index = bisect_right(starts, run.counter) - 1
                if index >= 0 and run.counter + run.length <= merged[index][1]:
                    dropped += run.length
                    run.text = None
        self.collected += dropped
        self._merge_collected()
        return dropped

    def _merge_collected(self) -> None:
        for replica, runs in self._by_start.items():
            kept: list[Run] = []
            for run in runs:
                prev = kept[-1] if kept else None
                if (
                    prev is not None
                    and prev.text is None
                    and run.text is None
                    and prev.counter + prev.length == run.counter
                    and run.origin_left == prev.last_id
                    and run.origin_right == prev.origin_right
                    and self.tree.next_run(prev) is run
                ):
                    self.tree.remove(run)
                    prev.length += run.length
                    self.tree.adjust(prev, 0, run.length)
                    continue
                kept.append(run)
            self._by_start[replica] = kept
            self._starts[replica] = [r.counter for r in kept]

    # -- internals ---------------------------------------------------------------------------

    def _record_delete(self, op: DeleteOp) -> None:
        self._delete_log.setdefault(op.replica, []).append(op)
        self._delete_floor.setdefault(op.replica, op.number)
        self.version.deletes[op.replica] = op.number + 1

    def _mark_deleted(self, run: Run) -> None:
        if not run.deleted:
            run.deleted = True
            self.tree.adjust(run, -run.length, 0)

    def _index_add(self, run: Run) -> None:
        starts = self._starts.setdefault(run.replica, [])
        runs = self._by_start.setdefault(run.replica, [])
        index = bisect_right(starts, run.counter)
        starts.insert(index, run.counter)
        runs.insert(index, run)

    def _find(self, ident: Id) -> tuple[Run, int] | None:
        replica, counter = ident
        starts = self._starts.get(replica)
        if not starts:
            return None
        index = bisect_right(starts, counter) - 1
        if index < 0:
            return None
        run = self._by_start[replica][index]
        if counter >= run.counter + run.length:
            return None
        return run, counter - run.counter

    def _locate(self, ident: Id) -> tuple[Run, int]:
        found = self._find(ident)
        if found is None:
            raise UpdateError(f"unknown character id {ident[0]}:{ident[1]}")
        return found

    def _has(self, ident: Id | None) -> bool:
        return ident is None or ident[1] < self.version.inserts.get(ident[0], 0)

    def _position(self, ident: Id | None, *, default: int) -> int:
        if ident is None:
            return default
        run, offset = self._locate(ident)
        return self.tree.position_of(run) + offset

    def _run_starting_at(self, ident: Id) -> Run:
        """The run whose first character is ``ident`` (splitting one if needed)."""
        run, offset = self._locate(ident)
        if offset:
            run = self.tree.split(run, offset)
            self._index_add(run)
        return run

    def _integrate_run(self, u: RunUpdate) -> bool:
        have = self.version.inserts.get(u.replica, 0)
        if u.counter + u.length <= have:
            return True  # already integrated (a duplicate)
        if u.counter > have or not (self._has(u.origin_left) and self._has(u.origin_right)):
            return False
        if u.counter < have:  # the first part is here already: integrate the rest
            u = run_tail(u, have - u.counter)
        left = self._position(u.origin_left, default=-1)
        right = self._position(u.origin_right, default=self.tree.total)
        anchor = self._fugue_anchor(u, left, right)
        run = Run(u.replica, u.counter, u.text, u.length, u.origin_left, u.origin_right, u.deleted)
        if (
            anchor is not None
            and anchor.replica == u.replica
            and anchor.counter + anchor.length == u.counter
            and anchor.last_id == u.origin_left
            and anchor.origin_right == u.origin_right
            and anchor.deleted == u.deleted
            and (anchor.text is None) == (u.text is None)
        ):
            if anchor.text is not None and u.text is not None:
                anchor.text += u.text
            anchor.length += u.length
            self.tree.adjust(anchor, 0 if u.deleted else u.length, u.length)
        else:
            self.tree.insert_after(anchor, run)
            self._index_add(run)
        self.version.inserts[u.replica] = u.counter + u.length
        return True

    def _fugue_anchor(self, u: RunUpdate, left: int, right: int) -> Run | None:  # noqa: PLR0912 - Fugue's placement rule case by case, as the paper states it
        """The run after which ``u`` goes (None: the start), by the FugueMax/YjsMod rule.

        Scan the concurrent runs between the origins. A run whose left origin is further
        left ends the scan; one with the same left origin is ordered by its right origin
        (further right means it belongs inside our subtree's sibling order, so we may go
        after it; nearer means we cannot decide yet and keep scanning), and by replica id
        when both origins match; a run whose left origin is further right is a descendant
        of something we passed and is skipped.
        """
        if left >= 0:
            assert u.origin_left is not None
            left_run = self._run_ending_at(u.origin_left)
            anchor: Run | None = left_run
            start = self.tree.next_run(left_run)
        else:
            anchor = None
            start = next(iter(self.tree), None)
        if start is None:
            return anchor
        destination = anchor
        scanning = False
        position = left + 1
        previous = anchor
        for other in self.tree.runs_from(start):
            if not scanning:
                destination = previous
            if position >= right:
                break
            other_left = self._position(other.origin_left, default=-1)
            if other_left < left:
                break
            if other_left == left:
                other_right = self._position(other.origin_right, default=self.tree.total)
                if other_right < right:
                    scanning = True
                elif other_right == right:
                    if u.replica < other.replica:
                        break
                    scanning = False
                else:
                    scanning = False
            position += other.length
            previous = other
        else:
            if not scanning:
                destination = previous
        return destination

    def _run_ending_at(self, ident: Id) -> Run:
        run, offset = self._locate(ident)
        if offset < run.length - 1:
            self._index_add(self.tree.split(run, offset + 1))
        return run

    def _integrate_delete(self, op: DeleteOp) -> bool:
        have = self.version.deletes.get(op.replica, 0)
        if op.number < have:
            return True
        if op.number > have:
            return False
        if not all(self._has((r, c + n - 1)) for r, c, n in op.ranges):
            return False
        for replica, counter, length in op.ranges:
            position = counter
            while position < counter + length:
                run = self._run_starting_at((replica, position))
                end = counter + length
                if run.counter + run.length > end:
                    self._index_add(self.tree.split(run, end - run.counter))
                self._mark_deleted(run)
                position = run.counter + run.length
        self._record_delete(op)
        return True


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _causal_key(item: RunUpdate | DeleteOp) -> tuple[int, int, int]:
    if isinstance(item, RunUpdate):
        return (0, item.replica, item.counter)
    return (1, item.replica, item.number)


def _run_update(run: Run, skip: int) -> RunUpdate:
    full = RunUpdate(
        run.replica,
        run.counter,
        run.length,
        run.text,
        run.origin_left,
        run.origin_right,
        run.deleted,
    )
    return run_tail(full, skip) if skip else full
