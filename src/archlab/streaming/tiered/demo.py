"""``archlab tiered demo``: Pulsar's model step by step, every number measured on the way.

A topic is written through one broker while a bookie fails (the ledger's ensemble changes, no
entry moves), a second broker takes the topic over (the first one's ledger is fenced and
closed; nothing is copied) and the first broker's next write is refused; closed ledgers are
offloaded to the object store; a new subscription replays every message from both tiers.
"""

from __future__ import annotations

import random
from pathlib import Path

from archlab.streaming.tiered.cluster import OwnershipLost, TieredCluster, TieredConfig
from archlab.streaming.tiered.objectstore import ObjectStore


def run_demo(directory: Path, store: ObjectStore, messages: int, seed: int = 0) -> list[str]:
    """Run the scenario; the lines it reports."""
    now = [0.0]
    config = TieredConfig(
        ensemble=3, write_quorum=2, ack_quorum=2, max_entries_per_ledger=100, offload=True
    )
    cluster = TieredCluster(directory, store, random.Random(seed), lambda: now[0], config)
    for i in range(4):
        cluster.add_bookie(f"bookie{i}")
    first, second = cluster.add_broker("broker-a"), cluster.add_broker("broker-b")
    lines = ["4 bookies; ledgers striped E=3 W=2 A=2 (each entry on 2 of 3), 100 entries each"]
    first.acquire("orders")
    sent = []
    for i in range(messages):
        if i == messages // 2:
            victim = cluster.ledger(cluster.topics["orders"].ledgers[-1]).fragments[-1][1][0]
            cluster.bookies.bookies[victim].up = False
            lines.append(f"{victim} fails after {i} messages")
        sent.append(first.publish("orders", f"order {i}".encode()))
        now[0] += 1
    changes = sum(len(m.fragments) - 1 for m in cluster.bookies.metadata.ledgers.values())
    lines.append(
        f"broker-a wrote {messages} messages; {changes} ensemble change(s), no entry moved"
    )
    written = sum(b.bytes_written for b in cluster.bookies.bookies.values())
    recopied = second.acquire("orders")
    copied = sum(b.bytes_written for b in cluster.bookies.bookies.values()) - written
    lines.append(
        f"broker-b takes the topic over: ledger fenced and closed, {copied} bytes written to "
        f"bookies ({recopied} re-replicated in recovery)"
    )
    try:
        first.publish("orders", b"late write")
        lines.append("broker-a could still write: FENCING FAILED")
    except OwnershipLost:
        lines.append("broker-a's next write is refused: its ledger is fenced")
    extra = 20
    for i in range(messages, messages + extra):
        second.publish("orders", f"order {i}".encode())
    lines.append(f"broker-b writes {extra} more to a new ledger")
    second.maintain("orders")
    offloaded = [m for m in cluster.bookies.metadata.ledgers.values() if m.offloaded_key]
    lines.append(
        f"offload: {len(offloaded)} closed ledger(s), {cluster.offloaded_bytes()} bytes in the "
        f"object store; {cluster.local_bytes()} bytes left on bookies"
    )
    second.subscribe("orders", "replay", "earliest")
    total = messages + extra
    got = second.receive("orders", "replay", total + 10)
    tiers: dict[str, int] = {}
    for position, _ in got:
        tier = second.tier_of(position)
        tiers[tier] = tiers.get(tier, 0) + 1
    intact = [data for _, data in got] == [f"order {i}".encode() for i in range(total)]
    lines.append(
        f"a new subscription replays {len(got)} of {total} messages "
        f"({', '.join(f'{n} from the {t}' for t, n in sorted(tiers.items()))}); "
        + ("all intact, in order" if intact else "CONTENT MISMATCH")
    )
    return lines
