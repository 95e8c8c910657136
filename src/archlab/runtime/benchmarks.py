"""``archlab bench consensus``: real 3-node clusters on loopback: Raft, Multi-Paxos, Zab, pysyncobj.

Both clusters run as three server processes on this machine and are driven by the same
closed-loop client (:func:`archlab.runtime.loadgen.pipelined`) connected to the leader: the same
number of connections and of writes in flight, the same command bytes
(``Command(session, seq, Write(key, value))`` with a 100-character value), applied by the same
:class:`~archlab.consensus.kv.KVStateMachine` (pysyncobj's replicated object wraps it:
:mod:`archlab.runtime.peers.pysyncobj_server`). Two load shapes are measured on each cluster:
16 connections with one write outstanding each, and 16 connections with 8 each (8 sessions per
connection), where replies that arrive together share a socket write on both sides.

Durability is matched: pysyncobj's journal is a memory-mapped file that it never fsyncs (its
term/vote file is flushed and renamed, not fsynced), so both run without fsync — records reach
the page cache before anything that depends on them is sent, which survives a process crash
but not a power loss (archlab's ``--durability none``). archlab with fsync and group commit is
measured as well, as a separate row, for what full durability costs. archlab's Multi-Paxos and
Zab run through the same runtime, client and durability (``none``), one row each per shape.

Rounds alternate between the systems, each on a fresh cluster; commits/s and latency
percentiles are medians over rounds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median, peer_available, percentile
from archlab.runtime.client import ClusterClient, OutcomeUnknown
from archlab.runtime.cluster import create_cluster, free_ports, stop_cluster, wait_for_leader
from archlab.runtime.loadgen import LoadResult, pipelined
from archlab.runtime.loop import loop_name, run

NODES = 3
VALUE_BYTES = 100
#: (connections, writes outstanding per connection)
SHAPES = ((16, 1), (16, 8))


@dataclass(frozen=True)
class Profile:
    rounds: int
    warmup: float
    seconds: float


QUICK = Profile(rounds=1, warmup=1.0, seconds=3.0)
FULL = Profile(rounds=5, warmup=2.0, seconds=5.0)

Results = dict[tuple[int, int], LoadResult]


def _load(address: tuple[str, int], profile: Profile) -> Results:
    return {
        (connections, depth): run(
            pipelined(
                address,
                connections=connections,
                depth=depth,
                seconds=profile.seconds,
                warmup=profile.warmup,
                value_bytes=VALUE_BYTES,
            )
        )
        for connections, depth in SHAPES
    }


def _run_archlab(
    scratch: Path, profile: Profile, durability: str, protocol: str = "raft"
) -> Results:
    directory = scratch / f"archlab-{protocol}-{durability}-{time.monotonic_ns()}"
    spec = create_cluster(
        directory,
        protocol,
        NODES,
        ports=free_ports(NODES),
        durability=durability,  # type: ignore[arg-type]
    )
    try:
        run(wait_for_leader(spec, 20))
        # The node that answers a session through redirects: a leader that was only just
        # elected (or replaced meanwhile) is not what the load generator should hit.
        leader = run(_wait_serving_leader(spec.addresses, 20))
        return _load(spec.addresses[leader], profile)
    finally:
        stop_cluster(spec, wipe=True)


async def _wait_serving_leader(addresses: dict[int, tuple[str, int]], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        client = ClusterClient(addresses, timeout=1.0, attempt_timeout=0.5)
        try:
            await client.open_session()
            return client.leader_guess
        except (OutcomeUnknown, OSError):
            if time.monotonic() > deadline:
                raise
        finally:
            await client.close()


@contextlib.contextmanager
def _start_pysyncobj(directory: Path) -> Iterator[tuple[dict[int, tuple[str, int]], int]]:
    """Three pysyncobj server processes; yields their client addresses and the leader's id."""
    directory.mkdir(parents=True, exist_ok=True)
    ports = free_ports(2 * NODES)
    raft = ",".join(f"{i + 1}=127.0.0.1:{ports[i]}" for i in range(NODES))
    front = ",".join(f"{i + 1}=127.0.0.1:{ports[NODES + i]}" for i in range(NODES))
    addresses = {i + 1: ("127.0.0.1", ports[NODES + i]) for i in range(NODES)}
    procs = []
    module = "archlab.runtime.peers.pysyncobj_server"
    try:
        for node in range(1, NODES + 1):
            with open(directory / f"node{node}.log", "wb") as log:
                command = [sys.executable, "-m", module, "--id", str(node), "--raft", raft]
                command += ["--clients", front, "--data-dir", str(directory / f"node{node}")]
                procs.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                    )
                )
        yield addresses, run(_wait_serving_leader(addresses, 30))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _run_pysyncobj(scratch: Path, profile: Profile) -> Results:
    with _start_pysyncobj(scratch / f"pysyncobj-{time.monotonic_ns()}") as (addresses, leader):
        return _load(addresses[leader], profile)


def _trial(rounds: list[Results], go: Callable[[], Results]) -> Callable[[], float]:
    def trial() -> float:
        results = go()
        rounds.append(results)
        return sum(r.commits_per_sec for r in results.values())

    return trial


