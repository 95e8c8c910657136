"""The 2PC cores, driven directly: what they persist, what they send, and in which order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from archlab.sim.disk import Disk
from archlab.sim.process import Effect, Op, Reply, Request, Send, SetTimer, Sync
from archlab.txn.timestamps import LogicalTimestamps, TrueTimeTimestamps
from archlab.txn.truetime import TrueTime
from archlab.txn.twopc.coordinator import Coordinator, CoordinatorConfig
from archlab.txn.twopc.messages import (
    Abort,
    Aborted,
    Ack,
    Commit,
    Committed,
    Prepare,
    QueryDecision,
    SnapshotRead,
    SnapshotReply,
    Unavailable,
    Vote,
)
from archlab.txn.twopc.participant import Participant, ParticipantConfig, load

SHARDS = ("p0", "p1")


def place(key: Any) -> str:
    return "p0" if key in ("x", "u") else "p1"


def sends(effects: Sequence[Effect], kind: type) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def index_of(effects: Sequence[Effect], predicate: Any) -> int:
    return next(i for i, e in enumerate(effects) if predicate(e))


def prepare(txn: int, *micro: tuple[str, str, Any]) -> Prepare:
    return Prepare(txn, "c", SHARDS, tuple(micro))


def request(*micro: tuple[str, str, Any]) -> Request:
    return Request(1, "client", Op("txn", None, tuple(micro)))


# -- the participant ------------------------------------------------------------------------


def test_a_participant_makes_its_prepare_durable_before_voting_yes() -> None:
    disk = Disk()
    p = Participant("p0", disk, LogicalTimestamps())
    effects = p.on_prepare(0.0, "c", prepare(7, ("append", "x", 1), ("r", "x", None)))
    sync = index_of(effects, lambda e: isinstance(e, Sync))
    vote = sends(effects, Vote)[0]
    assert vote.message.yes and vote.message.reads == ((1, (1,)),)  # reads its own write
    assert sync < effects.index(vote)
    assert p.locks.holds(7)
    assert disk.durable_read("participant.log") in (None, b"")  # volatile until the Sync runs


def test_a_refused_share_votes_no_and_frees_its_locks() -> None:
    disk = Disk()
    load(disk, {"x": "closed", "u": 5})
    p = Participant("p0", disk, LogicalTimestamps())
    p.recover(0.0)
    (vote,) = sends(p.on_prepare(0.0, "c", prepare(1, ("add", "x", 10))), Vote)
    assert not vote.message.yes and "closed" in vote.message.reason
    (vote,) = sends(p.on_prepare(0.0, "c", prepare(2, ("add", "u", -6))), Vote)
    assert not vote.message.yes and "negative" in vote.message.reason
    assert not p.locks.held


def test_a_lock_wait_that_times_out_votes_no() -> None:
    p = Participant("p0", Disk(), LogicalTimestamps())
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    effects = p.on_prepare(0.0, "c", prepare(2, ("append", "x", 2)))
    assert effects == [SetTimer(("lock", 2), ParticipantConfig().lock_timeout)]
    (vote,) = sends(p.on_timer(0.1, ("lock", 2)), Vote)
    assert not vote.message.yes


def test_a_waiter_is_prepared_when_the_locks_are_released() -> None:
    p = Participant("p0", Disk(), LogicalTimestamps())
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    p.on_prepare(0.0, "c", prepare(2, ("append", "x", 2), ("r", "x", None)))
    effects = p.on_commit(0.01, "c", Commit(1, 1.0))
    (vote,) = sends(effects, Vote)
    assert vote.message.txn == 2 and vote.message.yes
    assert vote.message.reads == ((1, (1, 2)),)  # it saw the first commit
    assert vote.message.timestamp > 1.0  # above every timestamp already used


def test_a_prepared_participant_asks_and_keeps_its_locks() -> None:
    p = Participant("p0", Disk(), LogicalTimestamps())
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    for attempt in range(5):
        effects = p.on_timer(0.1 * (attempt + 1), ("query", 1))
        assert sends(effects, QueryDecision)[0].dst == "c"
    assert p.locks.holds(1) and p.in_doubt == [1]


def test_the_broken_participant_aborts_alone_after_voting_yes() -> None:
    p = Participant("p0", Disk(), LogicalTimestamps(), ParticipantConfig(unilateral_abort=True))
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    p.on_timer(0.1, ("query", 1))
    assert not p.locks.holds(1) and p.decided[1] == "abort"


def test_a_restarted_participant_is_still_prepared() -> None:
    disk = Disk()
    p = Participant("p0", disk, LogicalTimestamps())
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    disk.fsync()
    disk.crash()
    again = Participant("p0", disk, LogicalTimestamps())
    effects = again.recover(1.0)
    assert again.locks.holds(1) and SetTimer(("query", 1), 0.1) in effects
    # A duplicate prepare gets the same yes vote; then the decision applies the writes.
    (vote,) = sends(again.on_prepare(1.0, "c", prepare(1, ("append", "x", 1))), Vote)
    assert vote.message.yes
    again.on_commit(1.1, "c", Commit(1, 5.0))
    assert again.versions.latest("x") == (1,) and not again.locks.held


def test_an_abort_record_need_not_be_synced() -> None:
    disk = Disk()
    p = Participant("p0", disk, LogicalTimestamps())
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))
    disk.fsync()
    assert not any(isinstance(e, Sync) for e in p.on_abort(0.1, "c", Abort(1)))
    disk.crash()  # the abort record is lost: the transaction is in doubt again, and asks
    again = Participant("p0", disk, LogicalTimestamps())
    again.recover(0.2)
    assert again.in_doubt == [1]


def test_snapshot_reads_wait_for_prepared_transactions_that_could_precede_them() -> None:
    disk = Disk()
    load(disk, {"x": (0,)})
    p = Participant("p0", disk, LogicalTimestamps())
    p.recover(0.0)
    p.on_prepare(0.0, "c", prepare(1, ("append", "x", 1)))  # prepare timestamp 1
    early = p.on_snapshot_read(0.0, "r", SnapshotRead(1, 0.5, ("x",)))
    assert sends(early, SnapshotReply)[0].message.values == (("x", (0,)),)
    assert not p.on_snapshot_read(0.0, "r", SnapshotRead(2, 3.0, ("x",)))  # must wait
    done = p.on_commit(0.1, "c", Commit(1, 2.0))
    assert sends(done, SnapshotReply)[0].message.values == (("x", (0, 1)),)
    # The read at 3.0 raised the floor: nothing can now commit at or below it here.
    (vote,) = sends(p.on_prepare(0.2, "c", prepare(2, ("append", "x", 2))), Vote)
    assert vote.message.timestamp > 3.0


def test_a_read_past_the_reserved_floor_persists_a_new_reservation_first() -> None:
    disk = Disk()
    p = Participant("p0", disk, LogicalTimestamps(), ParticipantConfig(floor_reservation=1.0))
    effects = p.on_snapshot_read(0.0, "r", SnapshotRead(1, 10.0, ("x",)))
    assert isinstance(effects[0], Sync) and isinstance(effects[1], Send)
    assert not any(
        isinstance(e, Sync) for e in p.on_snapshot_read(0.0, "r", SnapshotRead(2, 10.5, ("x",)))
    )
    disk.fsync()
    disk.crash()
    again = Participant("p0", disk, LogicalTimestamps())
    again.recover(0.0)
    assert again.floor >= 11.0  # no prepare after the restart can slip below the reads


# -- the coordinator ------------------------------------------------------------------------


def coordinator(disk: Disk | None = None, **flaws: bool) -> Coordinator:
    return Coordinator(
        "c", 0, 0, disk or Disk(), place, LogicalTimestamps(), CoordinatorConfig(**flaws)
    )


def test_the_commit_decision_is_durable_before_anyone_hears_it() -> None:
    disk = Disk()
    c = coordinator(disk)
    c.begin(0.0, request(("append", "x", 1), ("append", "y", 2)))
    txn = next(iter(c.txns))
    assert not c.on_vote(0.0, "p0", Vote(txn, True, 1.0))
    effects = c.on_vote(0.0, "p1", Vote(txn, True, 3.0))
    sync = index_of(effects, lambda e: isinstance(e, Sync))
    first_send = index_of(effects, lambda e: isinstance(e, Send | Reply))
    assert sync < first_send
    commits = sends(effects, Commit)
    assert {s.dst for s in commits} == set(SHARDS)
    assert commits[0].message.timestamp >= 3.0  # at least every prepare timestamp
    reply = next(e for e in effects if isinstance(e, Reply))
    assert isinstance(reply.result, Committed)
    assert len(c.log) == 1


def test_the_broken_coordinator_sends_before_its_decision_is_durable() -> None:
    c = coordinator(no_decision_fsync=True)
    c.begin(0.0, request(("append", "x", 1)))
    txn = next(iter(c.txns))
    effects = c.on_vote(0.0, "p0", Vote(txn, True, 1.0))
    assert sends(effects, Commit) and not any(isinstance(e, Sync) for e in effects)


def test_a_no_vote_aborts_without_logging_anything() -> None:
    c = coordinator()
    c.begin(0.0, request(("append", "x", 1), ("append", "y", 2)))
    txn = next(iter(c.txns))
    effects = c.on_vote(0.0, "p0", Vote(txn, False, reason="closed"))
    assert {s.dst for s in sends(effects, Abort)} == set(SHARDS)
    assert isinstance(next(e for e in effects if isinstance(e, Reply)).result, Aborted)
    assert len(c.log) == 0 and not c.txns  # presumed abort: nothing to remember


def test_missing_votes_abort_after_the_timeout() -> None:
    c = coordinator()
    c.begin(0.0, request(("append", "x", 1), ("append", "y", 2)))
    txn = next(iter(c.txns))
    c.on_vote(0.0, "p0", Vote(txn, True, 1.0))
    effects = c.on_timer(0.3, ("votes", txn))
    assert sends(effects, Abort) and c.stats.vote_timeouts == 1


def test_the_termination_protocol_answers_from_the_log_or_presumes_abort() -> None:
    disk = Disk()
    c = coordinator(disk)
    c.begin(0.0, request(("append", "x", 1)))
    committed = next(iter(c.txns))
    c.on_vote(0.0, "p0", Vote(committed, True, 1.0))
    c.begin(0.0, request(("append", "x", 2), ("append", "y", 2)))
    undecided = max(c.txns)
    (answer,) = sends(c.on_query(0.1, "p0", QueryDecision(committed)), Commit)
    assert answer.message.txn == committed
    effects = c.on_query(0.1, "p0", QueryDecision(undecided))  # still voting: abort now
    assert sends(effects, Abort) and undecided not in c.txns
    (presumed,) = sends(c.on_query(0.1, "p0", QueryDecision(12345)), Abort)
    assert presumed.dst == "p0" and c.stats.presumed_aborts == 1


def test_a_restarted_coordinator_finishes_its_logged_commits() -> None:
    disk = Disk()
    c = coordinator(disk)
    c.begin(0.0, request(("append", "x", 1), ("append", "y", 1)))
    txn = next(iter(c.txns))
    c.on_vote(0.0, "p0", Vote(txn, True, 1.0))
    c.on_vote(0.0, "p1", Vote(txn, True, 1.0))
    disk.fsync()
    disk.crash()
    again = Coordinator("c", 0, 1, disk, place, LogicalTimestamps())
    effects = again.recover(1.0)
    assert SetTimer(("release", txn), 0.0) in effects
    released = again.on_timer(1.0, ("release", txn))
    assert {s.dst for s in sends(released, Commit)} == set(SHARDS)
    again.on_ack(1.1, "p0", Ack(txn))
    again.on_ack(1.1, "p1", Ack(txn))
    assert not again.txns
    assert Coordinator("c", 0, 2, disk, place, LogicalTimestamps()).recover(2.0) == []


def test_transaction_ids_differ_across_coordinators_and_restarts() -> None:
    ids = set()
    for node in range(3):
        for incarnation in range(3):
            c = Coordinator("c", node, incarnation, Disk(), place, LogicalTimestamps())
            for _ in range(3):
                c.begin(0.0, request(("append", "x", 1)))
            ids |= set(c.txns)
    assert len(ids) == 27


# -- TrueTime timestamps and commit wait ----------------------------------------------------


def synced_truetime() -> TrueTime:
    tt = TrueTime(6e-3)
    tt.on_sync(0.0, 0.002, 100.0, 0.001)
    return tt


def test_commit_timestamps_are_at_least_tt_now_latest_and_above_the_floor() -> None:
    tt = synced_truetime()
    stamps = TrueTimeTimestamps(tt)
    latest = tt.now(0.5).latest
    assert stamps.commit(0.5, [latest - 1.0], floor=0.0) == pytest.approx(latest)
    assert stamps.commit(0.5, [], floor=latest + 5) > latest + 5
    assert stamps.prepare(0.5, floor=latest) > latest


def test_commit_wait_holds_the_release_until_tt_after() -> None:
    tt = synced_truetime()
    c = Coordinator("c", 0, 0, Disk(), place, TrueTimeTimestamps(tt, commit_wait=True))
    c.begin(0.1, request(("append", "x", 1)))
    txn = next(iter(c.txns))
    effects = c.on_vote(0.1, "p0", Vote(txn, True, 0.0))
    (timer,) = [e for e in effects if isinstance(e, SetTimer)]
    assert not sends(effects, Commit) and not any(isinstance(e, Reply) for e in effects)
    timestamp = c.txns[txn].timestamp
    assert timer.delay == pytest.approx(2 * tt.epsilon(0.1), rel=0.05)  # about 2ε
    assert not sends(c.on_query(0.1, "p0", QueryDecision(txn)), Commit)  # not visible yet
    released = c.on_timer(0.1 + timer.delay, ("release", txn))
    assert tt.after(timestamp, 0.1 + timer.delay)
    assert sends(released, Commit) and any(isinstance(e, Reply) for e in released)


def test_no_timestamps_no_transactions() -> None:
    c = Coordinator("c", 0, 0, Disk(), place, TrueTimeTimestamps(TrueTime()))
    (reply,) = c.begin(0.0, request(("append", "x", 1)))
    assert isinstance(reply, Reply) and isinstance(reply.result, Unavailable)
