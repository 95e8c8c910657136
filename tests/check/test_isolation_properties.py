"""Property tests: the isolation checker against the definition of serializability, against
databases that implement each level correctly, and against injected anomalies."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.check import history
from archlab.check.anomalies import FORBIDDEN
from archlab.check.databases import Isolation, txn_history
from archlab.check.history import Event
from archlab.check.isolation import check_isolation

from .builders import (
    INJECTED_CLASSES,
    LIST_APPEND_ONLY,
    TXN_ANOMALIES,
    brute_serializable,
    inject_txn,
    numbered,
    serial_txn_history,
    txn,
    txn_tail,
    with_anomaly,
)

LEVELS: tuple[Isolation, ...] = (
    "read-committed",
    "snapshot-isolation",
    "serializable",
    "strict-serializable",
)


@st.composite
def tiny_histories(draw: st.DrawFn, workload: str) -> list[Event]:  # noqa: PLR0912, PLR0915 - one Hypothesis strategy drawing every operation shape of a workload
    """2-4 transactions on two keys, their reads taken from some serial execution and then,
    often, tampered with: a mix of serializable and not."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    write_f = "append" if workload == "list-append" else "w"
    n = draw(st.integers(2, 4))
    counter = 0
    plans = []
    for _ in range(n):
        plan = []
        for _ in range(rng.randint(1, 3)):
            key = rng.choice("xy")
            if rng.random() < 0.5:
                plan.append(["r", key, None])
            else:
                counter += 1
                plan.append([write_f, key, counter])
        plans.append(plan)
    statuses = [rng.choice(["ok", "ok", "ok", "fail", "info"]) for _ in range(n)]
    # Execute the effective ones in a random serial order to fill in plausible reads.
    state: dict[str, Any] = {}
    done = [list(map(list, plan)) for plan in plans]
    for i in rng.sample(range(n), n):
        if statuses[i] == "fail" or (statuses[i] == "info" and rng.random() < 0.5):
            continue
        for m in done[i]:
            f, key, value = m
            if f == "append":
                state[key] = [*state.get(key, []), value]
            elif f == "w":
                state[key] = value
            else:
                m[2] = list(state.get(key, [])) if workload == "list-append" else state.get(key)
    written = {
        key: [m[2] for p in plans for m in p if m[0] == write_f and m[1] == key] for key in "xy"
    }
    for m in (m for plan in done for m in plan if m[0] == "r"):  # tamper
        if rng.random() < 0.4:
            if workload == "list-append":
                seen = list(m[2] or [])
                how = rng.choice(["truncate", "extend", "reorder"])
                if how == "truncate":
                    seen = seen[: rng.randint(0, len(seen))]
                elif how == "extend" and written[m[1]]:
                    extra = rng.choice(written[m[1]])
                    seen = seen if extra in seen else [*seen, extra]
                else:
                    rng.shuffle(seen)
                m[2] = seen
            else:
                m[2] = rng.choice([None, *written[m[1]]])
    # Interleave invocations and completions at random.
    events: list[Event] = []
    open_txns: list[int] = []
    waiting = list(range(n))
    rng.shuffle(waiting)
    while waiting or open_txns:
        if waiting and (not open_txns or rng.random() < 0.5):
            i = waiting.pop()
            events.append(txn(i, "invoke", *map(tuple, plans[i])))
            open_txns.append(i)
        else:
            i = open_txns.pop(rng.randrange(len(open_txns)))
            mops = done[i] if statuses[i] == "ok" else plans[i]
            events.append(txn(i, statuses[i], *map(tuple, mops)))
    return numbered(events)


@settings(max_examples=300, deadline=None)
@given(events=tiny_histories("list-append"))
def test_list_append_verdicts_match_the_definition(events: list[Event]) -> None:
    ops = history.pair(events)
    for level, realtime in (("serializable", False), ("strict-serializable", True)):
        result = check_isolation(events, workload="list-append", consistency=level)  # type: ignore[arg-type]
        truth = brute_serializable(ops, "list-append", realtime=realtime)
        if result.valid == "unknown":
            continue
        assert result.valid is truth, (level, [a.explanation for a in result.anomalies])


@settings(max_examples=300, deadline=None)
@given(events=tiny_histories("rw-register"))
def test_rw_register_never_accuses_a_serializable_history(events: list[Event]) -> None:
    ops = history.pair(events)
    for level, realtime in (("serializable", False), ("strict-serializable", True)):
        if brute_serializable(ops, "rw-register", realtime=realtime):
            result = check_isolation(events, workload="rw-register", consistency=level)  # type: ignore[arg-type]
            assert result.valid is not False, [a.explanation for a in result.anomalies]


