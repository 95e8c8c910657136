"""Property tests: the checker agrees with the definition, accepts every history a correct
object produces, and rejects every history with one injected violation."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings, strategies as st

from archlab.check import history
from archlab.check.generate import register_history
from archlab.check.history import Event, Operation
from archlab.check.linearizability import check_linearizable
from archlab.check.models import CasRegister, Model, get_model

from .builders import ANOMALIES, brute_force, inject, replay, with_tail

MODELS = ("register", "cas-register")


@st.composite
def small_histories(draw: st.DrawFn, model: str) -> list[Event]:
    """Arbitrary small histories over values 0..2: many illegal, some legal."""
    fs = ["read", "write"] + (["cas"] if model != "register" else [])
    values = st.integers(0, 2)
    events: list[Event] = []
    pending: dict[int, tuple[str, object]] = {}
    invoked = 0
    for _ in range(draw(st.integers(2, 14))):
        process = draw(st.integers(0, 2))
        if process not in pending:
            if invoked >= 6:
                continue
            f = draw(st.sampled_from(fs))
            value: object = None
            if f == "write":
                value = draw(values)
            elif f == "cas":
                value = (draw(values), draw(values))
            pending[process] = (f, value)
            invoked += 1
            events.append(Event(process, "invoke", f, value))
            continue
        f, value = pending.pop(process)
        kind = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
        output = draw(st.one_of(st.none(), values)) if f == "read" else value
        events.append(Event(process, kind, f, output))  # type: ignore[arg-type]
    return events


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_search_agrees_with_brute_force(model: str, data: st.DataObject) -> None:
    events = data.draw(small_histories(model))
    initial = data.draw(st.sampled_from([None, 0]))
    ops = history.pair(events)
    result = check_linearizable(ops, model, initial=initial)
    assert result.valid is brute_force(ops, get_model(model), initial)
    if result.valid:
        (key,) = result.keys or [None]
        if key is not None:
            assert replay(key.linearization, get_model(model), initial)


generated = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32),
        "processes": st.integers(1, 8),
        "ops": st.integers(0, 80),
        "info_rate": st.sampled_from([0.0, 0.1, 0.3]),
        "fail_rate": st.sampled_from([0.0, 0.05]),
        "values": st.integers(1, 5),
    }
)


@pytest.mark.parametrize("kind", ["register", "cas-register", "kv"])
@settings(max_examples=60, deadline=None)
@given(params=generated, keys=st.integers(1, 3))
def test_a_correct_object_always_passes(kind: str, params: dict[str, int], keys: int) -> None:
    seed = params.pop("seed")
    events = register_history(
        random.Random(seed),
        kind=kind,
        keys=keys if kind == "kv" else 1,
        **params,  # type: ignore[arg-type]
    )
    result = check_linearizable(events, kind, time_limit=30)
    assert result.valid is True, result.anomalies
    model = get_model(kind)
    for key in result.keys:
        assert replay(key.linearization, model)
        placed = [op.index for op in key.linearization]
        assert len(placed) == len(set(placed))


@pytest.mark.parametrize("anomaly", ANOMALIES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    processes=st.integers(1, 6),
    ops=st.integers(0, 60),
    info_rate=st.sampled_from([0.0, 0.2]),
    tail=st.booleans(),
)
def test_one_injected_violation_always_fails(
    anomaly: str, seed: int, processes: int, ops: int, info_rate: float, tail: bool
) -> None:
    rng = random.Random(seed)
    events = register_history(
        rng,
        kind="cas-register",
        processes=processes,
        ops=ops,
        info_rate=info_rate,
        distinct=True,
    )
    broken = None if tail else inject(events, anomaly, rng)
    if broken is None:  # no site in this history: give it one after the fact
        broken = inject(with_tail(events), anomaly, rng)
    assert broken is not None
    assert check_linearizable(with_tail(events), "cas-register").valid is True
    result = check_linearizable(broken, "cas-register", time_limit=30)
    assert result.valid is False
    assert result.anomalies and result.highlight


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), keys=st.integers(2, 5), anomaly=st.sampled_from(ANOMALIES))
def test_kv_pins_the_violation_on_its_key(seed: int, keys: int, anomaly: str) -> None:
    rng = random.Random(seed)
    events = register_history(rng, kind="kv", keys=keys, ops=80, processes=5, distinct=True)
    broken = inject(with_tail(events, key="k0"), anomaly, random.Random(0))
    assert broken is not None
    # Confine the injection to one key so the verdict can be pinned on it.
    tainted = {e.key for e, b in zip(events, broken, strict=False) if e != b} or {"k0"}
    result = check_linearizable(broken, "kv")
    assert result.valid is False
    assert {k.key for k in result.failures} <= tainted


class WritesClaimToBeReads(CasRegister):
    """Broken on purpose: every operation claims to be read-only, so the search places any
    legal write at once and never tries the alternatives."""

    name = "broken-read-only"

    def read_only(self, op: Operation) -> bool:
        return True


class EveryUnknownOpIsATwin(CasRegister):
    """Broken on purpose: all unknown operations claim one footprint, so only the earliest
    is ever tried."""

    name = "broken-footprint"

    def footprint(self, op: Operation) -> Hashable | None:
        return "same"


@pytest.mark.parametrize("broken", [WritesClaimToBeReads(), EveryUnknownOpIsATwin()])
def test_the_brute_force_comparison_catches_an_unsound_reduction(broken: Model) -> None:
    def disagrees(events: list[Event]) -> bool:
        ops = history.pair(events)
        return check_linearizable(ops, broken).valid is not brute_force(ops, broken)

    found = find(
        small_histories("cas-register"),
        disagrees,
        settings=settings(max_examples=3000, database=None, phases=[Phase.generate]),
    )
    assert disagrees(found)
