"""Which pids the cluster treats as its servers: alive, and running the serve module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from archlab.runtime import cluster
from archlab.runtime.cluster import SERVE_MODULE


def test_a_child_caught_inside_exec_counts_as_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between Popen's return and the kernel setting the new arguments, cmdline reads empty."""
    monkeypatch.setattr(cluster, "_cmdline", lambda pid: b"")
    assert cluster._is_our_server(os.getpid())


def test_another_program_on_a_reused_pid_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "_cmdline", lambda pid: b"/usr/bin/python3\0-m\0http.server\0")
    assert not cluster._is_our_server(os.getpid())
    monkeypatch.setattr(cluster, "_cmdline", lambda pid: f"python\0-m\0{SERVE_MODULE}\0".encode())
    assert cluster._is_our_server(os.getpid())


def test_a_reaped_child_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not cluster._is_our_server(child.pid)
