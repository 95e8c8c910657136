"""HOL blocking, real tier: kernel TCP vs aioquic over loopback in a private network namespace,
with deterministic drops from nftables (`archlab.net.hol_real`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _namespace_problem() -> str | None:
    for tool in ("unshare", "ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/system-packages.txt)"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "network namespaces and nftables need root here"
    probe = subprocess.run(
        ["unshare", "-n", "nft", "add", "table", "inet", "probe"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"private network namespaces are not allowed: {probe.stderr.strip()[:120]}"
    return None


@pytest.fixture(scope="module")
def real_run() -> dict[str, list[float] | int]:
    problem = _namespace_problem()
    if problem is not None:
        pytest.skip(problem)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "archlab.net.hol_real", "8", "65536", "50", "17"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list[float] | int] = json.loads(done.stdout)
    return result


def test_both_transports_complete_through_the_same_drops(real_run: dict) -> None:
    assert real_run["tcp_dropped"] >= 1
    assert real_run["dropped"] > real_run["tcp_dropped"]  # QUIC's datagrams were dropped too
    assert len(real_run["tcp_ms"]) == len(real_run["quic_ms"]) == 8


def test_kernel_tcp_releases_the_streams_behind_a_loss_together(real_run: dict) -> None:
    tcp = real_run["tcp_ms"]
    # a wait for the retransmission, then several streams completed within half a millisecond
    released = [
        i
        for i in range(len(tcp) - 3)
        if tcp[i + 1] - tcp[i] >= 1.0 and tcp[i + 3] - tcp[i + 1] <= 0.5
    ]
    assert released, f"no stall-and-release in {tcp}"
