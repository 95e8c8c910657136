"""The kernel: time order, deterministic ties, cancellable timers, limits, random streams."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archlab.sim.kernel import Simulation
from archlab.sim.trace import Trace


def test_callbacks_run_in_time_order_and_advance_the_clock() -> None:
    sim = Simulation()
    seen: list[tuple[float, str]] = []
    sim.after(0.3, lambda: seen.append((sim.now, "c")))
    sim.after(0.1, lambda: seen.append((sim.now, "a")))
    sim.at(0.2, lambda: seen.append((sim.now, "b")))
    assert sim.run() == "idle"
    assert seen == [(0.1, "a"), (0.2, "b"), (0.3, "c")]
    assert sim.now == 0.3
    assert sim.events_run == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=60))
def test_ties_run_in_scheduling_order(times: list[int]) -> None:
    sim = Simulation()
    ran: list[int] = []
    for i, t in enumerate(times):
        sim.at(float(t), ran.append, i)
    sim.run()
    expected = sorted(range(len(times)), key=lambda i: (times[i], i))
    assert ran == expected


def test_callbacks_scheduled_while_running_keep_the_order() -> None:
    sim = Simulation()
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        sim.after(0.0, ran.append, "scheduled-now")

    sim.at(1.0, first)
    sim.at(1.0, ran.append, "second")
    sim.run()
    assert ran == ["first", "second", "scheduled-now"]


def test_cancelled_timer_never_fires() -> None:
    sim = Simulation()
    ran: list[str] = []
    keep = sim.timer(1.0, ran.append, "kept")
    drop = sim.timer(0.5, ran.append, "dropped")
    drop.cancel()
    assert not drop.active and keep.active
    sim.run()
    assert ran == ["kept"]
    assert not keep.active
    keep.cancel()  # cancelling a fired timer is harmless


def test_run_stops_at_a_time_and_resumes() -> None:
    sim = Simulation()
    ran: list[float] = []
    for t in (1.0, 2.0, 3.0):
        sim.at(t, lambda: ran.append(sim.now))
    assert sim.run(until=2.5) == "time"
    assert ran == [1.0, 2.0] and sim.now == 2.5
    assert sim.run() == "idle"
    assert ran == [1.0, 2.0, 3.0]


def test_run_stops_on_a_predicate_and_on_an_event_budget() -> None:
    sim = Simulation()
    count = {"n": 0}

    def tick() -> None:
        count["n"] += 1
        sim.after(1.0, tick)

    sim.after(0.0, tick)
    assert sim.run(stop_when=lambda: count["n"] == 5) == "predicate"
    assert count["n"] == 5
    assert sim.run(max_events=10) == "budget"
    assert count["n"] == 15


def test_stop_ends_the_run_after_the_current_callback() -> None:
    sim = Simulation()
    ran: list[int] = []
    sim.at(1.0, lambda: (ran.append(1), sim.stop()))
    sim.at(2.0, ran.append, 2)
    assert sim.run() == "stopped"
    assert ran == [1]
    assert sim.pending == 1


def test_the_past_cannot_be_scheduled() -> None:
    sim = Simulation()
    sim.at(1.0, lambda: None)
    sim.run()
    with pytest.raises(ValueError):
        sim.at(0.5, lambda: None)
    with pytest.raises(ValueError):
        sim.after(-0.1, lambda: None)


def test_random_streams_are_reproducible_and_independent() -> None:
    a, b = Simulation(seed=7), Simulation(seed=7)
    assert a.rng("net") is a.rng("net")
    first = [a.rng("net").random() for _ in range(5)]
    # Drawing from another stream first does not shift "net".
    b.rng("disk").random()
    assert [b.rng("net").random() for _ in range(5)] == first
    assert Simulation(seed=8).rng("net").random() != first[0]
    assert a.rng("disk").random() != first[0]


def test_trace_records_are_stamped_and_serialised_deterministically() -> None:
    sim = Simulation()
    sim.at(0.25, lambda: sim.record("fault", kind="crash", targets={"n2", "n1"}))
    sim.run()
    assert sim.trace.dumps() == (
        '{"time":0.25,"event":"fault","kind":"crash","targets":["n1","n2"]}\n'
    )
    quiet = Simulation(trace=Trace(enabled=False))
    quiet.record("fault", kind="crash")
    assert len(quiet.trace) == 0
