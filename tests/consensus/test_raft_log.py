"""The log (stable + unstable), the in-memory storage, and the progress arithmetic."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import (
    CompactedError,
    ConfState,
    DurableStorage,
    Entry,
    HardState,
    MemoryStorage,
    Snapshot,
    SnapshotMetadata,
    UnavailableError,
)
from archlab.consensus.raft.log import RaftLog
from archlab.consensus.raft.progress import (
    Progress,
    ProgressState,
    ProgressTracker,
    VoteResult,
)


def entries(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(t, i, f"{i}".encode()) for i, t in enumerate(terms, start)]


class TestMemoryStorage:
    def test_it_is_a_durable_storage(self) -> None:
        storage: DurableStorage = MemoryStorage(ConfState.of([1]))  # checked by mypy too
        storage.persist(HardState(1, 1, 0), entries(1), None)
        assert storage.last_index() == 1 and storage.hard_state().vote == 1

    def test_append_truncates_a_conflicting_suffix(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1, 1, 2))
        storage.append(entries(3, 3, start=3))
        assert [e.term for e in storage.entries(1, 5)] == [1, 1, 3, 3]
        with pytest.raises(ValueError, match="gap"):
            storage.append(entries(3, start=9))

    def test_compaction_keeps_the_boundary_term(self) -> None:
        storage = MemoryStorage(ConfState.of([1]))
        storage.append(entries(1, 1, 2, 2, 2))
        storage.compact(Snapshot(SnapshotMetadata(3, 2, ConfState.of([1])), b"s"))
        assert storage.first_index() == 4 and storage.last_index() == 5
        assert storage.term(3) == 2
        with pytest.raises(CompactedError):
            storage.term(2)
        with pytest.raises(UnavailableError):
            storage.term(6)
        with pytest.raises(CompactedError):
            storage.entries(3, 5)
        with pytest.raises(ValueError, match="differs"):
            storage.compact(Snapshot(SnapshotMetadata(4, 9), b""))

    def test_an_installed_snapshot_replaces_the_log(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1, 1))
        storage.persist(HardState(2, 1, 10), [], Snapshot(SnapshotMetadata(10, 2), b"x"))
        assert storage.first_index() == 11 and storage.last_index() == 10
        assert storage.hard_state() == HardState(2, 1, 10)
        assert storage.syncs == 1


class TestRaftLog:
    def test_unstable_entries_overlay_the_stable_ones(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1, 1, 1))
        log = RaftLog(storage)
        result = log.maybe_append(2, 1, commit=0, entries=tuple(entries(2, 2, start=3)))
        assert result is not None
        last, written = result
        assert last == 4 and [e.index for e in written] == [3, 4]
        assert [e.term for e in log.entries(1)] == [1, 1, 2, 2]
        assert log.unstable.offset == 3
        log.stable_to(4, 2)
        assert log.unstable.entries == [] and log.unstable.offset == 5

    def test_a_mismatched_previous_entry_is_refused(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1))
        log = RaftLog(storage)
        assert log.maybe_append(2, 5, 0, tuple(entries(5, start=3))) is None
        assert log.maybe_append(3, 1, 0, ()) is None

    def test_matching_entries_are_not_rewritten(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1, 1))
        log = RaftLog(storage)
        result = log.maybe_append(0, 0, commit=2, entries=tuple(entries(1, 1)))
        assert result == (2, [])
        assert log.committed == 2 and log.last_index() == 3

    def test_rewriting_a_committed_entry_is_a_bug(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1))
        log = RaftLog(storage)
        log.commit_to(2)
        with pytest.raises(AssertionError, match="log matching"):
            log.maybe_append(1, 1, 2, tuple(entries(2, start=2)))

    def test_up_to_date_compares_last_term_then_length(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 2, 2))
        log = RaftLog(storage)
        assert log.is_up_to_date(1, 3)
        assert log.is_up_to_date(3, 2)
        assert not log.is_up_to_date(2, 2)
        assert not log.is_up_to_date(9, 1)

    def test_conflict_search_skips_whole_terms(self) -> None:
        storage = MemoryStorage()
        storage.append(entries(1, 1, 2, 2, 2, 4, 4, 4, 4))
        log = RaftLog(storage)
        assert log.find_conflict_by_term(9, 3) == (5, 2)
        assert log.find_conflict_by_term(9, 1) == (2, 1)
        assert log.find_conflict_by_term(9, 4) == (9, 4)
        assert log.find_conflict_by_term(20, 0) == (0, 0)


class TestProgress:
    def test_probe_backs_off_with_the_hint_and_replicate_streams(self) -> None:
        progress = Progress(next=11)
        assert progress.maybe_decrease_to(10, probe_hint=4)
        assert progress.next == 5 and not progress.is_paused()
        progress.sent(last_index=5, count=1)
        assert progress.is_paused(), "one probe at a time"
        assert not progress.maybe_decrease_to(10, 4), "a stale rejection is ignored"
        assert progress.maybe_update(5)
        progress.become_replicate()
        for last in (6, 7):
            progress.sent(last, 1)
        assert progress.next == 8 and list(progress.inflight) == [6, 7]
        progress.maybe_update(7)
        assert not progress.inflight

    def test_quorum_commit_and_votes(self) -> None:
        tracker = ProgressTracker(ConfState.of([1, 2, 3, 4, 5], learners=(6,)))
        tracker.reset(tracker.conf, next_index=1, now=0)
        for node, match in {1: 9, 2: 7, 3: 5, 4: 2, 5: 1, 6: 100}.items():
            tracker.progress[node].match = match
        assert tracker.committed_index() == 5, "the learner does not count"
        assert tracker.vote_result({1: True, 2: True}) is VoteResult.PENDING
        assert tracker.vote_result({1: True, 2: True, 6: True}) is VoteResult.PENDING
        assert tracker.vote_result({1: True, 2: True, 3: True}) is VoteResult.WON
        assert tracker.vote_result({1: True, 2: False, 3: False, 4: False}) is VoteResult.LOST

    def test_check_quorum_counts_members_heard_within_the_window(self) -> None:
        tracker = ProgressTracker(ConfState.of([1, 2, 3]))
        tracker.reset(tracker.conf, next_index=1, now=0)
        assert tracker.quorum_active(1, now=4, window=5)
        assert not tracker.quorum_active(1, now=5, window=5)
        tracker.progress[3].last_heard = 4
        assert tracker.quorum_active(1, now=8, window=5)
        assert tracker.progress[3].state is ProgressState.PROBE
