"""Unmodified Kafka clients (librdkafka, kafka-python, aiokafka) against the broker (7.1).

One broker process serves the whole module; each test uses its own topics and groups. Client
timeouts are short (100 ms heartbeats) so that rebalances take a fraction of a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiokafka
import confluent_kafka as ck
import kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from archlab.streaming.log.records import decode_batch, iter_batches
from tests.streaming.kafka_server import ServerProcess, kafka_server

FAST = {
    "session.timeout.ms": 3000,
    "heartbeat.interval.ms": 100,
    "topic.metadata.refresh.interval.ms": 500,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with kafka_server(tmp_path_factory.mktemp("kafka")) as s:
        yield s


def _create(server: ServerProcess, *topics: tuple[str, int]) -> None:
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in admin.create_topics([NewTopic(t, n, 1) for t, n in topics]).values():
        future.result(10)


def _consume(consumer: ck.Consumer, n: int, timeout: float = 30) -> list[ck.Message]:
    got: list[ck.Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for m in consumer.consume(n - len(got), 0.2):
            assert not m.error(), m.error()
            got.append(m)
    return got


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_librdkafka_compressed_batches_are_stored_as_sent(
    server: ServerProcess, codec: str
) -> None:
    topic = f"codec-{codec}"
    # one linger long enough for the 50 records to leave in one batch
    producer = ck.Producer(
        {"bootstrap.servers": server.bootstrap, "compression.type": codec, "linger.ms": 200}
    )
    offsets: list[int] = []
    for i in range(50):
        producer.produce(
            topic,
            key=b"k%d" % (i % 3),
            value=b"value-%d" % i,
            headers=[("h", b"%d" % i)],
            on_delivery=lambda e, m: offsets.append(m.offset()),
        )
    assert producer.flush(10) == 0
    assert sorted(offsets) == list(range(50))
    consumer = ck.Consumer(
        {
            "bootstrap.servers": server.bootstrap,
            "group.id": f"g-{codec}",
            "auto.offset.reset": "earliest",
            **FAST,
        }
    )
    consumer.subscribe([topic])
    got = _consume(consumer, 50)
    consumer.close()
    assert [m.value() for m in got] == [b"value-%d" % i for i in range(50)]
    assert got[7].key() == b"k1" and got[7].headers() == [("h", b"7")]
    # the broker stored librdkafka's bytes unchanged, and archlab's own decoder reads them
    stored = (server.directory / f"{topic}-0" / "00000000000000000000.log").read_bytes()
    values = [r.value for _, h in iter_batches(stored) for r in decode_batch(stored, _).records]
    assert values == [b"value-%d" % i for i in range(50)]
    # librdkafka sends a batch uncompressed when compressing would not shrink it (a batch of
    # one small record, where a loaded machine split the 50): every batch is stored as sent
    codecs = {h.codec.name.lower() for _, h in iter_batches(stored)}
    assert codec in codecs
    assert codecs <= {codec, "none"}


def test_kafka_python_produces_and_consumes(server: ServerProcess) -> None:
    producer = kafka.KafkaProducer(bootstrap_servers=server.bootstrap, linger_ms=5)
    futures = [producer.send("kp", key=b"k", value=b"kp-%d" % i) for i in range(40)]
    producer.flush(10)
    assert [f.get(10).offset for f in futures] == list(range(40))
    producer.close()
    consumer = kafka.KafkaConsumer(
        "kp",
        bootstrap_servers=server.bootstrap,
        group_id="g-kp",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 40 and time.monotonic() < deadline:
        # A poll long enough to finish the group join: kafka-python 3.0.12 loses a JoinGroup
        # and SyncGroup still in flight when a poll times out during them, and the consumer
        # then never fetches (10 of 12 tries with 5 ms polls here, none with 2 s ones).
        for records in consumer.poll(timeout_ms=2000).values():
            got += [r.value for r in records]
    consumer.commit()
    consumer.close()
    assert got == [b"kp-%d" % i for i in range(40)]


def test_aiokafka_produces_and_librdkafka_consumes_with_committed_offsets(
    server: ServerProcess,
) -> None:
    async def produce() -> list[int]:
        p = aiokafka.AIOKafkaProducer(bootstrap_servers=server.bootstrap, enable_idempotence=True)
        await p.start()
        try:
            return [(await p.send_and_wait("aio", b"m%d" % i)).offset for i in range(30)]
        finally:
            await p.stop()

    assert asyncio.run(produce()) == list(range(30))
    consumer = ck.Consumer(
        {
            "bootstrap.servers": server.bootstrap,
            "group.id": "g-aio",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST,
        }
    )
    consumer.subscribe(["aio"])
    got = _consume(consumer, 30)
    consumer.commit(asynchronous=False)
    consumer.close()
    assert [m.value() for m in got] == [b"m%d" % i for i in range(30)]
    again = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "g-aio", **FAST})
    [tp] = again.committed([ck.TopicPartition("aio", 0)], timeout=10)
    again.close()
    assert tp.offset == 30
    assert (server.directory / "__consumer_offsets-0").is_dir()


def _assigned(consumer: ck.Consumer, seconds: float = 0.5) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        consumer.poll(0.05)
    return {tp.partition for tp in consumer.assignment()}


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_a_group_rebalances_when_a_member_joins_and_leaves(
    server: ServerProcess, assignor: str
) -> None:
    topic = f"shared-{assignor}"
    _create(server, (topic, 4))
    conf = {
        "bootstrap.servers": server.bootstrap,
        "group.id": f"g-{assignor}",
        "partition.assignment.strategy": assignor,
        **FAST,
    }
    a = ck.Consumer(conf)
    a.subscribe([topic])
    deadline = time.monotonic() + 10
    while _assigned(a, 0.2) != {0, 1, 2, 3} and time.monotonic() < deadline:
        pass
    assert _assigned(a, 0) == {0, 1, 2, 3}
    b = ck.Consumer(conf)
    b.subscribe([topic])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine, theirs = _assigned(a, 0.1), _assigned(b, 0.1)
        if len(mine) == 2 and len(theirs) == 2:
            break
    assert len(mine) == len(theirs) == 2 and mine | theirs == {0, 1, 2, 3}
    b.close()  # LeaveGroup: the survivor takes every partition back
    deadline = time.monotonic() + 10
    while _assigned(a, 0.1) != {0, 1, 2, 3} and time.monotonic() < deadline:
        pass
    assert _assigned(a, 0) == {0, 1, 2, 3}
    a.close()


def test_an_idempotent_producer_writes_each_record_once(server: ServerProcess) -> None:
    producer = ck.Producer(
        {
            "bootstrap.servers": server.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 2,
            "batch.num.messages": 7,
        }
    )
    offsets: list[int] = []
    for i in range(200):
        producer.produce(
            "idem", value=b"%d" % i, on_delivery=lambda e, m: offsets.append(m.offset())
        )
    assert producer.flush(10) == 0
    assert sorted(offsets) == list(range(200))


def test_transactional_read_process_write_with_read_committed(server: ServerProcess) -> None:
    _create(server, ("txn-in", 2), ("txn-out", 2))
    source = ck.Producer({"bootstrap.servers": server.bootstrap})
    for i in range(20):
        source.produce("txn-in", value=b"%d" % i, partition=i % 2)
    source.flush(10)
    tp = ck.Producer(
        {
            "bootstrap.servers": server.bootstrap,
            "transactional.id": "rpw",
            "transaction.timeout.ms": 10000,
        }
    )
    tp.init_transactions(10)
    consumer = ck.Consumer(
        {
            "bootstrap.servers": server.bootstrap,
            "group.id": "g-rpw",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            **FAST,
        }
    )
    consumer.subscribe(["txn-in"])
    done = 0
    deadline = time.monotonic() + 15
    while done < 20 and time.monotonic() < deadline:
        batch = [m for m in consumer.consume(10, 0.2) if not m.error()]
        if not batch:
            continue
        tp.begin_transaction()
        for m in batch:
            tp.produce("txn-out", value=m.value() + b"!", partition=m.partition())
        tp.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
        )
        tp.commit_transaction(10)
        done += len(batch)
    assert done == 20
    tp.begin_transaction()  # a transaction that is aborted: its record must never be read
    tp.produce("txn-out", value=b"aborted", partition=0)
    tp.flush(10)
    tp.abort_transaction(10)
    tp.begin_transaction()  # and one left open: read_committed stops before it
    tp.produce("txn-out", value=b"open", partition=1)
    tp.flush(10)
    reader = ck.Consumer(
        {
            "bootstrap.servers": server.bootstrap,
            "group.id": "g-rc",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            **FAST,
        }
    )
    reader.subscribe(["txn-out"])
    seen = [m.value() for m in _consume(reader, 20)]
    seen += [m.value() for m in _consume(reader, 1, timeout=0.5)]  # nothing beyond them
    reader.close()
    assert sorted(seen) == sorted(b"%d!" % i for i in range(20))
    tp.commit_transaction(10)
    committed = consumer.committed(
        [ck.TopicPartition("txn-in", 0), ck.TopicPartition("txn-in", 1)], timeout=10
    )
    consumer.close()
    assert [t.offset for t in committed] == [10, 10]


def test_a_fenced_zombie_cannot_commit(server: ServerProcess) -> None:
    conf = {
        "bootstrap.servers": server.bootstrap,
        "transactional.id": "zombie",
        "transaction.timeout.ms": 10000,
    }
    old = ck.Producer(conf)
    old.init_transactions(10)
    old.begin_transaction()
    old.produce("fence", value=b"zombie")
    old.flush(10)
    new = ck.Producer(conf)
    new.init_transactions(10)  # bumps the epoch: the old instance is fenced
    with pytest.raises(ck.KafkaException) as caught:
        old.commit_transaction(5)
    assert caught.value.args[0].fatal() or "fenced" in str(caught.value).lower()


def test_aiokafka_transactions_with_read_committed(server: ServerProcess) -> None:
    async def run() -> list[bytes]:
        producer = aiokafka.AIOKafkaProducer(
            bootstrap_servers=server.bootstrap, transactional_id="aio-tx"
        )
        await producer.start()
        try:
            async with producer.transaction():
                for i in range(5):
                    await producer.send("aio-tx", b"c%d" % i)
            await producer.begin_transaction()
            await producer.send("aio-tx", b"aborted")
            await producer.abort_transaction()
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            "aio-tx",
            bootstrap_servers=server.bootstrap,
            group_id="g-aio-tx",
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            for _ in range(150):  # until the five arrive, then once more for anything after them
                batch = await consumer.getmany(timeout_ms=100)
                got += [m.value for records in batch.values() for m in records]
                if len(got) >= 5 and not batch:
                    break
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [b"c%d" % i for i in range(5)]
