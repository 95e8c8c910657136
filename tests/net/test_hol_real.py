"""HOL blocking, real tier: kernel TCP vs aioquic over loopback in a private network namespace,
with deterministic drops from nftables (`archlab.net.hol_real`). The assertions read the
kernel's and aioquic's own records of what was held back, never the completion times: on
loopback a hole lasts tens of microseconds, below the scheduler's noise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archlab.net.hol_real import deliveries_past_a_hole

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


def test_kernel_tcp_held_segments_behind_a_hole(real_run: dict) -> None:
    # The drops are real losses (taken at the receiver's input hook), so the sender retransmits,
    # and the segments that arrived past each hole waited in the kernel, unreadable.
    assert real_run["tcp_retransmitted"] >= 1
    if real_run["tcp_held_out_of_order"] is None:
        pytest.skip("this kernel's tcp_info has no tcpi_rcv_ooopack (Linux 5.4 and later)")
    assert real_run["tcp_held_out_of_order"] >= 1


def test_quic_delivered_other_streams_while_one_had_a_hole(real_run: dict) -> None:
    assert real_run["quic_deliveries_past_a_hole"] >= 1


def _received(*frames: tuple[int, int, int]) -> list[dict]:
    return [
        {
            "name": "transport:packet_received",
            "data": {
                "frames": [
                    {"frame_type": "stream", "stream_id": sid, "offset": offset, "length": length}
                ]
            },
        }
        for sid, offset, length in frames
    ]


def test_the_quic_witness_counts_a_delivery_past_another_streams_hole() -> None:
    # stream 0 loses [100, 200); stream 4 is still read; then the retransmission arrives
    trace = _received((0, 0, 100), (0, 200, 100), (4, 0, 100), (0, 100, 100))
    assert deliveries_past_a_hole(trace) == 1


def test_the_quic_witness_counts_nothing_without_a_hole() -> None:
    assert deliveries_past_a_hole(_received((0, 0, 100), (4, 0, 100), (0, 100, 50))) == 0


def test_the_quic_witness_does_not_count_data_behind_its_own_streams_hole() -> None:
    # one ordered stream, as TCP is: data past the hole extends nothing until it is filled,
    # and filling it is not a delivery past *another* stream's hole
    assert deliveries_past_a_hole(_received((0, 0, 100), (0, 200, 100), (0, 100, 100))) == 0


def test_the_quic_witness_ignores_other_events() -> None:
    trace = [{"name": "transport:packet_sent", "data": {"frames": [{"frame_type": "stream"}]}}]
    assert deliveries_past_a_hole(trace) == 0
