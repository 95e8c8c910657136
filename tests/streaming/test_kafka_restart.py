"""A broker SIGKILLed mid-run and restarted (7.1): no acknowledged record is lost.

The producer is librdkafka with idempotence, writing while the broker dies; it retries what
was not acknowledged once the broker is back. The restarted broker recovers its log (cutting
any torn tail), rebuilds its producers' sequence state from the stored batches, and so the
retries are neither lost nor duplicated. Also: bad frames get the protocol's own errors.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import confluent_kafka as ck

from tests.streaming.kafka_server import ServerProcess, free_port, kafka_server


def test_no_acknowledged_record_is_lost_across_a_sigkill(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    server.start()
    try:
        producer = ck.Producer(
            {
                "bootstrap.servers": server.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": 20000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 200,
            }
        )
        acked: list[bytes] = []

        def delivered(err: ck.KafkaError | None, msg: ck.Message) -> None:
            if err is None:
                acked.append(msg.value())

        for i in range(600):
            producer.produce("durable", value=b"r%04d" % i, on_delivery=delivered)
            producer.poll(0)
            if i == 300:
                producer.flush(10)
                for j in range(300, 340):  # in flight while the broker dies
                    producer.produce("durable", value=b"k%04d" % j, on_delivery=delivered)
                producer.poll(0.005)
                server.kill()
                segment = tmp_path / "durable-0" / "00000000000000000000.log"
                with segment.open("ab") as torn:  # as if the kill cut a write short
                    torn.write(b"\x00" * 30)
                server.start()
                assert any("recovered durable-0" in line for line in server.lines), server.lines
        assert producer.flush(20) == 0
        consumer = ck.Consumer(
            {
                "bootstrap.servers": server.bootstrap,
                "group.id": "after-kill",
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe(["durable"])
        stored: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(stored) < len(acked) and time.monotonic() < deadline:
            stored += [m.value() for m in consumer.consume(500, 0.2) if not m.error()]
        consumer.close()
        assert len(acked) == 640
        assert set(acked) <= set(stored), "an acknowledged record was lost"
        assert len(stored) == len(set(stored)), "a retried record was stored twice"
    finally:
        server.stop()


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _reply(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", _recv(sock, 4))
    return _recv(sock, size)


def _recv(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "the broker closed the connection"
        out += chunk
    return out


def test_bad_requests_get_protocol_errors_and_the_broker_keeps_serving(tmp_path: Path) -> None:
    with (
        kafka_server(tmp_path) as server,
        socket.create_connection(("127.0.0.1", server.port), 5) as s,
    ):
        header = struct.pack(">hhih", 999, 0, 7, 0)  # an API key that does not exist
        s.sendall(_frame(header))
        assert struct.unpack(">ih", _reply(s)) == (7, 35)  # UNSUPPORTED_VERSION
        s.sendall(_frame(struct.pack(">hhih", 0, 1, 8, 0)))  # Produce v1: not implemented
        assert struct.unpack(">ih", _reply(s)) == (8, 35)
        s.sendall(_frame(struct.pack(">hhih", 18, 9, 9, 0)))  # ApiVersions v9: v0 error + ranges
        body = _reply(s)
        assert struct.unpack_from(">ih", body) == (9, 35) and len(body) > 10
        s.sendall(_frame(struct.pack(">hhih", 3, 1, 10, 0) + b"\x00\x00\x00\x05"))  # truncated
        assert struct.unpack(">ih", _reply(s)) == (10, 42)  # INVALID_REQUEST
        s.sendall(_frame(struct.pack(">hhih", 18, 0, 11, 0)))  # the same connection still works
        body = _reply(s)
        assert struct.unpack_from(">ih", body) == (11, 0)
        with socket.create_connection(("127.0.0.1", server.port), 5) as big:
            big.sendall(struct.pack(">i", 2**30))  # an oversized frame closes only that connection
            assert big.recv(10) == b""
        s.sendall(_frame(struct.pack(">hhih", 18, 0, 12, 0)))
        assert struct.unpack_from(">ih", _reply(s)) == (12, 0)


def test_three_brokers_each_lead_a_partition(tmp_path: Path) -> None:
    with kafka_server(tmp_path, partitions=3, brokers=3) as server:
        producer = ck.Producer({"bootstrap.servers": server.bootstrap})
        for i in range(30):
            producer.produce("spread", value=b"%d" % i, partition=i % 3)
        assert producer.flush(10) == 0
        metadata = producer.list_topics("spread", timeout=5)
        leaders = {p.id: p.leader for p in metadata.topics["spread"].partitions.values()}
        assert leaders == {0: 0, 1: 1, 2: 2}, (leaders, metadata.brokers)
        consumer = ck.Consumer(
            {
                "bootstrap.servers": server.bootstrap,
                "group.id": "spread",
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe(["spread"])
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(got) < 30 and time.monotonic() < deadline:
            got += [m.value() for m in consumer.consume(30, 0.2) if not m.error()]
        consumer.close()
        assert sorted(got) == sorted(b"%d" % i for i in range(30))