def _row(system: str, durability: str, shape: tuple[int, int], rounds: list[Results]) -> Any:
    results = [r[shape] for r in rounds]
    return {
        "system": system,
        "durability": durability,
        "connections": shape[0],
        "in_flight": shape[0] * shape[1],
        "value_bytes": VALUE_BYTES,
        "commits_per_sec": round(median([r.commits_per_sec for r in results])),
        "p50_ms": round(median([percentile(r.latencies_ms, 50) for r in results]), 2),
        "p99_ms": round(median([percentile(r.latencies_ms, 99) for r in results]), 2),
        "errors": sum(r.errors for r in results),
        "rounds": len(results),
    }


@benchmark(
    name="consensus",
    title="Replicated key-value store on real 3-node clusters: Raft, Multi-Paxos, Zab (5.3)",
    description="""Commits per second and p50/p99 write latency of a 3-process cluster on
    loopback: archlab's Raft, Multi-Paxos and Zab (asyncio runtime, group commit) vs pysyncobj,
    driven by the same closed-loop client at the leader (16 connections with 1 and with 8
    writes in flight each, 100-byte values), same state machine, same durability (no fsync:
    pysyncobj never fsyncs its journal); archlab with fsync for reference. Alternating rounds
    on fresh clusters, medians.""",
)
def bench_consensus(ctx: BenchContext) -> BenchReport:
    profile = QUICK if ctx.quick else FULL
    report = BenchReport(
        columns=[
            Column("system"),
            Column("durability"),
            Column("connections"),
            Column("in_flight"),
            Column("value_bytes", "B"),
            Column("commits_per_sec", "commits/s"),
            Column("p50_ms", "ms"),
            Column("p99_ms", "ms"),
            Column("errors"),
            Column("rounds"),
        ],
        rows=[],
        notes=[
            f"{NODES} server processes per cluster on 127.0.0.1; clients connect to the leader; "
            f"{profile.warmup:g} s warm-up then {profile.seconds:g} s measured per load shape, "
            f"{profile.rounds} round(s) per system, alternating. Goal: ≥ 2x pysyncobj's "
            "commits/s at no worse p99, both without fsync (pysyncobj's journal is never "
            f"fsynced). Event loop of servers, front ends and client: {loop_name()}. "
            "pysyncobj's append and tick periods: 1 ms (its defaults, 100 ms / 50 ms, hold a "
            "leader's new entries up to 100 ms: about 300 commits/s at 32 connections)."
        ],
    )
    ours: list[Results] = []
    ours_fsync: list[Results] = []
    theirs: list[Results] = []
    others: dict[str, list[Results]] = {"paxos": [], "zab": []}
    systems = {"archlab": _trial(ours, lambda: _run_archlab(ctx.scratch, profile, "none"))}
    for protocol, rounds in others.items():
        go = functools.partial(_run_archlab, ctx.scratch, profile, "none", protocol)
        systems[f"archlab-{protocol}"] = _trial(rounds, go)
    if peer_available("pysyncobj"):
        systems["pysyncobj"] = _trial(theirs, lambda: _run_pysyncobj(ctx.scratch, profile))
    else:
        report.missing_peers.append("pysyncobj")
    systems["archlab-fsync"] = _trial(
        ours_fsync, lambda: _run_archlab(ctx.scratch, profile, "fsync")
    )
    interleaved(systems, profile.rounds, ctx.progress, description="clusters")
    for shape in SHAPES:
        label = f"{shape[0]} conn × {shape[1]}"
        a = _row("archlab raft", "none (page cache)", shape, ours)
        report.rows.append(a)
        for protocol, rounds in others.items():
            name = "archlab multi-paxos" if protocol == "paxos" else "archlab zab"
            report.rows.append(_row(name, "none (page cache)", shape, rounds))
        p = _row("pysyncobj", "none (mmap journal)", shape, theirs) if theirs else None
        if p is not None:
            report.rows.append(p)
        f = _row("archlab raft", "fsync (group commit)", shape, ours_fsync)
        report.rows.append(f)
        ours_cps = [r[shape].commits_per_sec for r in ours]
        ours_p99 = [percentile(r[shape].latencies_ms, 99) for r in ours]
        peer_cps = [r[shape].commits_per_sec for r in theirs] or None
        peer_p99 = [percentile(r[shape].latencies_ms, 99) for r in theirs] or None
        report.ratios.append(
            Ratio.of_rounds(
                f"commits/s, archlab / pysyncobj ({label})", ours_cps, peer_cps, goal=2.0
            )
        )
        report.ratios.append(
            Ratio.of_rounds(
                f"p99 latency, archlab / pysyncobj ({label})",
                ours_p99,
                peer_p99,
                goal=1.0,
                higher_is_better=False,
            )
        )
        report.ratios.append(
            Ratio.of_rounds(
                f"commits/s, archlab fsync / no fsync ({label})",
                [r[shape].commits_per_sec for r in ours_fsync],
                ours_cps,
            )
        )
    return report
