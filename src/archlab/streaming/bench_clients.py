"""librdkafka (``confluent-kafka``) against ``archlab stream serve``: rate and latency.

Part 3 of ``archlab bench stream``: 100-byte records produced with acks=1 and linger 5 ms,
then consumed, as records per second; then a paced stream whose values carry their send time,
for the end-to-end latency percentiles. Both clients disable Nagle's algorithm, as Kafka's
Java client does.
"""

from __future__ import annotations

import threading
import time

RECORD = 100


def librdkafka_rates(port: int, records: int) -> tuple[float, float, float, float]:
    """(produce records/s, consume records/s, p50 ms, p99 ms) with librdkafka."""
    import confluent_kafka as ck

    boot = f"127.0.0.1:{port}"
    producer = ck.Producer(
        {
            "bootstrap.servers": boot,
            "acks": 1,
            "linger.ms": 5,
            "batch.size": 1 << 20,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    value = b"x" * RECORD
    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                producer.produce("client", value)
                break
            except BufferError:
                producer.poll(0.001)
    producer.flush(60)
    produce_rate = records / (time.perf_counter() - started)
    consumer = ck.Consumer(
        {
            "bootstrap.servers": boot,
            "group.id": "bench",
            "socket.nagle.disable": True,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 16 << 20,
        }
    )
    consumer.subscribe(["client"])
    got = 0
    first: float | None = None
    deadline = time.monotonic() + 60
    while got < records and time.monotonic() < deadline:
        msgs = consumer.consume(10_000, 0.5)
        if msgs and first is None:
            first = time.perf_counter()
        got += sum(1 for m in msgs if not m.error())
    consume_rate = got / (time.perf_counter() - (first or time.perf_counter()) + 1e-9)
    # end-to-end latency: a paced stream, the send time inside each value
    lat: list[float] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set() or len(lat) < 2000:
            m = consumer.poll(0.05)  # returns as soon as one record is there
            value = (m.value() or b"") if m is not None and not m.error() else b""
            if value[:2] == b"t=":
                lat.append((time.perf_counter_ns() - int(value[2:])) / 1e6)
            if done.is_set() and time.monotonic() > deadline:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # Kafka's Java client sets TCP_NODELAY; librdkafka leaves Nagle on unless told
    paced = ck.Producer(
        {"bootstrap.servers": boot, "acks": 1, "linger.ms": 0, "socket.nagle.disable": True}
    )
    for _ in range(2000):
        paced.produce("client", b"t=%d" % time.perf_counter_ns())
        paced.poll(0)
        time.sleep(0.0005)
    paced.flush(10)
    deadline = time.monotonic() + 10
    done.set()
    reader.join(15)
    consumer.close()
    lat.sort()
    p50 = lat[len(lat) // 2] if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] if lat else float("nan")
    return produce_rate, consume_rate, p50, p99
