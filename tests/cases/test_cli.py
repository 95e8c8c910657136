"""``archlab case``: every case is listed, bad input is one line and exit 2, a simulation runs."""

from __future__ import annotations

import pytest

from archlab.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_the_group_lists_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["case", "--help"], capsys)
    assert code == 0
    for name in ("whatsapp", "discord", "open-connect", "haystack", "ringpop"):
        assert name in out


@pytest.mark.parametrize(
    "args",
    [
        ["case", "ringpop", "serve", "--nodes", "1"],
        ["case", "open-connect", "simulate", "--cache-share", "1.5"],
        ["case", "discord", "serve", "--instances", "0"],
        ["case", "whatsapp", "serve", "--dir", "x", "--port", "0"],
        ["case", "haystack", "serve", "--dir", "x", "--port", "70000"],
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.startswith("archlab: error: case ") and err.count("\n") == 1


def test_open_connect_simulate_prints_both_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["case", "open-connect", "simulate", "--titles", "200", "--views", "800", "--days", "3"]
    code, out, _ = _run(args, capsys)
    assert code == 0
    assert "pull " in out and "push " in out and "peak hours" in out
