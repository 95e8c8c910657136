"""The broker's request handlers: one Kafka request in, one response (or a wait) out.

:class:`Broker` owns the topics (each partition a directory ``<topic>-<n>`` of segments), the
group coordinator and the transaction coordinator, and answers every API of
:mod:`archlab.streaming.protocol.messages`. It is sans-IO: the host passes ``now_ms`` and the
node the request arrived at, and gets back a response dict, ``None`` (acks=0 produce: no
response at all) or a :class:`Pending` to poll until it is ready (a JoinGroup waiting for the
group, a SyncGroup waiting for the leader, a Fetch waiting for data up to ``max_wait_ms``).
The group requests are in :mod:`~archlab.streaming.broker.group_api`, the transaction
requests in :mod:`~archlab.streaming.broker.txn_api`; this module has the rest (topics,
produce, fetch, offsets, metadata) and the periodic work (retention, time-based fsync).

With several nodes (``archlab stream serve --brokers N``) all nodes share this state in one
process; each partition has one leader, node ``partition % N``, and a request for a
partition sent to another node is answered NOT_LEADER_OR_FOLLOWER. Node 0 coordinates groups
and transactions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from archlab.streaming.broker.group_api import GroupApi
from archlab.streaming.broker.groups import GroupCoordinator
from archlab.streaming.broker.partition import Partition
from archlab.streaming.broker.requests import Message, Node, Pending
from archlab.streaming.broker.transactions import ProducerIds, TransactionCoordinator
from archlab.streaming.broker.txn_api import TransactionApi
from archlab.streaming.log.partition import LogConfig, PartitionLog
from archlab.streaming.protocol import errors
from archlab.streaming.protocol.framing import supported_versions

OFFSETS_TOPIC = "__consumer_offsets"
TXN_TOPIC = "__transaction_state"
_LATEST, _EARLIEST = -1, -2
#: How often retention and the internal topics' compaction run (Kafka checks every 5 minutes).
CLEANUP_INTERVAL_MS = 30_000


class Broker(GroupApi, TransactionApi):
    """One cluster's state; the group and transaction requests live in the two mixins."""

    def __init__(
        self,
        directory: Path,
        nodes: list[Node],
        now_ms: int,
        log_config: LogConfig | None = None,
        default_partitions: int = 1,
        group_initial_delay_ms: int = 50,
        cluster_id: str = "archlab",
    ) -> None:
        self.dir = directory
        self.nodes = nodes
        self.config = log_config or LogConfig()
        self.default_partitions = default_partitions
        self.cluster_id = cluster_id
        self.topics: dict[str, list[Partition]] = {}
        directory.mkdir(parents=True, exist_ok=True)
        found: dict[str, int] = {}
        for child in directory.iterdir():
            name, _, index = child.name.rpartition("-")
            if child.is_dir() and index.isdigit() and not name.startswith("__"):
                found[name] = max(found.get(name, 0), int(index) + 1)
        for name, count in sorted(found.items()):
            self.topics[name] = [self._open(name, i, now_ms) for i in range(count)]
        internal = LogConfig(segment_bytes=8 * 2**20, compact=True, retention_ms=-1)
        self.groups = GroupCoordinator(
            PartitionLog(directory / f"{OFFSETS_TOPIC}-0", internal, now_ms), group_initial_delay_ms
        )
        self.txns = TransactionCoordinator(
            PartitionLog(directory / f"{TXN_TOPIC}-0", internal, now_ms),
            ProducerIds(directory / "producer-id-block"),
            self._write_marker,
            lambda group, offsets: self.groups.commit(group, offsets, self._now),
            now_ms,
        )
        self._now = now_ms
        self._last_cleanup = now_ms

    def _open(self, topic: str, index: int, now_ms: int) -> Partition:
        return Partition(topic, index, self.dir / f"{topic}-{index}", self.config, now_ms)

    def recoveries(self) -> list[str]:
        """One line per damaged tail cut when the logs were opened."""
        return [
            f"{p.topic}-{p.index}/{r.segment}: cut {r.truncated_bytes} bytes after "
            f"{r.valid_bytes} ({r.reason})"
            for parts in self.topics.values()
            for p in parts
            for r in p.log.recoveries
        ]

    def leader_of(self, partition: int) -> int:
        return self.nodes[partition % len(self.nodes)].node_id

    def _write_marker(self, topic: str, partition: int, pid: int, epoch: int, commit: bool) -> int:
        p = self.topics[topic][partition]
        offset = p.write_marker(pid, epoch, commit, self._now)
        p.commit_high_watermark()
        return offset

    def tick(self, now_ms: int) -> None:
        self._now = now_ms
        self.groups.tick(now_ms)
        self.txns.tick(now_ms)
        for parts in self.topics.values():
            for p in parts:
                p.log.maybe_flush(now_ms)
        if now_ms - self._last_cleanup >= CLEANUP_INTERVAL_MS:
            self._last_cleanup = now_ms
            self.clean(now_ms)

    def clean(self, now_ms: int) -> list[str]:
        """Retention on every partition; compaction of the internal topics. Returns deletions."""
        deleted = [
            f"{p.topic}-{p.index}/{name}"
            for parts in self.topics.values()
            for p in parts
            for name in p.log.enforce_retention(now_ms)
        ]
        for log in (self.groups.log, self.txns.log):
            if len(log.segments) > 2:
                log.compact(now_ms)
        return deleted

    def create_topic(self, name: str, partitions: int, now_ms: int) -> int:
        if name in self.topics:
            return errors.TOPIC_ALREADY_EXISTS
        if (
            partitions <= 0
            or partitions > 10_000
            or not name
            or "/" in name
            or name.startswith("__")
        ):
            return errors.INVALID_PARTITIONS if partitions <= 0 else errors.INVALID_REQUEST
        self.topics[name] = [self._open(name, i, now_ms) for i in range(partitions)]
        return errors.NONE

    def close(self) -> None:
        for parts in self.topics.values():
            for p in parts:
                p.log.close()

    # -- dispatch --------------------------------------------------------------------------

    def handle(
        self, api_key: int, version: int, req: Message, client_id: str, node: int, now_ms: int
    ) -> Message | Pending | None:
        self._now = now_ms
        handler = self._handlers().get(api_key)
        if handler is None:
            raise KeyError(api_key)
        return handler(req, version, client_id, node, now_ms)

    def _handlers(
        self,
    ) -> dict[int, Callable[[Message, int, str, int, int], Message | Pending | None]]:
        return {
            0: self.produce,
            1: self.fetch,
            2: self.list_offsets,
            3: self.metadata,
            8: self.offset_commit,
            9: self.offset_fetch,
            10: self.find_coordinator,
            11: self.join_group,
            12: self.heartbeat,
            13: self.leave_group,
            14: self.sync_group,
            18: self.api_versions,
            19: self.create_topics,
            20: self.delete_topics,
            22: self.init_producer_id,
            24: self.add_partitions_to_txn,
            25: self.add_offsets_to_txn,
            26: self.end_txn,
            28: self.txn_offset_commit,
        }

    def _partition(self, topic: str, index: int, node: int) -> tuple[int, Partition | None]:
        parts = self.topics.get(topic)
        if parts is None or not 0 <= index < len(parts):
            return errors.UNKNOWN_TOPIC_OR_PARTITION, None
        if self.leader_of(index) != node:
            return errors.NOT_LEADER_OR_FOLLOWER, None
        return errors.NONE, parts[index]

    def api_versions(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        return {"error_code": errors.NONE, "api_keys": supported_versions(), "throttle_time_ms": 0}

    def metadata(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        wanted = req["topics"]
        names = sorted(self.topics) if wanted is None else [t["name"] for t in wanted]
        topics: list[Message] = []
        for name in names:
            if name not in self.topics and req["allow_auto_topic_creation"] and name:
                self.create_topic(name, self.default_partitions, now)
            parts = self.topics.get(name)
            if parts is None:
                topics.append(
                    {
                        "error_code": errors.UNKNOWN_TOPIC_OR_PARTITION,
                        "name": name,
                        "partitions": [],
                    }
                )
                continue
            topics.append(
                {
                    "error_code": errors.NONE,
                    "name": name,
                    "is_internal": False,
                    "partitions": [
                        {
                            "error_code": errors.NONE,
                            "partition_index": p.index,
                            "leader_id": self.leader_of(p.index),
                            "leader_epoch": p.leader_epoch,
                            "replica_nodes": [self.leader_of(p.index)],
                            "isr_nodes": [self.leader_of(p.index)],
                            "offline_replicas": [],
                        }
                        for p in parts
                    ],
                }
            )
        return {
            "throttle_time_ms": 0,
            "brokers": [
                {"node_id": n.node_id, "host": n.host, "port": n.port, "rack": None}
                for n in self.nodes
            ],
            "cluster_id": self.cluster_id,
            "controller_id": self.nodes[0].node_id,
            "topics": topics,
        }

    def produce(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message | None:
        txn_id = req["transactional_id"]
        responses = []
        for t in req["topics"]:
            results = []
            for pd in t["partitions"]:
                err, p = self._partition(t["name"], pd["index"], node)
                out: Message = {"index": pd["index"], "error_code": err, "base_offset": -1}
                if p is not None:
                    records = pd["records"] or b""
                    pid = _producer_id(records)
                    allowed = txn_id is None or self.txns.in_transaction(
                        pid, t["name"], pd["index"]
                    )
                    r = p.produce(records, now, txn_allowed=allowed)
                    p.commit_high_watermark()
                    out.update(
                        error_code=r.error,
                        base_offset=r.base_offset,
                        log_start_offset=p.log.log_start_offset,
                        error_message=r.message,
                    )
                results.append(out)
            responses.append({"name": t["name"], "partitions": results})
        if req["acks"] == 0:
            return None
        return {"responses": responses, "throttle_time_ms": 0}

    def fetch(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message | Pending:
        deadline = now + max(0, req["max_wait_ms"])

        def attempt(at: int) -> Message | None:
            reply, size = self._fetch_once(req, node)
            if size >= max(1, req["min_bytes"]) or at >= deadline:
                return reply
            return None

        ready = attempt(now)
        return ready if ready is not None else Pending(attempt, deadline)

    def _fetch_once(self, req: Message, node: int) -> tuple[Message, int]:
        read_committed = req["isolation_level"] == 1
        budget = req["max_bytes"]
        total = 0
        responses = []
        for t in req["topics"]:
            results = []
            for fp in t["partitions"]:
                err, p = self._partition(t["topic"], fp["partition"], node)
                out: Message = {
                    "partition_index": fp["partition"],
                    "error_code": err,
                    "high_watermark": -1,
                    "records": b"",
                    "aborted_transactions": None,
                }
                if p is not None:
                    limit = min(fp["partition_max_bytes"], max(budget - total, 0))
                    r = (
                        p.fetch(fp["fetch_offset"], limit, read_committed)
                        if limit > 0 or total == 0
                        else None
                    )
                    if r is not None:
                        out.update(
                            error_code=r.error,
                            high_watermark=r.high_watermark,
                            last_stable_offset=r.last_stable_offset,
                            log_start_offset=r.log_start_offset,
                            records=r.records if r.records is not None else b"",
                            aborted_transactions=[
                                {"producer_id": a.producer_id, "first_offset": a.first_offset}
                                for a in r.aborted
                            ]
                            if read_committed
                            else None,
                        )
                        total += r.records.length if r.records is not None else 0
                results.append(out)
            responses.append({"topic": t["topic"], "partitions": results})
        return {
            "throttle_time_ms": 0,
            "error_code": 0,
            "session_id": 0,
            "responses": responses,
        }, total

    def list_offsets(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        read_committed = req["isolation_level"] == 1
        topics = []
        for t in req["topics"]:
            results = []
            for lp in t["partitions"]:
                err, p = self._partition(t["name"], lp["partition_index"], node)
                out: Message = {"partition_index": lp["partition_index"], "error_code": err}
                if p is not None:
                    ts = lp["timestamp"]
                    if ts == _LATEST:
                        offset = p.last_stable_offset if read_committed else p.high_watermark
                    elif ts == _EARLIEST:
                        offset = p.log.log_start_offset
                    else:
                        found = p.log.offset_for_timestamp(ts)
                        offset = found if found is not None else -1
                    out.update(offset=offset, timestamp=-1, leader_epoch=p.leader_epoch)
                results.append(out)
            topics.append({"name": t["name"], "partitions": results})
        return {"throttle_time_ms": 0, "topics": topics}

    def create_topics(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        results = []
        for t in req["topics"]:
            n = t["num_partitions"] if t["num_partitions"] > 0 else self.default_partitions
            err = (
                errors.NONE
                if req["validate_only"] and t["name"] not in self.topics
                else (
                    errors.TOPIC_ALREADY_EXISTS
                    if req["validate_only"]
                    else self.create_topic(t["name"], n, now)
                )
            )
            results.append(
                {
                    "name": t["name"],
                    "error_code": err,
                    "error_message": None,
                    "num_partitions": n,
                    "replication_factor": 1,
                    "configs": [],
                }
            )
        return {"throttle_time_ms": 0, "topics": results}

    def delete_topics(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        results = []
        for name in req["topic_names"]:
            parts = self.topics.pop(name, None)
            if parts is None:
                results.append({"name": name, "error_code": errors.UNKNOWN_TOPIC_OR_PARTITION})
                continue
            for p in parts:
                p.log.close()
                shutil.rmtree(p.log.dir, ignore_errors=True)
            results.append({"name": name, "error_code": errors.NONE})
        return {"throttle_time_ms": 0, "responses": results}


def _producer_id(records: bytes) -> int:
    return int.from_bytes(records[43:51], "big", signed=True) if len(records) >= 61 else -1
