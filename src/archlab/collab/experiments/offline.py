"""``collab.offline_convergence`` (codex 5.4): OT stalls without its server.

CRDT peers, with no server at all, keep syncing among themselves through the same outage.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from archlab.collab import simulate
from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)

# -- collab.offline_convergence ------------------------------------------------------------

#: CRDT peers sync peer to peer every 0.1 s over links of 5-30 ms: only edits typed in the
#: last sync interval plus a delay before the outage ends can be missing at its end (at most
#: ~0.15 s of a window of at least 1 s, i.e. >= 85% spread). 0.8 leaves room for 5% loss.
CRDT_SPREAD = Threshold(
    0.8,
    "fraction",
    "bound: only the last anti-entropy interval + link delay (<= 0.15 s of a >= 1 s outage) "
    "can be unsynced; 0.8 allows for 5% message loss",
)
#: Codex 5.4: OT "requires a central server to order and transform operations". With the
#: server unreachable, an edit typed then cannot reach another editor. Allow one in flight.
OT_BLOCKED = Threshold(
    0.05,
    "fraction",
    "codex 5.4: OT needs the central server to order every operation (Jupiter, "
    "docs/references.md §5.4); 5% allows an edit in flight as the outage starts",
)
#: Convergence is all-or-nothing: every run must end with every replica holding one text.
ALL_CONVERGE = Threshold(0, "runs", "definition: convergence means every replica ends equal")


@dataclass(frozen=True)
class OutageRun:
    outage_s: float
    ot_edits: int  # edits typed while the server was unreachable
    ot_spread: float  # fraction of them every other editor had when the server returned
    ot_settle_s: float  # from the server's return (and the end of typing) to agreement
    crdt_edits: int
    crdt_spread: float
    crdt_settle_s: float
    crdt_offline_settle_s: float  # a replica itself offline for the window, then back


@dataclass(frozen=True)
class OfflineConvergence:
    runs: list[OutageRun]
    not_converged: int  # runs (either mode) that never agreed


def judge_offline_convergence(m: OfflineConvergence) -> Judgement:
    crdt_low = min(r.crdt_spread for r in m.runs)
    ot_high = max(r.ot_spread for r in m.runs)
    converged = Evidence("runs that never converged", m.not_converged, "runs", at_most=ALL_CONVERGE)
    crdt = Evidence(
        "CRDT edits spread peer-to-peer during the outage (worst)",
        crdt_low,
        "fraction",
        at_least=CRDT_SPREAD,
    )
    ot = Evidence(
        "OT edits reaching other editors during the outage (worst)",
        ot_high,
        "fraction",
        at_most=OT_BLOCKED,
    )
    longest = max(m.runs, key=lambda r: r.outage_s)
    text = (
        f"during server outages of {', '.join(f'{r.outage_s:g}' for r in m.runs)} s, "
        f"{ot_high:.0%} at most of the OT edits reached another editor while CRDT peers "
        f"spread at least {crdt_low:.0%} of theirs without any server; after a "
        f"{longest.outage_s:g} s outage OT agreed {longest.ot_settle_s:.2f} s after the server "
        f"returned, CRDT {longest.crdt_settle_s:.2f} s after typing stopped"
    )
    if not converged.met:
        return refuted(f"{m.not_converged} runs never converged; {text}", converged, crdt, ot)
    if crdt.met and ot.met:
        return holds(text, converged, crdt, ot)
    if not crdt.met and ot.met:
        return nuanced(
            f"OT stalled as claimed, but CRDT peers spread less: {text}", converged, crdt, ot
        )
    return refuted(f"OT edits spread without the server: {text}", converged, crdt, ot)


def _or_limit(settle: float | None) -> float:
    """A run that never agreed counts as the whole settling limit (it is also a failure)."""
    return simulate.CollabConfig().settle_limit if settle is None else settle


@experiment(
    id="collab.offline_convergence",
    section="5.4",
    title="Offline editing: OT stalls without its server, CRDT peers sync on their own",
    claim="""OT needs a central server to order and transform operations: it is a single point
    of failure. CRDTs merge independent updates, so peers sync with each other (peer to peer)
    and edit offline, converging when they reconnect.""",
    method="""Four editors type ~4 edits/s each in the deterministic simulator over links with
    5% loss, 5% duplication and 10% reordering. OT: Jupiter clients and one server over a
    reliable channel; the server is cut off for a growing window. CRDT: the text CRDT with
    pushed updates and anti-entropy every 0.1 s, no server, same window (and, separately, one
    replica cut off from everyone for the window). Measured: the fraction of edits typed during
    the window that every other editor held when it ended, and the time to agreement after
    typing and the outage end. Several seeds per window; worst case judged.""",
    judge=judge_offline_convergence,
    rule="""holds when every run converges (0 runs otherwise: definition), CRDT peers spread at
    least 80% of the outage's edits during it at every window (bound: only the last 0.1 s sync
    interval + delay can lag, 0.8 allows for loss) and at most 5% of OT edits reach another
    editor (codex 5.4: OT needs its server; 5% allows one in flight); nuanced when OT stalls
    but CRDT spreads less; refuted when a run fails to converge or OT edits spread without the
    server.""",
    profiles={
        "quick": {"outages": [1.0, 3.0], "seeds": 2, "editors": 4},
        "full": {"outages": [1.0, 2.0, 4.0, 8.0], "seeds": 5, "editors": 4},
    },
    references=["Jupiter: Nichols et al. 1995 (docs/references.md §5.4)."],
)
def offline_convergence(ctx: Context) -> Outcome[OfflineConvergence]:
    p = ctx.params
    outages = [float(x) for x in p["outages"]]
    seeds = int(p["seeds"])
    runs: list[OutageRun] = []
    failures = 0
    table = Table(
        "Edits typed while the server was unreachable (worst / median over seeds)",
        [
            Column("outage", "s"),
            Column("OT edits"),
            Column("OT spread during it", "fraction"),
            Column("OT agreement after return", "s"),
            Column("CRDT edits"),
            Column("CRDT spread during it", "fraction"),
            Column("CRDT agreement", "s"),
            Column("CRDT replica offline: agreement", "s"),
        ],
    )
    with ctx.progress.task("outages", len(outages) * seeds) as task:
        for outage in outages:
            samples: dict[str, list[float]] = {}
            for s in range(seeds):
                seed = ctx.rng(f"seed/{outage}/{s}").randrange(2**31)
                window = (1.0, outage)
                common = {
                    "seed": seed,
                    "replicas": int(p["editors"]),
                    "edit_time": 1.0 + outage,
                    "server_outage": window,
                }
                ot = simulate.run(simulate.CollabConfig(mode="ot", offline_periods=0, **common))  # type: ignore[arg-type]
                crdt = simulate.run(simulate.CollabConfig(mode="crdt", offline_periods=0, **common))  # type: ignore[arg-type]
                alone = simulate.run(
                    simulate.CollabConfig(
                        mode="crdt",
                        seed=seed,
                        replicas=int(p["editors"]),
                        edit_time=2.0 + outage,
                        offline_periods=1,
                        offline=outage,
                    )
                )
                for r in (ot, crdt, alone):
                    if simulate.check(r) or r.settle_time is None:
                        failures += 1
                values = {
                    "ot_edits": ot.outage_edits,
                    "ot_spread": ot.outage_visible / max(1, ot.outage_edits),
                    "ot_settle": _or_limit(ot.settle_time),
                    "crdt_edits": crdt.outage_edits,
                    "crdt_spread": crdt.outage_visible / max(1, crdt.outage_edits),
                    "crdt_settle": _or_limit(crdt.settle_time),
                    "alone_settle": _or_limit(alone.settle_time),
                }
                for k, v in values.items():
                    samples.setdefault(k, []).append(float(v))
                task.advance()
            run = OutageRun(
                outage_s=outage,
                ot_edits=round(statistics.median(samples["ot_edits"])),
                ot_spread=round(max(samples["ot_spread"]), 4),
                ot_settle_s=round(max(samples["ot_settle"]), 3),
                crdt_edits=round(statistics.median(samples["crdt_edits"])),
                crdt_spread=round(min(samples["crdt_spread"]), 4),
                crdt_settle_s=round(max(samples["crdt_settle"]), 3),
                crdt_offline_settle_s=round(max(samples["alone_settle"]), 3),
            )
            runs.append(run)
            table.add(
                outage,
                run.ot_edits,
                run.ot_spread,
                run.ot_settle_s,
                run.crdt_edits,
                run.crdt_spread,
                run.crdt_settle_s,
                run.crdt_offline_settle_s,
            )
    figure = Figure(
        "Edits that reached every other editor while the server was away",
        x_label="outage (s)",
        y_label="fraction of the outage's edits",
        series=[
            Series("CRDT, peer to peer", [r.outage_s for r in runs], [r.crdt_spread for r in runs]),
            Series("OT, via the server", [r.outage_s for r in runs], [r.ot_spread for r in runs]),
        ],
    )
    measured = OfflineConvergence(runs, failures)
    return Outcome(
        measured,
        summary=f"OT spread at most {max(r.ot_spread for r in runs):.0%} of outage edits; "
        f"CRDT at least {min(r.crdt_spread for r in runs):.0%}; {failures} runs unconverged",
        tables=[table],
        figures=[figure],
    )
