"""0-RTT replay (3.4): the recorded flight runs twice with no defence, never with one."""

from __future__ import annotations

import pytest

from archlab.security import replay
from archlab.security.measure_zero_rtt_replay import (
    ZeroRttReplayMeasurement,
    judge_zero_rtt_replay,
)
from archlab.security.replay import POLICIES, run


@pytest.fixture(scope="module")
def runs() -> dict[str, replay.ReplayRun]:
    return {p: run(p, replays=2) for p in POLICIES}


def measurement(runs: dict[str, replay.ReplayRun], replays: int = 2) -> ZeroRttReplayMeasurement:
    return ZeroRttReplayMeasurement(
        replays_sent=replays,
        early_data_accepted={p: r.early_data_accepted for p, r in runs.items()},
        replays_executed={p: r.replay_executions for p, r in runs.items()},
        legit_executed={p: r.legit_executions for p, r in runs.items()},
        too_early_answers={p: r.too_early_answers for p, r in runs.items()},
    )


def test_a_blindly_accepted_replay_executes_again(runs: dict[str, replay.ReplayRun]) -> None:
    blind = runs["none"]
    assert blind.early_data_accepted
    assert blind.legit_executions == 1 and blind.replay_executions == 2


def test_idempotent_only_answers_425_and_the_client_retries(
    runs: dict[str, replay.ReplayRun],
) -> None:
    r = runs["idempotent_only"]
    assert r.replay_executions == 0 and r.legit_executions == 1
    assert r.client_answer == "425 Too Early / 200 OK"


def test_single_use_tickets_stop_the_replay(runs: dict[str, replay.ReplayRun]) -> None:
    r = runs["single_use_tickets"]
    assert r.early_data_accepted and r.legit_executions == 1 and r.replay_executions == 0


def test_safe_requests_may_still_run_early() -> None:
    r = run("idempotent_only", request=b"GET /balance", replays=1)
    assert r.too_early_answers == 0 and r.replay_executions == 1  # harmless: GET is idempotent


def test_the_judge_reaches_each_verdict(runs: dict[str, replay.ReplayRun]) -> None:
    real = measurement(runs)
    assert judge_zero_rtt_replay(real).verdict == "holds"
    no_replay = ZeroRttReplayMeasurement(
        2,
        real.early_data_accepted,
        {p: 0 for p in POLICIES},
        real.legit_executed,
        real.too_early_answers,
    )
    assert judge_zero_rtt_replay(no_replay).verdict == "refuted"
    not_reached = ZeroRttReplayMeasurement(
        2,
        {p: False for p in POLICIES},
        real.replays_executed,
        real.legit_executed,
        real.too_early_answers,
    )
    assert judge_zero_rtt_replay(not_reached).verdict == "nuanced"
    judgement = judge_zero_rtt_replay(real)
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)


def test_a_filter_that_treats_post_as_safe_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "SAFE_METHODS", ("GET", "HEAD", "POST"))
    leaky = {p: run(p, replays=2) for p in POLICIES}
    assert leaky["idempotent_only"].replay_executions == 2
    assert judge_zero_rtt_replay(measurement(leaky)).verdict == "nuanced"
