"""Results: JSON round trips, atomic saving, and clear errors for files that are not results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from archlab.errors import InputFormatError
from archlab.lab import Band, Column, Figure, Heatmap, RefLine, Result, Series, Table
from archlab.lab.result import Environment

ENV = Environment("0.1.0", "3.11.7", "cpu", 2, "linux", "2026-01-01T00:00:00+00:00")


def make_result(**changes: object) -> Result:
    table = Table("t", [Column("name"), Column("rate", "MB/s")], [["a", 1.5], ["b", None]])
    figure = Figure(
        "f",
        "x",
        "y",
        [Series("s", [1.0, 2.0], [3.0, 4.0]), Series("b", ["p", "q"], [1.0, 2.0], style="bar")],
        bands=[Band(0, 1, "fault")],
        ref_lines=[RefLine(2.0, "theory")],
    )
    heat = Figure("h", heatmap=Heatmap(["a", "b"], ["y"], [[1.0, 2.0]], [["1", "2"]], "z"))
    fields: dict[str, object] = dict(
        id="demo.thing",
        section="4.2",
        title="T",
        claim="C",
        method="M",
        profile="quick",
        seed=3,
        params={"n": 1, "sizes": [1, 2]},
        command="archlab run demo.thing",
        environment=ENV,
        wall_time_s=1.25,
        summary="S",
        values={"ratio": 2.5, "ok": True},
        verdict="holds",
        reason="because 2.5",
        tables=[table],
        figures=[figure, heat],
        notes=["n"],
        references=["ref"],
    )
    fields.update(changes)
    return Result(**fields)  # type: ignore[arg-type]


def test_round_trip_through_json(tmp_path: Path) -> None:
    result = make_result()
    path = result.save(tmp_path)
    assert path == tmp_path / "demo.thing.json"
    assert Result.load(path) == result
    assert not list(tmp_path.glob("*.tmp"))


def test_non_finite_numbers_become_null() -> None:
    result = make_result(values={"nan": math.nan, "inf": math.inf})
    data = json.loads(result.to_json())
    assert data["values"] == {"nan": None, "inf": None}


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=20),
            st.booleans(),
            st.none(),
        ),
        max_size=8,
    )
)
def test_any_measured_values_survive_the_round_trip(values: dict[str, object]) -> None:
    result = make_result(values=values)
    assert Result.from_dict(json.loads(result.to_json())).values == values


def test_a_row_of_the_wrong_width_is_a_bug() -> None:
    table = Table("t", [Column("a"), Column("b")])
    with pytest.raises(ValueError, match="1 cells for 2 columns"):
        table.add(1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x"}', "missing field"),
        ('{"schema": 99}', "schema 99"),
    ],
)
def test_malformed_files_are_reported_with_their_path(
    tmp_path: Path,
    content: str,
    message: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputFormatError, match=message) as info:
        Result.load(path)
    assert str(path) in str(info.value)


def test_an_unknown_verdict_is_rejected(tmp_path: Path) -> None:
    data = make_result().to_dict()
    data["verdict"] = "probably"
    with pytest.raises(InputFormatError, match="verdict"):
        Result.from_dict(data, "x.json")
