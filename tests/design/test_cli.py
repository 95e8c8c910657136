"""``archlab estimate``, ``review`` and ``design``: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli, run_cli_process
from tests.design.test_examples import EXAMPLES

CODEX_EXAMPLE = ["--dau", "10M", "--writes-per-user-per-day", "1", "--write-size", "1KB",
                 "--reads-per-user-per-day", "0", "--retention", "1y"]  # fmt: skip


def one_line_error(result: CliResult, *fragments: str) -> None:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_has_examples() -> None:
    for args in (["estimate"], ["review"], ["design"], ["design", "new"], ["design", "rules"]):
        result = run_cli([*args, "--help"])
        assert result.exit_code == 0
        assert "Examples:" in result.stdout


def test_estimate_json_has_the_contracted_keys() -> None:
    result = run_cli(["estimate", *CODEX_EXAMPLE, "--json"])
    assert result.exit_code == 0, result
    data = json.loads(result.stdout)
    for key in ("read_qps_avg", "write_qps_avg", "read_qps_peak", "write_qps_peak",
                "storage_bytes_per_day", "storage_bytes_total", "implications"):  # fmt: skip
        assert key in data
    assert data["write_qps_avg"] == pytest.approx(115.74, abs=0.01)
    assert data["storage_bytes_per_day"] == pytest.approx(30e9)  # 10 GB × 3 copies
    (implication,) = data["implications"]
    assert implication["rule"] == "table1.throughput_single_instance"
    assert set(implication) >= {"rule", "section", "value", "threshold", "advice"}
    assert "latency_ms" in data["defaults_used"]


def test_estimate_table_and_markdown() -> None:
    table = run_cli(["estimate", *CODEX_EXAMPLE])
    assert table.exit_code == 0
    assert "10 GB" in table.stdout and "347" in table.stdout and "Table 1" in table.stdout
    markdown = run_cli(["estimate", *CODEX_EXAMPLE, "--markdown"])
    assert markdown.exit_code == 0
    assert markdown.stdout.startswith("## Estimate")
    assert "| storage | new data per day (one copy) | 10 GB |" in markdown.stdout


def test_estimate_from_file_with_flags_overriding(tmp_path: Path) -> None:
    path = tmp_path / "req.yaml"
    path.write_text("dau: 10M\nwrites_per_user_per_day: 1\nreads_per_user_per_day: 0\n"
                    "availability: 99.999%\n", encoding="utf-8")  # fmt: skip
    data = json.loads(run_cli(["estimate", "--from", str(path), "--json"]).stdout)
    assert data["requirements"]["dau"] == 1e7
    assert "table1.availability_multi_region" in {i["rule"] for i in data["implications"]}
    data = json.loads(run_cli(["estimate", "--from", str(path), "--dau", "1B", "--json"]).stdout)
    assert data["requirements"]["dau"] == 1e9
    assert data["requirements"]["availability"] == 0.99999


def test_estimate_from_a_design_uses_its_requirements() -> None:
    result = run_cli(["estimate", "--from", str(EXAMPLES / "chat.yaml"), "--json"])
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["requirements"]["dau"] == 2e9


def test_estimate_errors(tmp_path: Path) -> None:
    one_line_error(run_cli(["estimate", "--write-size", "1kb"]), "--write-size", "bits")
    one_line_error(run_cli(["estimate", "--availability", "99.9"]), "--availability",
                   "did you mean 99.9%")  # fmt: skip
    one_line_error(run_cli(["estimate", "--json", "--markdown"]), "cannot be combined")
    bad = tmp_path / "req.yaml"
    bad.write_text("dau: 10M\nretention: forever\n", encoding="utf-8")
    one_line_error(run_cli(["estimate", "--from", str(bad)]), f"{bad}:2:", "retention",
                   "found 'forever'")  # fmt: skip
    bad.write_text("dau: 10M\nusers: 5\n", encoding="utf-8")
    one_line_error(run_cli(["estimate", "--from", str(bad)]), f"{bad}:2:", "users",
                   "expected one of the requirements")  # fmt: skip
    one_line_error(run_cli(["estimate", "--from", str(tmp_path / "none.yaml")]), "no such file")


def test_review_exit_codes() -> None:
    clean = run_cli(["review", str(EXAMPLES / "url-shortener.yaml")])
    assert clean.exit_code == 0  # one warning, below --fail-on error
    assert "§9.1" in clean.stdout
    strict = run_cli(["review", str(EXAMPLES / "url-shortener.yaml"), "--fail-on", "warning"])
    assert strict.exit_code == 1
    errors = run_cli(["review", str(EXAMPLES / "payments.yaml")])
    assert errors.exit_code == 1
    never = run_cli(["review", str(EXAMPLES / "payments.yaml"), "--fail-on", "never"])
    assert never.exit_code == 0


def test_review_json_and_markdown() -> None:
    result = run_cli(["review", str(EXAMPLES / "payments.yaml"), "--json", "--fail-on", "never"])
    data = json.loads(result.stdout)
    assert data["counts"] == {"error": 2, "warning": 2, "info": 0}
    finding = data["findings"][0]
    assert set(finding) >= {"severity", "section", "trigger", "why", "alternative", "path"}
    assert data["estimate"]["write_qps_peak"] == pytest.approx(2314.8, abs=0.1)
    markdown = run_cli(["review", str(EXAMPLES / "payments.yaml"), "--markdown"])
    assert markdown.stdout.startswith("## Review of payments")
    assert "#### error: TLS 0-RTT accepted on a non-idempotent endpoint (§3.4" in markdown.stdout


def test_review_schema_error_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    text = (EXAMPLES / "payments.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("protocol: 2pc", "protocol: 3pc"), encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "protocol: 2pc" in t)
    one_line_error(
        run_cli(["review", str(path)]),
        f"{path}:{line}: architecture.transactions[0].protocol",
        "expected one of 2pc, saga, local",
        "found '3pc'",
    )


def test_design_new_then_review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    created = run_cli(["design", "new", "shop"])
    assert created.exit_code == 0 and "shop.yaml" in created.stdout
    assert run_cli(["review", "shop.yaml", "--fail-on", "info"]).exit_code == 0
    one_line_error(run_cli(["design", "new", "shop"]), "already exists", "--force")
    assert run_cli(["design", "new", "shop", "--force"]).exit_code == 0


def test_design_rules_lists_every_rule() -> None:
    from archlab.design.rules import RULES

    data = json.loads(run_cli(["design", "rules", "--json"]).stdout)
    assert {r["id"] for r in data} == set(RULES)
    assert run_cli(["design", "rules"]).exit_code == 0


def test_real_process_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("name: x\nrequirements: {dau: lots}\n", encoding="utf-8")
    result = run_cli_process(["review", str(bad)])
    one_line_error(result, "requirements.dau", "found 'lots'")
