"""The tiered cluster's metadata kept in a file, so a restarted server finds its topics (7.2).

ZooKeeper's part in Pulsar (ledger metadata: ensembles and state; each topic's ledger list,
owner epoch and cursors; which ledgers were offloaded and when) is written as one JSON document
with :func:`archlab.runtime.atomicfile.write_atomic` (a crash leaves the old or the new file,
whole). Loading it into a fresh cluster restores every topic; a ledger that was open when the
server stopped is still marked open, so the broker that acquires the topic again recovers it
(fences, re-replicates its tail, closes it) exactly as it would after another broker crashed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from archlab.runtime.atomicfile import read_atomic, write_atomic
from archlab.streaming.tiered.cluster import Position, TieredCluster, TopicRecord
from archlab.streaming.tiered.ledger import LedgerMetadata

MAGIC = b"TMD1"


def save(cluster: TieredCluster, path: Path, durable: bool = True) -> None:
    metadata = cluster.bookies.metadata
    document: dict[str, Any] = {
        "next_ledger_id": metadata.next_ledger_id,
        "ledgers": [dataclasses.asdict(m) for m in metadata.ledgers.values()],
        "topics": [
            {
                "name": t.name,
                "owner": t.owner,
                "epoch": t.epoch,
                "ledgers": t.ledgers,
                "cursors": {k: [p.ledger, p.entry] for k, p in t.cursors.items()},
            }
            for t in cluster.topics.values()
        ],
        "offloaded_at": {str(k): v for k, v in cluster.offloaded_at.items()},
    }
    write_atomic(path, MAGIC, json.dumps(document).encode(), durable=durable)


def load(cluster: TieredCluster, path: Path) -> bool:
    """Restore the metadata saved at ``path`` into ``cluster``; False if there is none."""
    raw = read_atomic(path, MAGIC)
    if raw is None:
        return False
    document = json.loads(raw)
    metadata = cluster.bookies.metadata
    metadata.next_ledger_id = int(document["next_ledger_id"])
    for item in document["ledgers"]:
        item["fragments"] = [(int(first), list(ensemble)) for first, ensemble in item["fragments"]]
        meta = LedgerMetadata(**item)
        metadata.ledgers[meta.ledger_id] = meta
    for item in document["topics"]:
        cluster.topics[item["name"]] = TopicRecord(
            item["name"],
            item["owner"],
            int(item["epoch"]),
            [int(i) for i in item["ledgers"]],
            {k: Position(int(v[0]), int(v[1])) for k, v in item["cursors"].items()},
        )
    cluster.offloaded_at.update({int(k): float(v) for k, v in document["offloaded_at"].items()})
    return True
