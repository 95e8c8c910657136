"""A benchmark ratio is met, not met or not established depending on where its spread lies."""

from __future__ import annotations

import pytest

from archlab.lab.bench import Ratio


def test_paired_rounds_give_the_median_and_the_spread() -> None:
    r = Ratio.of_rounds("x", [10.0, 30.0, 20.0], [10.0, 10.0, 10.0], goal=1.5)
    assert r.value == 2.0 and r.spread == (1.0, 3.0)
    assert r.spread_text == "1.00–3.00x"


@pytest.mark.parametrize(
    ("ours", "status"),
    [
        ([3.1, 3.5, 4.0], "met"),  # the whole spread above the goal
        ([2.0, 2.5, 2.9], "not met"),  # the whole spread below it
        ([2.8, 3.2, 3.6], "not established"),  # the goal inside the spread
    ],
)
def test_higher_is_better(ours: list[float], status: str) -> None:
    r = Ratio.of_rounds("x", ours, [1.0, 1.0, 1.0], goal=3.0)
    assert r.status == status
    assert r.met is (status == "met")


@pytest.mark.parametrize(
    ("ours", "status"),
    [([0.5, 0.6, 0.7], "met"), ([1.1, 1.3, 1.2], "not met"), ([0.8, 0.9, 1.2], "not established")],
)
def test_lower_is_better(ours: list[float], status: str) -> None:
    r = Ratio.of_rounds("p99", ours, [1.0, 1.0, 1.0], goal=1.0, higher_is_better=False)
    assert r.status == status


def test_without_a_spread_the_value_alone_decides() -> None:
    assert Ratio("published", 2.5, goal=2.0).status == "met"
    assert Ratio("published", 1.5, goal=2.0).status == "not met"
    assert Ratio("published", 1.5, goal=2.0).spread_text == "–"


def test_no_goal_or_no_peer_has_no_status() -> None:
    assert Ratio.of_rounds("x", [1.0], [2.0]).status is None
    missing = Ratio.of_rounds("x", [1.0, 2.0], None, goal=1.0)
    assert missing.value is None and missing.status is None and missing.met is None


def test_rounds_must_pair_up() -> None:
    with pytest.raises(ValueError, match="3 rounds against 2"):
        Ratio.of_rounds("x", [1.0, 2.0, 3.0], [1.0, 2.0])
