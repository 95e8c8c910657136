"""``archlab sim twopc|spanner|saga``: exit codes, reproduction, determinism, help."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.txn.scenarios import run


def test_a_correct_run_exits_zero_and_prints_its_reproduction() -> None:
    result = run_cli(["sim", "twopc", "--seed", "3", "--nemesis", "partition,crash"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "atomic and strictly serializable" in result.stdout
    assert "archlab sim twopc --seed 3 --nemesis partition,crash" in result.stdout


def test_a_broken_variant_exits_one() -> None:
    result = run_cli(
        ["sim", "saga", "--variant", "no-idempotency", "--seed", "1", "--nemesis", "loss,dup"]
    )
    assert result.exit_code == 1
    assert "applied 2 time(s)" in result.stdout


def test_bad_options_are_one_line_errors() -> None:
    result = run_cli(["sim", "spanner", "--variant", "sundial", "--seed", "1"])
    assert result.exit_code == 2 and "sundial" in result.stderr


@pytest.mark.parametrize("name", ["twopc", "spanner", "saga"])
def test_help_has_examples(name: str) -> None:
    result = run_cli(["sim", name, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.stdout


@pytest.mark.parametrize(
    ("name", "options"),
    [("twopc", {}), ("spanner", {}), ("saga", {"design": "choreography"})],
)
def test_the_same_seed_gives_the_same_history_and_trace(name: str, options: dict[str, str]) -> None:
    first, _ = run(name, 5, "partition,crash,loss", ops=80, **options)
    second, _ = run(name, 5, "partition,crash,loss", ops=80, **options)
    assert first.history_text() == second.history_text()
    assert first.trace.dumps() == second.trace.dumps()
