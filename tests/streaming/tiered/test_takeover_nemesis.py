"""Random writes, bookie failures and broker takeovers never lose an acknowledged message.

Each run writes through the topic's current owner while bookies fail and come back (at most
E − A = 1 down at a time, so every acknowledged entry keeps a live copy) and the other broker
takes the topic over; after every step every acknowledged message must read back from the
current owner, in order, and the previous owner's writes must be refused.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from archlab.streaming.tiered.cluster import (
    OwnershipLost,
    Position,
    TieredCluster,
    TieredConfig,
)
from archlab.streaming.tiered.ledger import NotEnoughBookies
from archlab.streaming.tiered.objectstore import LocalDirectoryStore

steps = st.lists(
    st.tuples(
        st.sampled_from(["publish"] * 4 + ["fail", "heal", "takeover", "maintain"]),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(steps, st.integers(0, 2**16))
def test_no_acknowledged_message_is_lost(plan: list[tuple[str, int]], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cluster = TieredCluster(
            root,
            LocalDirectoryStore(root / "objects"),
            random.Random(seed),
            lambda: 0.0,
            TieredConfig(max_entries_per_ledger=4, offload=True, offload_keep_local_bytes=20),
        )
        bookies = [cluster.add_bookie(f"b{i}") for i in range(4)]
        brokers = [cluster.add_broker("x"), cluster.add_broker("y")]
        owner = 0
        brokers[owner].acquire("t")
        acked: list[tuple[Position, bytes]] = []
        for i, (op, n) in enumerate(plan):
            if op == "publish":
                data = f"m{i}".encode()
                with contextlib.suppress(NotEnoughBookies):
                    acked.append((brokers[owner].publish("t", data), data))
            elif op == "fail" and all(b.up for b in bookies):
                bookies[n].up = False
            elif op == "heal":
                for b in bookies:
                    b.up = True
            elif op == "takeover":
                old, owner = owner, 1 - owner
                brokers[owner].acquire("t")
                try:
                    brokers[old].publish("t", b"zombie")
                except OwnershipLost:
                    pass
                else:
                    raise AssertionError("the old owner could still write")
            elif op == "maintain":
                brokers[owner].maintain("t")
            current = brokers[owner]
            assert [current.read("t", p) for p, _ in acked] == [d for _, d in acked]
            retained = current.positions("t")
            assert [p for p in retained if p in dict(acked)] == [p for p, _ in acked]
