"""Judges of the 5.4 experiments: plausible measurements reach every verdict each rule gives."""

from __future__ import annotations

import dataclasses

import pytest

from archlab.collab.experiments import (
    OfflineConvergence,
    OutageRun,
    ServerBottleneck,
    TombstoneOverhead,
    judge_offline_convergence,
    judge_server_bottleneck,
    judge_tombstone_overhead,
)
from archlab.collab.memory import TraceMemory
from archlab.lab.judging import Judgement
from archlab.runtime.collab.load import LoadPoint, fit_line, saturation


def cites_its_thresholds(j: Judgement) -> bool:
    return bool(j.evidence) and all(e.threshold and e.threshold.source for e in j.evidence)


def outage(ot_spread: float, crdt_spread: float) -> OutageRun:
    return OutageRun(3.0, 40, ot_spread, 0.18, 45, crdt_spread, 0.2, 0.16)


@pytest.mark.parametrize(
    ("ot", "crdt", "failures", "verdict"),
    [
        (0.0, 0.91, 0, "holds"),  # measured (quick profile, seed 0)
        (0.0, 0.6, 0, "nuanced"),  # peers synced too slowly to spread most edits
        (0.0, 0.95, 2, "refuted"),  # some run never converged
        (0.5, 0.95, 0, "refuted"),  # OT edits spread without a server
    ],
)
def test_offline_convergence_judge(ot: float, crdt: float, failures: int, verdict: str) -> None:
    m = OfflineConvergence([outage(0.0, 0.98), outage(ot, crdt)], failures)
    j = judge_offline_convergence(m)
    assert j.verdict == verdict and cites_its_thresholds(j)


MEASURED_SVELTE = TraceMemory(  # archlab run collab.tombstone_overhead (quick)
    trace="sveltecomponent",
    visible_chars=18451,
    tombstone_chars=75533,
    runs=7425,
    runs_after_collection=5813,
    plain_utf8=1.0,
    plain_heap=1.0027,
    crdt_heap=174.0,
    crdt_heap_tombstones=170.0,
    crdt_heap_collected=89.0,
    crdt_snapshot=12.57,
    crdt_snapshot_tombstones=11.23,
    crdt_snapshot_collected=4.62,
    ot_server_heap=1.0027,
    ot_server_with_history=147.3,
)


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "holds"),
        # a history with almost no deletions: metadata, not tombstones, is the overhead
        ({"crdt_heap_tombstones": 20.0, "crdt_snapshot_tombstones": 1.0}, "nuanced"),
        # a compact native CRDT with few deletions: under twice the text
        ({"crdt_heap": 1.6, "crdt_snapshot": 1.5, "crdt_heap_tombstones": 0.3}, "refuted"),
    ],
)
def test_tombstone_overhead_judge(changes: dict[str, float], verdict: str) -> None:
    j = judge_tombstone_overhead(
        TombstoneOverhead([dataclasses.replace(MEASURED_SVELTE, **changes)])
    )
    assert j.verdict == verdict and cites_its_thresholds(j)


def points(server_slope: float, peer_us: float) -> list[LoadPoint]:
    return [
        LoadPoint(n, 2.5 + server_slope * n, n * 0.37, peer_us, 15.0, 80.0) for n in (2, 4, 8, 16)
    ]


@pytest.mark.parametrize(
    ("server_slope", "peer_us", "verdict"),
    [
        (2.97, 15.3, "nuanced"),  # measured (quick profile): saturates first, beyond 100
        (40.0, 15.3, "holds"),  # a slower server: saturates within 100 editors
        # a server whose cost per edit does not grow, and a peer's integration that costs more:
        # the peer saturates first (about 1,000 editors against the server's 80,000)
        (0.0, 200.0, "refuted"),
    ],
)
def test_server_bottleneck_judge(server_slope: float, peer_us: float, verdict: str) -> None:
    pts = points(server_slope, peer_us)
    xs = [float(p.editors) for p in pts]
    server_n = saturation(5.0, fit_line(xs, [p.server_us for p in pts]))
    peer_n = saturation(5.0, fit_line(xs, [p.peer_remote_us for p in pts]))
    j = judge_server_bottleneck(ServerBottleneck(5.0, pts, server_n, peer_n))
    assert j.verdict == verdict and cites_its_thresholds(j)


def test_saturation_solves_the_quadratic_load() -> None:
    n = saturation(5.0, (10.0, 2.0))
    assert abs(n * 5.0 * (10.0 + 2.0 * n) - 1e6) < 1.0
    assert saturation(5.0, (20.0, 0.0)) == pytest.approx(1e4)
