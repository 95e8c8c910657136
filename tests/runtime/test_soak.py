"""The kill soak: clients on a real 3-node cluster (Raft, Multi-Paxos, Zab) while nodes are
SIGKILLed and restarted, with archlab's client and redis-py (RESP) side by side; is the history
linearizable?"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from archlab.check.history import dump
from archlab.check.linearizability import check_linearizable
from archlab.runtime.cluster import stop_cluster
from archlab.runtime.soak import run_soak
from tests.runtime.conftest import start_cluster


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["raft", "paxos", "zab"])
@pytest.mark.parametrize("seed", [1, 2])
def test_kill_soak_history_is_linearizable(tmp_path: Path, seed: int, protocol: str) -> None:
    spec = start_cluster(tmp_path / "cluster", protocol=protocol, resp=True)
    try:
        report = asyncio.run(
            run_soak(spec, seconds=30, clients=5, keys=3, seed=seed, resp_clients=2)
        )
    finally:
        stop_cluster(spec)
    history = tmp_path / "history.jsonl"
    dump(report.recorder.events, history)
    assert len(report.kills) >= 10, report.kills
    assert any(leader for _, _, leader in report.kills), "no leader was killed"
    assert report.counts.get("ok", 0) >= 200, report.counts
    resp_ok = [
        e
        for e in report.recorder.events
        if isinstance(e.process, int) and e.process >= 5 and e.type == "ok"
    ]
    assert len(resp_ok) >= 20, "the redis-py clients got few answers"
    result = check_linearizable(report.recorder.events, model="kv", time_limit=120)
    assert result.valid is True, f"{result} (history in {history})"
