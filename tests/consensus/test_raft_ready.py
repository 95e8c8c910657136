"""The Ready/advance contract and the persist-before-send rule."""

from __future__ import annotations

import random

import pytest

from archlab.consensus.raft import (
    AppendEntries,
    AppendResponse,
    ConfState,
    Entry,
    MemoryStorage,
    RaftConfig,
    RaftNode,
    VoteRequest,
    VoteResponse,
    persist_violations,
)
from tests.consensus.cluster import Cluster


def follower() -> tuple[RaftNode, MemoryStorage]:
    storage = MemoryStorage(ConfState.of([1, 2, 3]))
    return RaftNode(RaftConfig(id=2), storage, random.Random(1)), storage


class TestContract:
    def test_ready_must_be_advanced_before_the_next_one(self) -> None:
        node, _ = follower()
        ready = node.ready()
        node.advance(ready)
        with pytest.raises(RuntimeError, match="without an outstanding"):
            node.advance(ready)
        node.ready()
        with pytest.raises(RuntimeError, match="previous Ready"):
            node.ready()

    def test_an_idle_node_has_nothing_ready(self) -> None:
        node, _ = follower()
        assert not node.has_ready()
        assert node.ready().is_empty()

    def test_committed_entries_are_handed_out_once(self) -> None:
        node, storage = follower()
        entries = (Entry(1, 1, b"a"), Entry(1, 2, b"b"))
        node.step(AppendEntries(1, 2, 1, 0, 0, entries, commit=2))
        ready = node.ready()
        assert ready.entries == entries and ready.committed_entries == entries
        storage.persist(ready.hard_state, ready.entries, ready.snapshot)
        node.advance(ready)
        assert node.applied_index == 2
        assert not node.has_ready()


class TestPersistBeforeSend:
    def test_a_granted_vote_is_in_the_same_ready_as_its_hard_state(self) -> None:
        node, storage = follower()
        node.step(VoteRequest(1, 2, term=1, last_index=0, last_term=0))
        ready = node.ready()
        vote = next(m for m in ready.messages if isinstance(m, VoteResponse))
        assert vote.granted and ready.must_sync
        assert ready.hard_state is not None and ready.hard_state.vote == 1
        assert persist_violations(ready, storage), "not yet persisted: the check objects"
        storage.persist(ready.hard_state, ready.entries, ready.snapshot)
        assert persist_violations(ready, storage) == []

    def test_an_acknowledgement_depends_on_the_entries_of_its_ready(self) -> None:
        node, storage = follower()
        node.step(AppendEntries(1, 2, 1, 0, 0, (Entry(1, 1, b"a"),), commit=0))
        ready = node.ready()
        ack = next(m for m in ready.messages if isinstance(m, AppendResponse))
        assert ack.index == 1 and ready.entries
        storage.set_hard_state(ready.hard_state or storage.hard_state())
        assert any("durable last index" in p for p in persist_violations(ready, storage))
        storage.append(ready.entries)
        assert persist_violations(ready, storage) == []

    def test_a_commit_index_alone_is_written_but_not_synced(self) -> None:
        """Only entries, a snapshot, a term or a vote need an fsync; the commit index does not."""
        node, storage = follower()
        node.step(AppendEntries(1, 2, 1, 0, 0, (Entry(1, 1, b"a"),), commit=0))
        first = node.ready()
        assert first.must_sync, "a new term and an entry must be durable before the ack"
        storage.persist(first.hard_state, first.entries, first.snapshot)
        node.advance(first)
        node.step(AppendEntries(1, 2, 1, 1, 1, (), commit=1))
        second = node.ready()
        assert second.hard_state is not None and second.hard_state.commit == 1
        assert not second.entries and not second.must_sync

    def test_a_busy_cluster_never_sends_before_persisting(self) -> None:
        cluster = Cluster([1, 2, 3, 4, 5], strict_persist=False, compact_every=5)
        cluster.elect(1)
        for round_ in range(10):
            for _ in range(3):
                cluster.propose(1)
            cluster.read(2)
            cluster.tick_all()
            cluster.deliver_all()
            if round_ == 4:
                cluster.restart(3)
        cluster.check()
        assert cluster.persist_problems == []
        assert cluster.node(1).commit_index == 31
