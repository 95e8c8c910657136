"""The atomicity audit catches every breach it names, on hand-made logs, and passes clean ones."""

from __future__ import annotations

from archlab.txn.twopc.audit import Logs, ParticipantLog, atomicity_violations, outcome_counts


def logs(**participants: ParticipantLog) -> Logs:
    return Logs(dict(participants), {"c": {1: 5.0, 2: 6.0}})


def both_prepared(txn: int) -> dict[int, tuple[str, ...]]:
    return {txn: ("p0", "p1")}


def test_a_clean_history_passes() -> None:
    clean = logs(
        p0=ParticipantLog(both_prepared(1) | both_prepared(3), {1: 5.0}, {3}),
        p1=ParticipantLog(both_prepared(1), {1: 5.0}, {3}),
    )
    assert atomicity_violations(clean) == []
    assert outcome_counts(clean) == {"committed": 1, "aborted": 1, "in_doubt": 0}


def test_split_decisions_are_caught() -> None:
    split = logs(
        p0=ParticipantLog(both_prepared(1), {1: 5.0}, set()),
        p1=ParticipantLog(both_prepared(1), {}, {1}),
    )
    (finding,) = atomicity_violations(split)
    assert finding == "transaction 1 committed at p0 but aborted at p1"


def test_a_commit_without_every_yes_vote_is_caught() -> None:
    unvoted = logs(
        p0=ParticipantLog(both_prepared(2), {2: 6.0}, set()),
        p1=ParticipantLog({}, {}, set()),
    )
    assert atomicity_violations(unvoted) == [
        "transaction 2 committed at p0 although p1 never voted yes"
    ]


def test_a_commit_the_coordinator_forgot_is_caught() -> None:
    forgotten = logs(
        p0=ParticipantLog(both_prepared(9), {9: 1.0}, set()),
        p1=ParticipantLog(both_prepared(9), {9: 1.0}, set()),
    )
    (finding,) = atomicity_violations(forgotten)
    assert "no coordinator's log records that decision" in finding


def test_a_participant_that_changed_its_mind_and_one_left_in_doubt_are_caught() -> None:
    fickle = logs(
        p0=ParticipantLog(both_prepared(1), {1: 5.0}, {1}),
        p1=ParticipantLog(both_prepared(1) | both_prepared(4), {1: 5.0}, set()),
    )
    found = atomicity_violations(fickle)
    assert "p0 recorded both a commit and an abort of transaction 1" in found
    assert "transaction 4 is still in doubt at p1 after the faults healed" in found
    assert not any("in doubt" in f for f in atomicity_violations(fickle, require_decided=False))


def test_logs_round_trip_through_json() -> None:
    original = logs(p0=ParticipantLog(both_prepared(1), {1: 5.0}, {3}))
    assert Logs.from_dict(original.to_dict()) == original
