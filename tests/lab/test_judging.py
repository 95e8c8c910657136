"""The typed measurement contract: flatten and rebuild round-trip, evidence compares honestly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from archlab.lab.judging import (
    Evidence,
    Judgement,
    Threshold,
    flatten,
    holds,
    rebuild,
    refuted,
    rejudge,
)

GOAL = Threshold(2.0, "x", "a test's own goal")


@dataclass(frozen=True)
class Inner:
    ratio: float
    label: str


@dataclass(frozen=True)
class Outer:
    count: int
    per_mode: dict[str, float]
    rows: list[Inner]
    pair: tuple[float, ...]
    missing: float | None
    nested: Inner


def _sample() -> Outer:
    return Outer(
        count=3,
        per_mode={"a": 1.5, "c": 2.0},
        rows=[Inner(1.0, "x"), Inner(2.5, "y")],
        pair=(1.0, 2.0),
        missing=None,
        nested=Inner(0.5, "z"),
    )


def test_flatten_names_every_scalar_by_its_path() -> None:
    flat = flatten(_sample())
    assert flat["count"] == 3
    assert flat["rows[1].ratio"] == 2.5
    assert flat["nested.label"] == "z"
    assert flat["missing"] is None


def test_rebuild_inverts_flatten() -> None:
    sample = Outer(
        count=3,
        per_mode={"b": 1.5, "c": 2.0},
        rows=[Inner(1.0, "x"), Inner(2.5, "y")],
        pair=(1.0, 2.0),
        missing=None,
        nested=Inner(0.5, "z"),
    )
    assert rebuild(Outer, flatten(sample)) == sample


def test_rebuild_refuses_a_missing_value() -> None:
    flat = flatten(_sample())
    del flat["nested.ratio"]
    with pytest.raises(KeyError, match=r"nested\.ratio"):
        rebuild(Outer, flat)


def test_non_finite_values_are_stored_as_none() -> None:
    assert flatten(Inner(float("nan"), "x"))["ratio"] is None


def test_flatten_refuses_keys_that_would_not_rebuild() -> None:
    with pytest.raises(ValueError, match="plain name"):
        flatten({"a.b": 1.0})


def test_flatten_refuses_objects_that_are_not_measurements() -> None:
    with pytest.raises(TypeError, match="not a scalar"):
        flatten({"x": object()})


@pytest.mark.parametrize(
    ("value", "at_least", "met"),
    [(2.0, True, True), (1.99, True, False), (2.0, False, True), (2.01, False, False)],
)
def test_evidence_compares_against_its_threshold(value: float, at_least: bool, met: bool) -> None:
    ev = (
        Evidence("r", value, "x", at_least=GOAL) if at_least else Evidence("r", value, at_most=GOAL)
    )
    assert ev.met is met
    assert ev.to_dict()["source"] == "a test's own goal"


def test_evidence_without_a_number_is_not_met_or_missed() -> None:
    assert Evidence("label", "fast", at_least=GOAL).met is None
    assert Evidence("count", 3).met is None
    assert Evidence("nan", float("nan"), at_least=GOAL).met is False


def test_a_threshold_must_name_its_source() -> None:
    with pytest.raises(ValueError, match="source"):
        Threshold(1.0, "x", "  ")


def test_evidence_takes_one_direction() -> None:
    with pytest.raises(ValueError, match="not both"):
        Evidence("r", 1.0, at_least=GOAL, at_most=GOAL)


def _judge(m: Inner) -> Judgement:
    ev = Evidence("ratio", m.ratio, "x", at_least=GOAL)
    return holds("fast", ev) if ev.met else refuted("slow", ev)


def test_rejudge_reads_the_judges_own_type_from_stored_values() -> None:
    assert rejudge(_judge, flatten(Inner(3.0, "a"))).verdict == "holds"
    assert rejudge(_judge, flatten(Inner(1.0, "a"))).verdict == "refuted"
