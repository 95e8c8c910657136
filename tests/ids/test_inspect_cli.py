"""``archlab id new`` and ``archlab id inspect``: detection by shape, JSON fields, errors."""

from __future__ import annotations

import json

import pytest

from archlab.ids.generators import KINDS
from archlab.ids.inspection import inspect_id
from tests.conftest import run_cli
from tests.lab.test_cli import assert_one_line_error

EXAMPLES = {
    "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "ksuid": "0ujtsYcgvSTl8PAuAdqWYSMnLOv",
    "uuid7": "017F22E2-79B0-7CC3-98C4-DC0C0C07398F",
    "uuid4": "919108f7-52d1-4320-9bac-f847db4148a8",
    "snowflake": "1541815603606036480",
}


@pytest.mark.parametrize("kind", KINDS)
def test_inspect_json_detects_each_kind(kind: str) -> None:
    result = run_cli(["id", "inspect", EXAMPLES[kind], "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == kind
    expected = {
        "ulid": {"timestamp_ms": 1469922850259, "random_hex": "d6764c61efb99302bd5b"},
        "ksuid": {
            "timestamp_ms": 1507608047000,
            "payload_hex": "b5a1cd34b5f99d1154fb6853345c9735",
        },
        "uuid7": {"timestamp_ms": 1645557742000, "rand_a": 0xCC3},
        "uuid4": {"timestamp_ms": None, "version": 4},
        "snowflake": {"timestamp_ms": 1656432460105, "machine": 378, "sequence": 0},
    }[kind]
    assert expected.items() <= data.items()
    assert ("random_hex" in data) or ("payload_hex" in data) or ("machine" in data)


def test_inspect_text_output_names_the_parts() -> None:
    result = run_cli(["id", "inspect", EXAMPLES["snowflake"]])
    assert result.exit_code == 0
    assert "snowflake" in result.stdout and "378" in result.stdout
    assert "2022-06-28T16:07:40.105Z" in result.stdout


def test_inspect_epoch_option_reads_other_layouts() -> None:
    data = json.loads(
        run_cli(
            ["id", "inspect", "175928847299117063", "--epoch", "1420070400000", "--json"]
        ).stdout
    )
    assert data["timestamp_ms"] == 1462015105796 and data["sequence"] == 7
    assert data["plausible"] is True


def test_a_number_from_another_epoch_is_flagged_not_refused() -> None:
    # Any integer below 2**63 decodes; this one, under Twitter's epoch, lands in 2078.
    found = inspect_id("9000000000000000000", now_ms=1_700_000_000_000)
    assert found.kind == "snowflake" and found.fields["plausible"] is False
    assert any("another epoch" in n for n in found.notes)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("81ARZ3NDEKTSV4RRFFQ69G5FAV", "above '7'"),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAI", "Crockford"),
        ("aWgEPTl1tmebfsQzFP4bxwgy80W", "160 bits"),
        ("017F22E2-79B0-7CC3-98C4-DC0C0C07398G", "invalid UUID"),
        ("c232ab00-9414-11ec-b3c8-9f6bdeced846", "version 1"),
        ("99999999999999999999", "2**63"),
        ("hello", "not a ULID"),
        ("", "empty"),
        ("12-5", "not a ULID"),
    ],
)
def test_invalid_values_are_one_line_errors(value: str, fragment: str) -> None:
    assert_one_line_error(run_cli(["id", "inspect", value]), fragment)


@pytest.mark.parametrize("kind", KINDS)
def test_new_prints_n_ids_that_inspect_as_their_kind(kind: str) -> None:
    result = run_cli(["id", "new", kind, "-n", "20", "--machine", "9"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split()
    assert len(lines) == 20 == len(set(lines))
    found = [inspect_id(line) for line in lines]
    assert {f.kind for f in found} == {kind}
    if kind == "snowflake":
        assert {f.fields["machine"] for f in found} == {9}
        assert [int(x) for x in lines] == sorted(int(x) for x in lines)
    if kind in ("ulid", "uuid7"):
        assert lines == sorted(lines, key=str.lower)


def test_new_rejects_unknown_kinds_and_bad_counts() -> None:
    assert_one_line_error(run_cli(["id", "new", "uuid1"]), "uuid1")
    assert_one_line_error(run_cli(["id", "new", "ulid", "-n", "0"]), "-n")


def test_help_has_examples() -> None:
    for args in (["id", "--help"], ["id", "new", "--help"], ["id", "inspect", "--help"]):
        result = run_cli(args)
        assert result.exit_code == 0 and "Examples:" in result.stdout