@pytest.mark.parametrize("workload", ["list-append", "rw-register"])
@pytest.mark.parametrize("level", LEVELS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    processes=st.integers(1, 8),
    txns=st.integers(0, 120),
    keys=st.integers(1, 6),
    info_rate=st.sampled_from([0.0, 0.1]),
)
def test_a_correct_database_passes_at_its_level_and_below(
    workload: str,
    level: Isolation,
    seed: int,
    processes: int,
    txns: int,
    keys: int,
    info_rate: float,
) -> None:
    events = txn_history(
        random.Random(seed),
        workload=workload,
        isolation=level,  # type: ignore[arg-type]
        processes=processes,
        txns=txns,
        keys=keys,
        info_rate=info_rate,
    )
    for weaker in LEVELS[: LEVELS.index(level) + 1]:
        result = check_isolation(events, workload=workload, consistency=weaker)  # type: ignore[arg-type]
        assert result.valid is not False, (weaker, [a.explanation for a in result.forbidden])


@pytest.mark.parametrize(
    ("level", "stronger", "expected"),
    [
        ("read-committed", "snapshot-isolation", {"G-single", "G2"}),
        ("snapshot-isolation", "serializable", {"G2"}),
        ("serializable", "strict-serializable", {"G-single-realtime"}),
    ],
)
@pytest.mark.parametrize("workload", ["list-append", "rw-register"])
def test_each_weaker_database_is_caught_at_the_next_level(
    workload: str, level: Isolation, stronger: str, expected: set[str]
) -> None:
    caught = set()
    for seed in range(10):
        events = txn_history(
            random.Random(seed),
            workload=workload,
            isolation=level,
            txns=150,  # type: ignore[arg-type]
            keys=3,
            processes=6,
        )
        result = check_isolation(events, workload=workload, consistency=stronger)  # type: ignore[arg-type]
        if result.valid is False:
            caught |= {a.kind for a in result.forbidden}
    assert caught & expected


INJECTED_LEVEL = {
    "aborted-read": ("read-committed", "G1a"),
    "intermediate-read": ("read-committed", "G1b"),
    "fractured-read": ("snapshot-isolation", "G-single"),
    "stale-read-realtime": ("strict-serializable", None),
}


@pytest.mark.parametrize("anomaly", TXN_ANOMALIES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), txns=st.integers(0, 60), tail=st.booleans())
def test_one_injected_anomaly_always_fails(anomaly: str, seed: int, txns: int, tail: bool) -> None:
    rng = random.Random(seed)
    events = txn_history(rng, workload="list-append", txns=txns, keys=3, processes=5)
    broken = None if tail else inject_txn(events, anomaly, rng)
    if broken is None:
        broken = inject_txn(txn_tail(events), anomaly, rng)
    assert broken is not None
    level, kind = INJECTED_LEVEL[anomaly]
    result = check_isolation(broken, workload="list-append", consistency=level)  # type: ignore[arg-type]
    assert result.valid is False
    if kind is not None:
        assert kind in result.anomaly_kinds
    clean = check_isolation(
        txn_tail(events), workload="list-append", consistency="strict-serializable"
    )
    assert clean.valid is True


@pytest.mark.parametrize("workload", ["list-append", "rw-register"])
@pytest.mark.parametrize("anomaly", sorted(INJECTED_CLASSES))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), txns=st.integers(0, 40), keys=st.integers(1, 4))
def test_a_serial_history_is_valid_and_one_injected_anomaly_is_judged_at_every_level(
    workload: str, anomaly: str, seed: int, txns: int, keys: int
) -> None:
    if workload == "rw-register" and anomaly in LIST_APPEND_ONLY:
        return
    rng = random.Random(seed)
    events, state = serial_txn_history(rng, workload, txns, keys)
    for level in LEVELS:
        clean = check_isolation(events, workload=workload, consistency=level)  # type: ignore[arg-type]
        assert clean.valid is not False, (level, [a.explanation for a in clean.anomalies])
    broken = with_anomaly(events, state, workload, anomaly, rng)
    kind = INJECTED_CLASSES[anomaly]
    for level in LEVELS:
        result = check_isolation(broken, workload=workload, consistency=level)  # type: ignore[arg-type]
        assert kind in result.anomaly_kinds, (level, [a.explanation for a in result.anomalies])
        forbidden = kind in FORBIDDEN[level]
        assert result.valid is (not forbidden), (level, result.reason)
