"""``archlab check``: verdicts, exit codes, JSON, timelines and bad input."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from archlab.check import history
from archlab.check.generate import register_history
from archlab.check.history import Event
from tests.conftest import run_cli

from .builders import h, run

STALE = h(
    (0, "invoke", "write", 1, "x"),
    (0, "ok", "write", 1, "x"),
    (1, "invoke", "read", None, "x"),
    (1, "ok", "read", None, "x"),
)
FRESH = [*STALE[:3], Event(1, "ok", "read", 1, "x")]


def write(tmp_path: Path, events: list[Event], name: str = "h.jsonl") -> str:
    path = tmp_path / name
    history.dump(events, path)
    return str(path)


def skew(tmp_path: Path) -> str:
    """Write skew: both read the other's key empty, then append to their own."""
    lines = [
        {
            "process": 1,
            "type": "invoke",
            "f": "txn",
            "value": [["r", "x", None], ["append", "y", 1]],
        },
        {
            "process": 2,
            "type": "invoke",
            "f": "txn",
            "value": [["r", "y", None], ["append", "x", 1]],
        },
        {"process": 1, "type": "ok", "f": "txn", "value": [["r", "x", []], ["append", "y", 1]]},
        {"process": 2, "type": "ok", "f": "txn", "value": [["r", "y", []], ["append", "x", 1]]},
    ]
    path = tmp_path / "skew.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_a_linearizable_history_exits_0(tmp_path: Path) -> None:
    result = run_cli(["check", "linearizable", "--model", "kv", write(tmp_path, FRESH)])
    assert result.exit_code == 0, result.stderr
    assert "✓ linearizable" in result.stdout


def test_a_stale_read_exits_1_and_is_explained(tmp_path: Path) -> None:
    result = run_cli(["check", "linearizable", "--model", "register", write(tmp_path, STALE)])
    assert result.exit_code == 1
    assert "✗ not linearizable" in result.stdout
    assert "read -> null by process 1 (line 3) cannot take effect" in result.stdout
    assert "longest linearizable prefix" in result.stdout and "could not be placed" in result.stdout


def test_json_has_valid_and_anomalies(tmp_path: Path) -> None:
    result = run_cli(["check", "linearizable", "--json", write(tmp_path, STALE)])
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert data["valid"] is False
    assert data["anomalies"][0]["op"]["line"] == 3
    assert data["keys"][0]["key"] == "x"


def test_initial_value(tmp_path: Path) -> None:
    path = write(tmp_path, STALE[2:])  # a lone read of null
    assert run_cli(["check", "linearizable", path]).exit_code == 0
    assert run_cli(["check", "linearizable", "--initial", "0", path]).exit_code == 1
    assert run_cli(["check", "linearizable", "--initial", "null", path]).exit_code == 0


def test_a_search_cut_short_exits_3(tmp_path: Path) -> None:
    events = register_history(
        random.Random(0), kind="register", ops=2000, processes=20, distinct=True, info_rate=0
    )
    result = run_cli(
        [
            "check",
            "linearizable",
            "--model",
            "register",
            "--max-steps",
            "100",
            "--json",
            write(tmp_path, events),
        ]
    )
    assert result.exit_code == 3
    assert json.loads(result.stdout)["valid"] == "unknown"


def test_a_timeline_is_written(tmp_path: Path) -> None:
    out = tmp_path / "t.html"
    result = run_cli(["check", "linearizable", "--timeline", str(out), write(tmp_path, STALE)])
    assert result.exit_code == 1
    page = out.read_text()
    assert 'class="op bad"' in page and "cannot take effect" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0, "type": "done"}\n',
            r"h\.jsonl:2: missing field 'f'",
        ),
        ('{"process": 0, "type": "invoke", "f": "cas", "value": 3}\n', r"h\.jsonl:1: a cas takes"),
        ("not json\n", r"h\.jsonl:1: not valid JSON"),
    ],
)
def test_bad_input_exits_2_with_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(content)
    result = run_cli(["check", "linearizable", "--model", "cas-register", str(path)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert re.search(message, result.stderr), result.stderr


def test_an_unknown_model_exits_2(tmp_path: Path) -> None:
    result = run_cli(["check", "linearizable", "--model", "regster", write(tmp_path, FRESH)])
    assert result.exit_code == 2
    assert "did you mean 'register'" in result.stderr


def test_isolation_verdicts_and_exit_codes(tmp_path: Path) -> None:
    path = skew(tmp_path)
    base = ["check", "isolation", "--model", "list-append"]
    assert run_cli([*base, "--consistency", "snapshot-isolation", path]).exit_code == 0
    result = run_cli([*base, "--consistency", "serializable", path])
    assert result.exit_code == 1
    assert "✗ not serializable" in result.stdout
    assert "G2" in result.stdout and "cycle T0 → T1 → T0" in result.stdout
    assert " rw " in result.stdout  # the edges of the cycle, each with its reason
    data = json.loads(run_cli([*base, "--consistency", "serializable", "--json", path]).stdout)
    assert data["valid"] is False and data["anomalies"][0]["kind"] == "G2"


def test_isolation_with_nothing_committed_exits_3(tmp_path: Path) -> None:
    path = write(tmp_path, run((1, [("append", "x", 1)], "fail")))
    result = run_cli(["check", "isolation", "--json", path])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["valid"] == "unknown"


def test_isolation_bad_input_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, FRESH)  # not transactions
    result = run_cli(["check", "isolation", path])
    assert result.exit_code == 2
    assert "h.jsonl:1: expected 'f': 'txn'" in result.stderr


def test_isolation_timeline(tmp_path: Path) -> None:
    out = tmp_path / "skew.html"
    result = run_cli(["check", "isolation", "--timeline", str(out), skew(tmp_path)])
    assert result.exit_code == 1
    assert out.read_text().count('class="op bad"') == 2


@pytest.mark.parametrize("args", [["check"], ["check", "linearizable"], ["check", "isolation"]])
def test_every_command_has_help_with_examples(args: list[str]) -> None:
    result = run_cli([*args, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout


def test_an_empty_history_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    refused = run_cli(["check", "linearizable", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"archlab: error: check linearizable: {path}: the history is empty, so there is "
        "nothing to check (--allow-empty accepts it as valid)"
    ]
    allowed = run_cli(["check", "linearizable", "--allow-empty", str(path)])
    assert allowed.exit_code == 0
    assert "the history is empty" in allowed.stderr


@pytest.mark.parametrize("bad", ["{bad", "[1,", '"open', "1 2"])
def test_malformed_initial_json_is_refused(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path, STALE[2:])
    result = run_cli(["check", "linearizable", "--initial", bad, path])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"archlab: error: check linearizable: --initial {bad!r} is not")


def test_a_bare_word_initial_is_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, STALE[2:])  # a lone read of null
    assert run_cli(["check", "linearizable", "--initial", "idle", path]).exit_code == 1
