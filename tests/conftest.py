"""Shared fixtures: a CLI runner that goes through archlab's real entry point."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

from archlab.cli import main


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str]) -> CliResult:
    """Run ``archlab ARGS`` in-process through :func:`archlab.cli.main`."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(args: Sequence[str], timeout: float = 600) -> CliResult:
    """Run ``archlab ARGS`` as a real child process (for exit codes and stream separation)."""
    proc = subprocess.run(
        [sys.executable, "-m", "archlab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> type:
    class _Cli:
        run = staticmethod(run_cli)
        process = staticmethod(run_cli_process)

    return _Cli
