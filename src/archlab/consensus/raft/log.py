"""The Raft log as a node sees it: durable entries plus the not-yet-persisted tail (codex 5.3).

A node's log has two parts, as in etcd's raft library:

- the *stable* part, read from :class:`~archlab.consensus.raft.storage.Storage` (what the
  caller has persisted);
- the *unstable* part (:class:`Unstable`): entries appended since the last
  :class:`~archlab.consensus.raft.Ready` was acknowledged, and possibly a snapshot received from
  the leader, waiting to be persisted. Unstable entries may overwrite a stable suffix (a
  follower truncating a conflicting tail); the storage applies the same truncation when it
  persists them.

:class:`RaftLog` answers the questions the protocol asks — the term at an index, whether a
candidate's log is at least as up to date, whether ``(prev_index, prev_term)`` matches — and
implements the follower's side of AppendEntries (:meth:`RaftLog.maybe_append`) and the
backtracking hint (:meth:`RaftLog.find_conflict_by_term`). It also holds the commit index and
the applied index (what the caller has been handed to apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.consensus.raft.storage import CompactedError, Storage, UnavailableError
from archlab.consensus.raft.types import Entry, Snapshot


@dataclass(slots=True)
class Unstable:
    """Entries from ``offset`` on (and maybe a snapshot) not yet persisted by the caller."""

    offset: int
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None

    def last_index(self) -> int | None:
        if self.entries:
            return self.entries[-1].index
        if self.snapshot is not None:
            return self.snapshot.index
        return None

    def first_index(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.index + 1

    def term(self, index: int) -> int | None:
        if index < self.offset:
            if self.snapshot is not None and index == self.snapshot.index:
                return self.snapshot.term
            return None
        last = self.last_index()
        if last is None or index > last:
            return None
        return self.entries[index - self.offset].term

    def truncate_and_append(self, entries: list[Entry]) -> None:
        first = entries[0].index
        if first == self.offset + len(self.entries):
            self.entries.extend(entries)
        elif first <= self.offset:
            # Replaces everything unstable (and, once persisted, a stable suffix too).
            self.offset = first
            self.entries = list(entries)
        else:
            del self.entries[first - self.offset :]
            self.entries.extend(entries)

    def stable_to(self, index: int, term: int) -> None:
        if index < self.offset or self.term(index) != term:
            return
        del self.entries[: index + 1 - self.offset]
        self.offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.index == index:
            self.snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        self.offset = snapshot.index + 1
        self.entries = []
        self.snapshot = snapshot


class RaftLog:
    """Stable storage + unstable tail + commit and applied indexes."""

    def __init__(self, storage: Storage, max_entries_per_msg: int = 64) -> None:
        self.storage = storage
        self.max_entries_per_msg = max_entries_per_msg
        self.unstable = Unstable(offset=storage.last_index() + 1)
        first = storage.first_index()
        self.committed = first - 1
        self.applied = first - 1

    # -- shape ----------------------------------------------------------------------------

    def first_index(self) -> int:
        first = self.unstable.first_index()
        return first if first is not None else self.storage.first_index()

    def last_index(self) -> int:
        last = self.unstable.last_index()
        return last if last is not None else self.storage.last_index()

    def term(self, index: int) -> int | None:
        """The term at ``index``, or ``None`` when it is compacted away or beyond the log."""
        if index < self.first_index() - 1 or index > self.last_index():
            return None
        term = self.unstable.term(index)
        if term is not None:
            return term
        try:
            return self.storage.term(index)
        except (CompactedError, UnavailableError):
            return None

    def last_term(self) -> int:
        term = self.term(self.last_index())
        assert term is not None, "the last index always has a term"
        return term

    def is_compacted(self, index: int) -> bool:
        return index < self.first_index() - 1

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft §5.4.1: a log ending in ``(last_term, last_index)`` is at least as up to date."""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index())

    def snapshot(self) -> Snapshot:
        """The newest snapshot (pending or stored) — what a lagging follower is sent."""
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    # -- reading entries ------------------------------------------------------------------

    def entries(self, lo: int, hi: int | None = None, max_count: int | None = None) -> list[Entry]:
        """Entries ``lo <= index < hi`` (``hi`` defaults to past the end), at most ``max_count``."""
        if hi is None:
            hi = self.last_index() + 1
        if max_count is not None:
            hi = min(hi, lo + max_count)
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(f"index {lo} is compacted (first index {self.first_index()})")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} beyond the last index {self.last_index()}")
        result: list[Entry] = []
        split = self.unstable.offset
        if lo < split:
            result.extend(self.storage.entries(lo, min(hi, split)))
        if hi > split:
            start = max(lo, split)
            result.extend(self.unstable.entries[start - split : hi - split])
        return result

    def unstable_entries(self) -> list[Entry]:
        return list(self.unstable.entries)

    def has_next_committed_entries(self) -> bool:
        start = max(self.applied + 1, self.first_index())
        return self.committed >= start

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet handed to the caller for applying."""
        start = max(self.applied + 1, self.first_index())
        if self.committed < start:
            return []
        return self.entries(start, self.committed + 1)

    # -- writing --------------------------------------------------------------------------

    def append(self, entries: list[Entry]) -> int:
        """Append (the leader's path, or after the follower's conflict search); returns last."""
        if not entries:
            return self.last_index()
        if entries[0].index - 1 < self.committed:
            raise AssertionError(
                f"appending at {entries[0].index} would overwrite committed {self.committed}"
            )
        self.unstable.truncate_and_append(entries)
        return self.last_index()

    def find_conflict(self, entries: tuple[Entry, ...]) -> int:
        """Index of the first entry whose term differs from ours (or that we lack); 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: tuple[Entry, ...]
    ) -> tuple[int, list[Entry]] | None:
        """The follower's AppendEntries: ``None`` if ``(prev_index, prev_term)`` does not match.

        Otherwise returns the index of the last entry now known to match the leader and the
        entries actually written (from the first conflict on), and advances the commit index to
        ``min(commit, that index)``.
        """
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        conflict = self.find_conflict(entries)
        written: list[Entry] = []
        if conflict:
            if conflict <= self.committed:
                raise AssertionError(
                    f"entry {conflict} conflicts with the committed prefix (commit "
                    f"{self.committed}): log matching is broken"
                )
            written = list(entries[conflict - prev_index - 1 :])
            self.append(written)
        self.commit_to(min(commit, last_new))
        return last_new, written

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest ``i <= index`` whose term is at most ``term``, with that term.

        Used both by a follower to build its rejection hint and by the leader to pick the next
        probe; walking down stops at the compaction point (returned with term 0 when unknown).
        """
        index = min(index, self.last_index())
        while index >= self.first_index() - 1:
            found = self.term(index)
            if found is None:
                break
            if found <= term:
                return index, found
            index -= 1
        floor = self.first_index() - 1
        return floor, self.term(floor) or 0

    def commit_to(self, index: int) -> bool:
        if index <= self.committed:
            return False
        if index > self.last_index():
            raise AssertionError(f"commit {index} beyond the last index {self.last_index()}")
        self.committed = index
        return True

    def applied_to(self, index: int) -> None:
        if index <= self.applied:
            return
        if index > self.committed:
            raise AssertionError(f"applied {index} beyond commit {self.committed}")
        self.applied = index

    def stable_to(self, index: int, term: int) -> None:
        self.unstable.stable_to(index, term)

    def stable_snap_to(self, index: int) -> None:
        self.unstable.stable_snap_to(index)

    def restore(self, snapshot: Snapshot) -> None:
        """Adopt a snapshot from the leader: the log becomes the snapshot, nothing after it."""
        self.unstable.restore(snapshot)
        self.committed = snapshot.index
