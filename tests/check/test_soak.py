"""Long soaks of the checkers' properties (opt in: pytest -m slow)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.check import history
from archlab.check.databases import txn_history
from archlab.check.generate import register_history
from archlab.check.history import Event
from archlab.check.isolation import check_isolation
from archlab.check.linearizability import check_linearizable
from archlab.check.models import get_model

from .builders import brute_force, brute_serializable, replay
from .test_isolation_properties import LEVELS, tiny_histories
from .test_linearizability_properties import small_histories

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["register", "cas-register"])
@settings(max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_search_matches_brute_force_at_length(model: str, data: st.DataObject) -> None:
    events = data.draw(small_histories(model))
    ops = history.pair(events)
    assert check_linearizable(ops, model).valid is brute_force(ops, get_model(model))


@settings(max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=tiny_histories("list-append"))
def test_list_append_matches_the_definition_at_length(events: list[Event]) -> None:
    ops = history.pair(events)
    for level, realtime in (("serializable", False), ("strict-serializable", True)):
        result = check_isolation(events, workload="list-append", consistency=level)  # type: ignore[arg-type]
        if result.valid != "unknown":
            assert result.valid is brute_serializable(ops, "list-append", realtime=realtime)


@pytest.mark.parametrize("kind", ["register", "cas-register", "kv"])
@pytest.mark.parametrize("seed", range(30))
def test_long_correct_histories_pass_with_a_witness(kind: str, seed: int) -> None:
    events = register_history(
        random.Random(seed),
        kind=kind,
        ops=3_000,
        processes=8,
        keys=20 if kind == "kv" else 1,
        info_rate=0.2,
    )
    result = check_linearizable(events, kind, time_limit=120)
    assert result.valid is True
    for key in result.keys:
        assert replay(key.linearization, get_model(kind))


@pytest.mark.parametrize("workload", ["list-append", "rw-register"])
@pytest.mark.parametrize("seed", range(20))
def test_long_database_histories_pass_at_their_level(workload: str, seed: int) -> None:
    for level in LEVELS:
        events = txn_history(
            random.Random(seed),
            workload=workload,
            isolation=level,
            txns=2_000,
            keys=10,  # type: ignore[arg-type]
            processes=10,
            info_rate=0.1,
        )
        for weaker in LEVELS[: LEVELS.index(level) + 1]:
            result = check_isolation(events, workload=workload, consistency=weaker)  # type: ignore[arg-type]
            assert result.valid is True, (level, weaker, sorted(result.anomaly_kinds))
