"""Pulsar's model (7.2): takeover without copying, tiered reads, offload to S3, retention."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from archlab.streaming.tiered.cluster import (
    Broker,
    OwnershipLost,
    Position,
    TieredCluster,
    TieredConfig,
)
from archlab.streaming.tiered.objectstore import LocalDirectoryStore, ObjectStore, S3ObjectStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, store: ObjectStore | None = None, **config: object) -> TieredCluster:
    c = TieredCluster(
        tmp_path,
        store or LocalDirectoryStore(tmp_path / "objects"),
        random.Random(3),
        Clock(),
        TieredConfig(**config),  # type: ignore[arg-type]
    )
    for i in range(4):
        c.add_bookie(f"bookie{i}")
    return c


def clock(c: TieredCluster) -> Clock:
    assert isinstance(c.clock, Clock)
    return c.clock


def test_a_broker_takes_over_a_topic_without_copying_its_data(tmp_path: Path) -> None:
    c = make(tmp_path, max_entries_per_ledger=10)
    a, b = c.add_broker("a"), c.add_broker("b")
    a.acquire("t")
    sent = [a.publish("t", f"m{i}".encode()) for i in range(25)]
    written = sum(x.bytes_written for x in c.bookies.bookies.values())
    assert b.acquire("t") == 0  # every entry was fully replicated: nothing re-replicated
    assert sum(x.bytes_written for x in c.bookies.bookies.values()) == written
    with pytest.raises(OwnershipLost):
        a.publish("t", b"zombie")
    assert [b.read("t", p) for p in sent] == [f"m{i}".encode() for i in range(25)]
    after = b.publish("t", b"new owner")
    assert after.ledger > sent[-1].ledger
    assert b.positions("t")[-1] == after


def test_ledgers_roll_over_and_new_bookies_take_new_ledgers(tmp_path: Path) -> None:
    c = make(tmp_path, max_entries_per_ledger=5, ensemble=3, write_quorum=2, ack_quorum=2)
    broker = c.add_broker("a")
    broker.acquire("t")
    for i in range(10):
        broker.publish("t", bytes([i]))
    existing = set(c.bookies.metadata.ledgers)
    newcomer = c.add_bookie("bookie-new")
    before = {n: x.disk_bytes() for n, x in c.bookies.bookies.items()}
    for i in range(400):
        broker.publish("t", bytes([i % 256]))
    assert newcomer.disk_bytes() > 0  # new ledgers chose it; nothing was copied to it
    assert set(newcomer.ledgers()).isdisjoint(existing)  # only ledgers created after it joined
    assert all(c.bookies.bookies[n].disk_bytes() >= v for n, v in before.items())


def read_tiers(broker: Broker, positions: list[Position]) -> dict[str, int]:
    tiers: dict[str, int] = {}
    for p in positions:
        tiers[broker.tier_of(p)] = tiers.get(broker.tier_of(p), 0) + 1
    return tiers


def exercise_offload(c: TieredCluster) -> None:
    broker = c.add_broker("a")
    broker.acquire("t")
    sent = [broker.publish("t", f"message {i}".encode() * 10) for i in range(65)]
    broker.maintain("t")
    assert c.offloaded_bytes() > 0
    tiers = read_tiers(broker, sent)
    assert tiers["object store"] >= 40 and tiers["bookie"] >= 1
    assert [broker.read("t", p) for p in sent] == [f"message {i}".encode() * 10 for i in range(65)]
    local = c.local_bytes()
    assert local < sum(len(f"message {i}".encode() * 10) for i in range(65))
    # a new subscription replays everything, from both tiers
    broker.subscribe("t", "late", "earliest")
    got = broker.receive("t", "late", 1000)
    assert [p for p, _ in got] == sent


def test_offload_to_a_local_directory_store(tmp_path: Path) -> None:
    exercise_offload(make(tmp_path, max_entries_per_ledger=10, offload=True))


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is a dev dependency")
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_offload_to_an_s3_compatible_server(tmp_path: Path, s3_endpoint: str) -> None:
    store = S3ObjectStore.connect(s3_endpoint, "archlab-offload")
    exercise_offload(make(tmp_path, store, max_entries_per_ledger=10, offload=True))
    assert store.keys("offload/t/")
    assert store.get(store.keys("offload/t/")[0], 0, 4) != b""


def test_retention_deletes_consumed_ledgers_from_both_tiers(tmp_path: Path) -> None:
    c = make(tmp_path, max_entries_per_ledger=10, offload=True, retention_s=100.0)
    broker = c.add_broker("a")
    broker.acquire("t")
    broker.subscribe("t", "s", "earliest")
    for i in range(50):
        clock(c).now = i
        broker.publish("t", bytes(100))
    broker.maintain("t")
    assert c.offloaded_bytes() > 0
    clock(c).now = 500
    broker.maintain("t")
    assert len(c.topics["t"].ledgers) == 6  # nothing consumed yet: retention keeps the backlog
    last = broker.receive("t", "s", 1000)[-1][0]
    broker.ack("t", "s", last)
    broker.maintain("t")
    assert c.offloaded_bytes() == 0 and len(c.topics["t"].ledgers) <= 2


def test_a_zombie_broker_cannot_roll_over_to_a_new_ledger(tmp_path: Path) -> None:
    c = make(tmp_path, max_entries_per_ledger=5)
    a, b = c.add_broker("a"), c.add_broker("b")
    a.acquire("t")
    for i in range(5):
        a.publish("t", bytes([i]))  # a's ledger is full: its next write would roll over
    b.acquire("t")
    ledgers = list(c.topics["t"].ledgers)
    with pytest.raises(OwnershipLost):
        a.publish("t", b"zombie")
    assert c.topics["t"].ledgers == ledgers
