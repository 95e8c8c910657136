"""The invariant checks themselves can fail: hand-made broken states for each of them."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import ConfState, Entry
from tests.consensus.cluster import Cluster
from tests.consensus.invariants import InvariantViolation, LogView, RaftInvariants


def view(*terms: int, data: str = "", snapshot: tuple[int, int] = (0, 0)) -> LogView:
    start = snapshot[0] + 1
    entries = {i: Entry(t, i, f"{data}{i}".encode()) for i, t in enumerate(terms, start=start)}
    return LogView(snapshot[0], snapshot[1], entries)


class TestLogMatching:
    def test_equal_logs_and_diverging_tails_pass(self) -> None:
        RaftInvariants().check_log_matching({1: view(1, 1, 2), 2: view(1, 1, 3, 3), 3: view(1)})

    def test_same_index_and_term_with_different_data_fails(self) -> None:
        with pytest.raises(InvariantViolation, match="different entries with term"):
            RaftInvariants().check_log_matching({1: view(1, 2), 2: view(1, 2, data="x")})

    def test_agreement_after_a_divergence_fails(self) -> None:
        a = view(1, 2, 3)
        b = LogView(0, 0, {1: a.entries[1], 2: Entry(5, 2, b"2"), 3: a.entries[3]})
        with pytest.raises(InvariantViolation, match="agree at 3"):
            RaftInvariants().check_log_matching({1: a, 2: b})


class TestLeaderAndStateMachine:
    def test_two_leaders_in_one_term_fail(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        impostor = cluster.node(2)
        impostor.term, impostor.role = cluster.node(1).term, cluster.node(1).role
        with pytest.raises(InvariantViolation, match="election safety"):
            cluster.check()

    def test_a_leader_lacking_a_committed_entry_fails(self) -> None:
        invariants = RaftInvariants(committed={2: (1, b"2")}, commit_terms={2: 1})
        invariants.check_leader_completeness(1, 2, view(1, 1))
        with pytest.raises(InvariantViolation, match="leader completeness"):
            invariants.check_leader_completeness(1, 2, view(1))
        # A leader of the term the entry was committed in (or earlier) is not bound by it.
        invariants.check_leader_completeness(1, 1, view(1))

    def test_applying_different_entries_at_one_index_fails(self) -> None:
        invariants = RaftInvariants()
        invariants.observe_apply(1, Entry(1, 1, b"a"))
        invariants.observe_apply(2, Entry(1, 1, b"a"))
        with pytest.raises(InvariantViolation, match="state machine safety"):
            invariants.observe_apply(3, Entry(2, 1, b"b"))


class TestDurabilityAndReads:
    def test_a_committed_entry_held_by_a_minority_fails(self) -> None:
        conf = ConfState.of([1, 2, 3])
        invariants = RaftInvariants(initial_conf=conf, committed={2: (1, b"2")})
        held = {1: view(1, 1), 2: view(1, 1), 3: view(1)}
        invariants.check_durability(held, [conf])
        with pytest.raises(InvariantViolation, match="durable only on"):
            invariants.check_durability({1: view(1, 1), 2: view(1), 3: view(1)}, [conf])
        # A snapshot covering the index holds it too.
        compacted = {1: view(1, 1), 2: view(snapshot=(2, 1)), 3: view(1)}
        invariants.check_durability(compacted, [conf])

    def test_stale_and_premature_reads_fail(self) -> None:
        invariants = RaftInvariants()
        invariants.check_read(1, index=5, floor=5, committed_now=6)
        with pytest.raises(InvariantViolation, match="stale read"):
            invariants.check_read(1, index=4, floor=5, committed_now=6)
        with pytest.raises(InvariantViolation, match="beyond anything committed"):
            invariants.check_read(1, index=7, floor=5, committed_now=6)
