"""Chapter 7.2 claims about the exchange model: ``streaming.routing``.

The measurement and its judge live in :mod:`.measure_routing`; this module registers them.
"""

from __future__ import annotations

from archlab.lab import Column, Context, Figure, Outcome, Series, Table, experiment
from archlab.streaming.routing.measure_poison import (
    POLICIES,
    PoisonMeasurement,
    judge_poison,
    run_policy,
)
from archlab.streaming.routing.measure_routing import (
    ROUTED,
    RoutingMeasurement,
    decision_rates,
    exchange_capabilities,
    judge_routing,
    log_capabilities,
    messages_for,
)

__all__ = ["PoisonMeasurement", "RoutingMeasurement", "judge_poison", "judge_routing", "routing"]


@experiment(
    id="streaming.routing",
    section="7.2",
    title="What the exchange model routes, and what a routing decision costs",
    claim="""RabbitMQ is a "smart broker, dumb consumer": its exchanges route each message by
    exact key, topic pattern or headers to the queues that want it, which suits complex task
    routing, while a log broker (Kafka, Pulsar) hands every consumer the whole topic (or
    partition) and leaves the selection to the consumer.""",
    method="""The same random messages (routing keys of one to four words, two headers, a key
    for ordering) go through the exchange broker (direct, topic, headers and fanout bindings)
    and through a four-partition log of the Pulsar-model cluster partitioned by key. Each
    exchange queue's contents are compared with the reference rules; a log consumer that wants
    the same subset reads its partitions and filters, and the messages it reads per message it
    wants are counted. Per-key order: which consumers the messages of each key reached, with
    four competing consumers on one queue vs one consumer per partition. Cost: topic routing
    decisions per second over random keys, with a trie and a linear scan of the bindings, as
    the number of bindings grows.""",
    judge=judge_routing,
    rule="""refuted if any exchange queue receives other than exactly the reference set of its
    bindings (RabbitMQ's rules are exact); holds if every set is exact and the trie's nodes
    visited per decision grow at most 2x over the last tenfold growth of the bindings (a trie
    walks the key, not the bindings; a scan tests 10x the patterns); nuanced if routing stays
    exact but its work grows with the bindings. Work is counted, not timed, so load on the
    machine cannot move the verdict; decisions/s are reported beside it.""",
    profiles={
        "quick": {
            "messages": 2000,
            "bindings": [100, 1000, 10000],
            "keys": 3000,
            "vocabulary": 200,
        },
        "full": {
            "messages": 20000,
            "bindings": [100, 1000, 10000, 50000],
            "keys": 20000,
            "vocabulary": 200,
        },
    },
    references=[
        "RabbitMQ topic exchange: * matches exactly one word, # zero or more; a queue matching "
        "several bindings gets one copy (docs/references.md §7.2).",
        "RabbitMQ headers exchange: x-match all or any; arguments beginning with x- are not "
        "used to evaluate matches (docs/references.md §7.2).",
    ],
)
def routing(ctx: Context) -> Outcome[RoutingMeasurement]:
    p = ctx.params
    messages = messages_for(ctx.rng("messages"), int(p["messages"]))
    with ctx.progress.task("routing", 3) as task:
        exact, exchange_affinity = exchange_capabilities(messages)
        task.advance()
        reads, log_affinity = log_capabilities(messages, ctx.scratch)
        task.advance()
        counts = [int(c) for c in p["bindings"]]
        trie, scan, matches, visited = decision_rates(
            ctx.rng("bindings"), counts, int(p["keys"]), int(p["vocabulary"])
        )
        task.advance()
    measured = RoutingMeasurement(
        exchange_exact={k: round(v, 4) for k, v in exact.items()},
        log_reads_per_wanted={k: round(v, 3) for k, v in reads.items()},
        exchange_key_affinity=round(exchange_affinity, 4),
        log_key_affinity=round(log_affinity, 4),
        bindings=counts,
        trie_decisions_per_s=[round(r) for r in trie],
        linear_decisions_per_s=[round(r) for r in scan],
        matches_per_message=[round(m, 3) for m in matches],
        trie_nodes_per_decision=[round(v, 3) for v in visited],
        trie_work_growth=round(visited[-1] / visited[-2], 4),
        linear_work_growth=round(counts[-1] / counts[-2], 4),
    )
    capability = Table(
        "What each model routes (same messages)",
        [
            Column("requirement"),
            Column("exchange: queues given exactly their set", "fraction"),
            Column("log: messages read per message wanted", "x"),
        ],
        note="A log broker does not look at keys or headers: the consumer reads and filters. "
        "Per-key order on the exchange side is four competing consumers on one queue; "
        "RabbitMQ's consistent-hash exchange plugin (not modelled) would shard keys to queues.",
    )
    for requirement in ROUTED:
        capability.add(requirement, exact[requirement], reads[requirement])
    capability.add("per-key order (keys kept on one consumer)", exchange_affinity, log_affinity)
    cost = Table(
        "Topic routing decisions per second",
        [
            Column("bindings"),
            Column("trie", "/s"),
            Column("linear scan", "/s"),
            Column("trie nodes visited", "per decision"),
            Column("matches", "per message"),
        ],
    )
    for count, t, s, v, m in zip(counts, trie, scan, visited, matches, strict=True):
        cost.add(count, round(t), round(s), v, m)
    figure = Figure(
        "Routing decisions per second vs bindings",
        x_label="topic bindings",
        y_label="decisions/s",
        log_x=True,
        log_y=True,
        series=[
            Series("trie", [float(c) for c in counts], trie),
            Series("linear scan", [float(c) for c in counts], scan),
        ],
    )
    return Outcome(
        measured,
        summary=f"exchange routing exact on {sum(v == 1.0 for v in exact.values())}/"
        f"{len(exact)} requirements; {counts[-2]}→{counts[-1]} bindings: trie work per decision "
        f"x{measured.trie_work_growth:.2f}, decisions/s {trie[-2]:,.0f}→{trie[-1]:,.0f} "
        f"(scan {scan[-2]:,.0f}→{scan[-1]:,.0f})",
        tables=[capability, cost],
        figures=[figure],
    )


