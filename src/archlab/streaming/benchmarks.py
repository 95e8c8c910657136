"""``archlab bench stream``: the Kafka-compatible broker against the disk, the kernel and Kafka.

Three measurements, one run, one machine:

1. **Produce vs the disk.** 100-byte records in 16 KiB batches appended through the broker's
   partition (CRC check, idempotence bookkeeping, offset assignment, segment file append), one
   partition, fsync at the end (acks=1: the leader's append, not each record, is durable), as
   a fraction of a ``dd``-style sequential write of the same number of bytes in 1 MiB writes
   with the same final fsync, alternating rounds. Goal: ≥ 50% of the disk's ceiling.
2. **Consume: sendfile vs read+send.** Two ``archlab stream serve`` processes over the same
   stored log, one writing fetched bytes with ``sendfile``, one with ``read()`` + ``send()``; a
   raw Kafka Fetch loop reads the whole log several times from each; the *server process's*
   CPU time (``/proc/<pid>/stat``) per byte served is compared. Goal: ≥ 2x less with sendfile.
3. **Real client.** ``confluent-kafka`` (librdkafka) produces 100-byte records (acks=1,
   linger 5 ms) and consumes them against archlab's broker: records/s each way, and end-to-end
   latency p50/p99 of a paced stream, beside Kafka's published single-producer figure
   (821,557 records/s, docs/references.md §7.1: different hardware, a JVM broker, for scale).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median, peer_available
from archlab.streaming.bench_clients import librdkafka_rates
from archlab.streaming.broker.partition import Partition
from archlab.streaming.log.partition import LogConfig, PartitionLog
from archlab.streaming.log.records import make_batch
from archlab.streaming.protocol.messages import FETCH
from archlab.streaming.protocol.schema import encode

KAFKA_SINGLE_PRODUCER = 821_557  # records/s, 100-byte records (Kreps 2014, references §7.1)
RECORD = 100
BATCH_RECORDS = 16 * 1024 // (RECORD + 10)  # the Java producer's default batch.size, 16 KiB
BIG_BATCH_RECORDS = 2**20 // (RECORD + 10)  # librdkafka's default batch.size, ~1 MB


#: Both sides write random (incompressible) bytes that repeat only every 32 MiB, so that a
#: virtual disk that compresses or deduplicates favours neither.
DISTINCT_BYTES = 32 << 20


def _batches(total_bytes: int, per_batch: int = BATCH_RECORDS) -> list[bytes]:
    count = max(1, total_bytes // (RECORD * per_batch))
    distinct = [
        make_batch([os.urandom(RECORD) for _ in range(per_batch)], timestamp=1).encode()
        for _ in range(max(1, min(count, DISTINCT_BYTES // (RECORD * per_batch))))
    ]
    return [distinct[i % len(distinct)] for i in range(count)]


def _produce_trial(scratch: Path, batches: list[bytes]) -> Callable[[], float]:
    def trial() -> float:
        directory = scratch / f"produce-{len(batches[0])}"
        shutil.rmtree(directory, ignore_errors=True)
        part = Partition(
            "bench", 0, directory, LogConfig(flush_messages=0, segment_bytes=1 << 30), 0
        )
        started = time.perf_counter()
        for data in batches:
            part.produce(data, 0)
        part.log.flush(0)
        seconds = time.perf_counter() - started
        part.log.close()
        return sum(len(b) for b in batches) / seconds / 1e6

    return trial


def _dd_trial(scratch: Path, total: int) -> Callable[[], float]:
    blocks = [os.urandom(1 << 20) for _ in range(DISTINCT_BYTES >> 20)]

    def trial() -> float:
        path = scratch / "dd.bin"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        started = time.perf_counter()
        written = 0
        while written < total:
            written += os.write(fd, blocks[(written >> 20) % len(blocks)])
        os.fsync(fd)
        seconds = time.perf_counter() - started
        os.close(fd)
        path.unlink()
        return written / seconds / 1e6

    return trial


class _Broker:
    """An ``archlab stream serve`` child process on a free loopback port."""

    def __init__(self, directory: Path, sendfile: bool = True) -> None:
        args = [
            sys.executable,
            "-m",
            "archlab",
            "stream",
            "serve",
            "--dir",
            str(directory),
            "--port",
            "0",
            "--flush-messages",
            "0",
        ]
        self.proc = subprocess.Popen(
            [*args, *([] if sendfile else ["--no-sendfile"])],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.close()
            raise RuntimeError("archlab stream serve did not start")
        self.port = int(line.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _fetch_all(port: int, topic: str, batches: int, batch_size: int, passes: int) -> int:
    """Fetch the whole partition ``passes`` times with Fetch v4; returns bytes received.

    Every stored batch has the same size, so the batches one response holds (whole batches up
    to ``max_bytes``) tell where the next fetch starts without decoding the response.
    """
    max_bytes = 8 << 20
    per_fetch = max(1, max_bytes // batch_size)
    end = batches * BATCH_RECORDS
    received = 0
    buf = bytearray(1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as s:
        for _ in range(passes):
            offset = 0
            while offset < end:
                body = encode(
                    FETCH.request,
                    4,
                    False,
                    {
                        "replica_id": -1,
                        "max_wait_ms": 0,
                        "min_bytes": 1,
                        "max_bytes": max_bytes,
                        "isolation_level": 0,
                        "topics": [
                            {
                                "topic": topic,
                                "partitions": [
                                    {
                                        "partition": 0,
                                        "fetch_offset": offset,
                                        "partition_max_bytes": max_bytes,
                                    }
                                ],
                            }
                        ],
                    },
                )
                header = struct.pack(">hhih", 1, 4, 1, 5) + b"bench"
                payload = header + b"".join(p for p in body if isinstance(p, bytes))
                s.sendall(struct.pack(">i", len(payload)) + payload)
                remaining = struct.unpack(">i", _exact(s, 4))[0]
                received += remaining
                while remaining:
                    n = s.recv_into(buf, min(len(buf), remaining))
                    if not n:
                        raise ConnectionError("broker closed the connection")
                    remaining -= n
                offset += per_fetch * BATCH_RECORDS
    return received


def _exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        out += chunk
    return out


def _serve_trial(
    broker: _Broker, batches: int, batch_size: int, passes: int
) -> Callable[[], float]:
    """CPU seconds of the broker process per GB it served."""

    def trial() -> float:
        before = broker.cpu_seconds()
        received = _fetch_all(broker.port, "bench", batches, batch_size, passes)
        return (broker.cpu_seconds() - before) / (received / 1e9)

    return trial


@benchmark(
    name="stream",
    title="Kafka-compatible broker: produce vs disk, sendfile vs copy, librdkafka (codex 7.1)",
    description="""Produce through the broker's partition as a fraction of a dd-style sequential
    write; broker CPU per byte served through Fetch with sendfile vs read()+send(); records/s
    and end-to-end latency of confluent-kafka against archlab stream serve, beside Kafka's
    published 821,557 records/s.""",
)
def bench_stream(ctx: BenchContext) -> BenchReport:
    rounds = 3 if ctx.quick else 5
    total = (128 if ctx.quick else 512) << 20
    report = BenchReport(
        columns=[
            Column("measure"),
            Column("archlab"),
            Column("reference"),
            Column("unit"),
            Column("archlab / reference", "x"),
        ],
        rows=[],
        notes=[
            f"{rounds} interleaved rounds, medians; {RECORD}-byte records in "
            f"{BATCH_RECORDS}- and {BIG_BATCH_RECORDS}-record batches (16 KiB, the Java "
            "producer's batch.size, and ~1 MB, librdkafka's); "
            f"{total >> 20} MiB per produce round, fsync at the end of each side."
        ],
    )
    samples = interleaved(
        {
            "16k": _produce_trial(ctx.scratch, _batches(total)),
            "1m": _produce_trial(ctx.scratch, _batches(total, BIG_BATCH_RECORDS)),
            "dd": _dd_trial(ctx.scratch, total),
        },
        rounds,
        ctx.progress,
        "produce vs dd",
    )
    dd = median(samples["dd"])
    for key, label in (("16k", "16 KiB batches"), ("1m", "1 MiB batches")):
        produce = median(samples[key])
        report.rows.append(
            {
                "measure": f"produce through the partition ({label}) vs dd",
                "archlab": round(produce),
                "reference": round(dd),
                "unit": "MB/s",
                "archlab / reference": round(produce / dd, 2),
            }
        )
        report.ratios.append(
            Ratio.of_rounds(
                f"produce ({label}) / sequential-write ceiling",
                samples[key],
                samples["dd"],
                goal=0.5,
            )
        )
    # consume: one stored log, two brokers over copies of it
    stored = (64 if ctx.quick else 256) << 20
    base = ctx.scratch / "served"
    for stale in (base, ctx.scratch / "served-copy", ctx.scratch / "client"):
        shutil.rmtree(stale, ignore_errors=True)
    log = PartitionLog(base / "bench-0", LogConfig(flush_messages=0, segment_bytes=1 << 30))
    serve_batches = _batches(stored)
    for data in serve_batches:
        log.append(data, 0)
    log.close()
    shutil.copytree(base, ctx.scratch / "served-copy")
    size = len(serve_batches[0])
    sendfile, copy = (
        _Broker(base, sendfile=True),
        _Broker(ctx.scratch / "served-copy", sendfile=False),
    )
    try:
        cpu = interleaved(
            {
                "sendfile": _serve_trial(sendfile, len(serve_batches), size, 4),
                "read_send": _serve_trial(copy, len(serve_batches), size, 4),
            },
            rounds,
            ctx.progress,
            "fetch: sendfile vs read+send",
        )
    finally:
        sendfile.close()
        copy.close()
    s_cpu, c_cpu = median(cpu["sendfile"]), median(cpu["read_send"])
    report.rows.append(
        {
            "measure": "broker CPU per GB fetched, sendfile vs read+send",
            "archlab": round(s_cpu, 3),
            "reference": round(c_cpu, 3),
            "unit": "CPU s/GB",
            "archlab / reference": round(c_cpu / s_cpu, 2) if s_cpu else None,
        }
    )
    report.ratios.append(
        Ratio.of_rounds(
            "CPU per byte, read+send / sendfile", cpu["read_send"], cpu["sendfile"], goal=2.0
        )
    )
    if not peer_available("confluent_kafka"):
        report.missing_peers.append("confluent-kafka")
        return report
    broker = _Broker(ctx.scratch / "client")
    try:
        produce_rate, consume_rate, p50, p99 = librdkafka_rates(
            broker.port, 100_000 if ctx.quick else 500_000
        )
    finally:
        broker.close()
    for name, value, ref, unit in (
        ("librdkafka produce, acks=1", produce_rate, KAFKA_SINGLE_PRODUCER, "records/s"),
        ("librdkafka consume", consume_rate, 940_521, "records/s"),
        ("end-to-end latency p50", p50, 2.0, "ms"),
        ("end-to-end latency p99", p99, 3.0, "ms"),
    ):
        report.rows.append(
            {
                "measure": name,
                "archlab": round(value, 2),
                "reference": ref,
                "unit": unit,
                "archlab / reference": round(value / ref, 3),
            }
        )
    report.notes.append(
        "References: Kafka 2014 (Kreps, docs/references.md §7.1): 821,557 "
        "records/s one producer, 940,521 one consumer, 2 ms / 3 ms latency; "
        "other hardware and a JVM broker, for scale only."
    )
    return report
