"""Lost updates, read straight off a transactional history (codex 5.1).

Two committed transactions that read the same version of a key and then both wrote that key
each overwrote a state without seeing the other's write: whichever is ordered second lost the
first one's update. Snapshot isolation forbids it (first committer wins: the second to commit
aborts), read committed allows it.

In the dependency graph a lost update is two rw edges between the two writers, plus a ww
edge where the order of their writes is known: a G-single then, but only a G2 (allowed by
snapshot isolation) where the order is unknown, as with two blind appends nobody read after
or two register writes. So it is found here directly, from each transaction's *external*
read of a key (its first read, made before it wrote the key itself) and its writes,
whatever the version order says. Only ``ok`` transactions count: an ``info`` one's reads are
unknown.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from archlab.check.anomalies import Anomaly, key_name, show, txn_where
from archlab.check.transactions import WRITE_F, Txn, Workload

#: Lost updates reported in full (the count of all is in each explanation).
MAX_REPORTED = 10


def lost_updates(txns: Sequence[Txn], workload: Workload) -> list[Anomaly]:
    """One ``lost-update`` anomaly per (key, version) read by two or more writers of the key."""
    write_f = WRITE_F[workload]
    readers: dict[tuple[Hashable, Any], list[Txn]] = {}
    for txn in txns:
        if not txn.committed:
            continue
        external: dict[Hashable, Any] = {}
        written: set[Hashable] = set()
        for m in txn.mops:
            if m.f == write_f:
                written.add(m.key)
            elif m.key not in written and m.key not in external:
                external[m.key] = tuple(m.value or ()) if workload == "list-append" else m.value
        for key, version in external.items():
            if key in written:
                readers.setdefault((key, version), []).append(txn)
    groups = [(key, version, ts) for (key, version), ts in readers.items() if len(ts) > 1]
    found = []
    for key, version, group in groups[:MAX_REPORTED]:
        names = " and ".join(txn_where(t.op) for t in group)
        more = f" (one of {len(groups)} such versions)" if len(groups) > 1 else ""
        found.append(
            Anomaly(
                "lost-update",
                f"{names} each read {key_name(key)} = {_version(version)} and then wrote "
                f"that key, neither seeing the other's write: one of the updates was made to a "
                f"stale version (first committer wins would have aborted it){more}",
                tuple(t.op for t in group),
                key=key,
            )
        )
    return found


def _version(version: Any) -> str:
    if isinstance(version, tuple) and len(version) > 6:
        return "[…, " + ", ".join(show(v) for v in version[-4:]) + "]"
    return show(version)
