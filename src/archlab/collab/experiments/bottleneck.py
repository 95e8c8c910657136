"""``collab.server_bottleneck`` (codex 5.4): the OT server's load as editors grow.

Measured against a CRDT peer's load in a full mesh, on the same typing workload.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.collab import traces
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
from archlab.runtime.collab import load

# -- collab.server_bottleneck --------------------------------------------------------------

#: Google Docs lets up to 100 people edit one document at once (its help pages,
#: docs/references.md §5.4): a bottleneck matters in practice if it bites within that.
EDITOR_LIMIT = Threshold(
    100,
    "editors",
    "Google Docs help: up to 100 people can edit a file at the same time (docs/references.md §5.4)",
)
#: The server is *the* bottleneck only if it reaches a full core at fewer editors than a peer.
SATURATES_FIRST = Threshold(
    1.0,
    "x",
    "bound: the server saturates first when its editor count at 100% CPU is below a peer's",
)


@dataclass(frozen=True)
class ServerBottleneck:
    rate_per_editor: float
    points: list[load.LoadPoint]
    server_saturates_at: float  # editors at which the server needs one full core
    peer_saturates_at: float

    @property
    def ratio(self) -> float:
        return self.server_saturates_at / self.peer_saturates_at


def judge_server_bottleneck(m: ServerBottleneck) -> Judgement:
    first = Evidence(
        "server / CRDT peer editors at saturation",
        round(m.ratio, 4),
        "x",
        at_most=SATURATES_FIRST,
    )
    within = Evidence(
        "editors at which the OT server saturates",
        round(m.server_saturates_at, 1),
        "editors",
        at_most=EDITOR_LIMIT,
    )
    big = max(m.points, key=lambda p: p.editors)
    small = min(m.points, key=lambda p: p.editors)
    text = (
        f"the OT server's CPU per edit grew from {small.server_us:.0f} µs at {small.editors} "
        f"editors to {big.server_us:.0f} µs at {big.editors} (each edit transformed against "
        f"{big.transforms:.1f} concurrent ones and copied to every editor), so at "
        f"{m.rate_per_editor:g} edits/s per editor it needs a full core at about "
        f"{m.server_saturates_at:.0f} editors, against {m.peer_saturates_at:.0f} for a CRDT peer "
        f"({big.peer_remote_us:.0f} µs per remote edit)"
    )
    if first.met and within.met:
        return holds(text, first, within)
    if first.met:
        return nuanced(
            f"the server is the first node to saturate, but only beyond {EDITOR_LIMIT.value:g} "
            f"editors: {text}",
            first,
            within,
        )
    return refuted(f"a CRDT peer saturates before the server: {text}", first, within)


@experiment(
    id="collab.server_bottleneck",
    section="5.4",
    title="The OT server as the bottleneck as editors grow",
    claim="""OT routes every operation through one central server that orders and transforms
    it; as editors grow that server, not the editors, is the node that saturates, while CRDT
    peers sync directly and share the work.""",
    method="""n editors type 5 edits/s each on an 5,000-character document (the start of a
    real trace) in the deterministic simulator, links 20-60 ms. OT: Jupiter clients and one
    server; the server's real CPU per edit (transform against unseen operations, apply,
    encode, copy to each editor's send buffer) is timed. CRDT: a full mesh of peers; a peer's
    real CPU per remote edit (decode, integrate) and per own edit (encode, one copy per peer)
    is timed. Medians per edit. Costs are fitted as a + b·n and solved for the editor count
    at which each node needs one full core.""",
    judge=judge_server_bottleneck,
    rule="""holds when the server reaches a full core at fewer editors than a CRDT peer (ratio
    at most 1x: it saturates first) and within 100 editors (Google Docs' limit on simultaneous
    editors); nuanced when it saturates first but beyond 100 editors; refuted when a peer
    saturates first.""",
    profiles={
        "quick": {"editors": [2, 4, 8, 16], "rate": 5.0, "seconds": 2.0},
        "full": {"editors": [2, 4, 8, 16, 32, 64], "rate": 5.0, "seconds": 4.0},
    },
    references=[
        "Google Docs simultaneous-editor limit (docs/references.md §5.4).",
        traces.ATTRIBUTION,
    ],
)
def server_bottleneck(ctx: Context) -> Outcome[ServerBottleneck]:
    p = ctx.params
    rate, seconds = float(p["rate"]), float(p["seconds"])
    counts = [int(n) for n in p["editors"]]
    start = traces.load("sveltecomponent").end[:5000]
    points: list[load.LoadPoint] = []
    with ctx.progress.task("editors", len(counts)) as task:
        for n in counts:
            points.append(load.measure(n, rate, seconds, start, ctx.rng(f"n{n}").randrange(2**31)))
            task.advance()
    xs = [float(pt.editors) for pt in points]
    server_fit = load.fit_line(xs, [pt.server_us for pt in points])
    remote_fit = load.fit_line(xs, [pt.peer_remote_us for pt in points])
    server_n = load.saturation(rate, server_fit)
    peer_n = load.saturation(rate, remote_fit)
    table = Table(
        "CPU per edit and utilisation of one core",
        [
            Column("editors"),
            Column("OT server per edit", "µs"),
            Column("transformed against", "ops"),
            Column("OT server load", "%"),
            Column("OT commit time", "ms"),
            Column("CRDT peer per remote edit", "µs"),
            Column("CRDT peer load", "%"),
        ],
        note=f"{rate:g} edits/s per editor. Saturation from the fits: OT server "
        f"{server_fit[0]:.1f} + {server_fit[1]:.2f}·n µs per edit → a full core at "
        f"~{server_n:.0f} editors; CRDT peer {remote_fit[0]:.1f} + {remote_fit[1]:.2f}·n µs "
        f"per remote edit → ~{peer_n:.0f} editors.",
    )
    for pt in points:
        table.add(
            pt.editors,
            pt.server_us,
            pt.transforms,
            100 * load.server_utilisation(pt.editors, rate, pt.server_us),
            pt.commit_ms,
            pt.peer_remote_us,
            100 * load.peer_utilisation(pt.editors, rate, pt.peer_remote_us, pt.peer_own_us),
        )
    figure = Figure(
        "Load on the busiest node as editors grow",
        x_label="editors",
        y_label="share of one core (%)",
        log_x=True,
        log_y=True,
        series=[
            Series(
                "OT server",
                xs,
                [100 * load.server_utilisation(pt.editors, rate, pt.server_us) for pt in points],
            ),
            Series(
                "CRDT peer",
                xs,
                [
                    100 * load.peer_utilisation(pt.editors, rate, pt.peer_remote_us, pt.peer_own_us)
                    for pt in points
                ],
            ),
        ],
    )
    measured = ServerBottleneck(rate, points, round(server_n, 1), round(peer_n, 1))
    return Outcome(
        measured,
        summary=f"OT server saturates at ~{server_n:.0f} editors, a CRDT peer at ~{peer_n:.0f}",
        tables=[table],
        figures=[figure],
    )