@experiment(
    id="streaming.poison_messages",
    section="7.2",
    title="Poison messages: a work queue with and without a dead-letter path",
    claim="""In the exchange model the broker deletes a message once it is acknowledged, so a
    message that can never be processed must go somewhere: requeued, it is redelivered ahead of
    everything behind it and the queue stalls; rejected, it is lost; a dead-letter exchange
    keeps it aside for inspection while the rest of the queue flows.""",
    method="""Good messages with a few poison ones shuffled in, published to a work queue of
    archlab's RabbitMQ-model broker with one consumer at prefetch 1 that acknowledges good
    messages and rejects poison ones: with requeue, without requeue, and (on a queue with a
    dead-letter exchange) with requeue for the first attempts, then without. Each run may use a
    budget of deliveries; counted: good messages processed, poison messages kept in the
    dead-letter queue or lost, deliveries spent on poison.""",
    judge=judge_poison,
    rule="""refuted if, with the dead-letter path, any poison message was lost or any good
    message not processed (what dead-lettering is for); holds if, beside that, requeueing let
    at most half the good messages through within the budget (RabbitMQ requeues at the
    original position) and rejecting without a dead-letter path lost every poison message;
    nuanced otherwise.""",
    profiles={
        "quick": {"good": 300, "poison": 5, "budget_factor": 10, "attempts": 3},
        "full": {"good": 5000, "poison": 50, "budget_factor": 10, "attempts": 5},
    },
    references=[
        "RabbitMQ: a message rejected with requeue goes back to its original position in the "
        "queue; a queue's dead-letter exchange receives messages rejected without requeue, "
        "expired or dropped by a length limit (docs/references.md §7.2).",
    ],
)
def poison_messages(ctx: Context) -> Outcome[PoisonMeasurement]:
    p = ctx.params
    good, poison, attempts = int(p["good"]), int(p["poison"]), int(p["attempts"])
    budget = int(p["budget_factor"]) * (good + poison)
    runs = {
        policy: run_policy(
            policy, good=good, poison=poison, budget=budget, attempts=attempts,
            rng=ctx.rng("order"),
        )
        for policy in POLICIES
    }  # fmt: skip
    measured = PoisonMeasurement(
        good, poison, budget, attempts, runs["requeue"], runs["drop"], runs["dead-letter"]
    )
    table = Table(
        "One consumer at prefetch 1, poison messages rejected",
        [
            Column("policy"),
            Column("good processed"),
            Column("poison kept"),
            Column("poison lost"),
            Column("deliveries"),
            Column("of them poison"),
        ],
        note=f"{good} good and {poison} poison messages; each run may use {budget} deliveries.",
    )
    for policy, run in runs.items():
        table.add(
            policy, run.good_processed, run.poison_kept, run.poison_lost, run.deliveries,
            run.poison_deliveries,
        )  # fmt: skip
    return Outcome(
        measured,
        summary=f"good messages processed: requeue {runs['requeue'].good_processed}, drop "
        f"{runs['drop'].good_processed}, dead-letter {runs['dead-letter'].good_processed} of "
        f"{good}; poison lost: drop {runs['drop'].poison_lost}, dead-letter "
        f"{runs['dead-letter'].poison_lost}",
        tables=[table],
    )
