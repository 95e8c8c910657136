"""The requests this broker answers, their schemas and the version ranges it implements.

Field layouts follow Apache Kafka's published message definitions (the protocol guide,
docs/references.md §7.1). Each API lists exactly the versions implemented here, and
ApiVersions advertises only those: a client never negotiates a version this file lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archlab.streaming.protocol.schema import Field


def f(name: str, kind: str | tuple[Field, ...] = "int32", v: str = "0+", **kw: Any) -> Field:
    return Field(name, kind, v, **kw)


def arr(name: str, kind: str | tuple[Field, ...], v: str = "0+", **kw: Any) -> Field:
    return Field(name, kind, v, array=True, **kw)


def nstr(name: str, v: str = "0+", nullable: str = "0+") -> Field:
    return Field(name, "string", v, nullable=nullable)


@dataclass(frozen=True)
class Api:
    key: int
    name: str
    min_version: int
    max_version: int
    first_flexible: int
    request: tuple[Field, ...]
    response: tuple[Field, ...]

    def flexible(self, version: int) -> bool:
        return version >= self.first_flexible


THROTTLE = f("throttle_time_ms", "int32")
PRODUCE = Api(
    0,
    "Produce",
    3,
    9,
    9,
    (
        nstr("transactional_id"),
        f("acks", "int16"),
        f("timeout_ms"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr("partitions", (f("index"), f("records", "records", nullable="0+"))),
            ),
        ),
    ),
    (
        arr(
            "responses",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("index"),
                        f("error_code", "int16"),
                        f("base_offset", "int64"),
                        f("log_append_time_ms", "int64", "2+", default=-1),
                        f("log_start_offset", "int64", "5+", default=-1),
                        arr("record_errors", (f("batch_index"), nstr("message", "8+")), "8+"),
                        nstr("error_message", "8+"),
                    ),
                ),
            ),
        ),
        f("throttle_time_ms", "int32", "1+"),
    ),
)
FETCH = Api(
    1,
    "Fetch",
    4,
    12,
    12,
    (
        f("replica_id"),
        f("max_wait_ms"),
        f("min_bytes"),
        f("max_bytes", v="3+", default=0x7FFFFFFF),
        f("isolation_level", "int8", "4+"),
        f("session_id", v="7+"),
        f("session_epoch", v="7+", default=-1),
        arr(
            "topics",
            (
                f("topic", "string"),
                arr(
                    "partitions",
                    (
                        f("partition"),
                        f("current_leader_epoch", v="9+", default=-1),
                        f("fetch_offset", "int64"),
                        f("last_fetched_epoch", v="12+", default=-1),
                        f("log_start_offset", "int64", "5+", default=-1),
                        f("partition_max_bytes"),
                    ),
                ),
            ),
        ),
        arr("forgotten_topics", (f("topic", "string"), arr("partitions", "int32")), "7+"),
        f("rack_id", "string", "11+"),
    ),
    (
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16", "7+"),
        f("session_id", v="7+"),
        arr(
            "responses",
            (
                f("topic", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("error_code", "int16"),
                        f("high_watermark", "int64"),
                        f("last_stable_offset", "int64", "4+", default=-1),
                        f("log_start_offset", "int64", "5+", default=-1),
                        arr(
                            "aborted_transactions",
                            (f("producer_id", "int64"), f("first_offset", "int64")),
                            "4+",
                            nullable="4+",
                        ),
                        f("preferred_read_replica", v="11+", default=-1),
                        f("records", "records", nullable="0+"),
                    ),
                ),
            ),
        ),
    ),
)
LIST_OFFSETS = Api(
    2,
    "ListOffsets",
    1,
    7,
    6,
    (
        f("replica_id"),
        f("isolation_level", "int8", "2+"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("current_leader_epoch", v="4+", default=-1),
                        f("timestamp", "int64"),
                    ),
                ),
            ),
        ),
    ),
    (
        f("throttle_time_ms", "int32", "2+"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("error_code", "int16"),
                        f("timestamp", "int64", default=-1),
                        f("offset", "int64", default=-1),
                        f("leader_epoch", v="4+", default=-1),
                    ),
                ),
            ),
        ),
    ),
)
_BROKER = (f("node_id"), f("host", "string"), f("port"), nstr("rack", "1+", "1+"))
METADATA = Api(
    3,
    "Metadata",
    1,
    12,
    9,
    (
        arr("topics", (f("topic_id", "uuid", "10+"), nstr("name", "0+", "10+")), nullable="1+"),
        f("allow_auto_topic_creation", "bool", "4+", default=True),
        f("include_cluster_authorized_operations", "bool", "8-10"),
        f("include_topic_authorized_operations", "bool", "8+"),
    ),
    (
        f("throttle_time_ms", "int32", "3+"),
        arr("brokers", _BROKER),
        nstr("cluster_id", "2+", "2+"),
        f("controller_id", v="1+", default=-1),
        arr(
            "topics",
            (
                f("error_code", "int16"),
                nstr("name", "0+", "12+"),
                f("topic_id", "uuid", "10+"),
                f("is_internal", "bool", "1+"),
                arr(
                    "partitions",
                    (
                        f("error_code", "int16"),
                        f("partition_index"),
                        f("leader_id"),
                        f("leader_epoch", v="7+", default=-1),
                        arr("replica_nodes", "int32"),
                        arr("isr_nodes", "int32"),
                        arr("offline_replicas", "int32", "5+"),
                    ),
                ),
                f("topic_authorized_operations", v="8+", default=-(2**31)),
            ),
        ),
        f("cluster_authorized_operations", v="8-10", default=-(2**31)),
    ),
)
OFFSET_COMMIT = Api(
    8,
    "OffsetCommit",
    2,
    8,
    8,
    (
        f("group_id", "string"),
        f("generation_id", v="1+", default=-1),
        f("member_id", "string", "1+"),
        nstr("group_instance_id", "7+", "7+"),
        f("retention_time_ms", "int64", "2-4", default=-1),
        arr(
            "topics",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("committed_offset", "int64"),
                        f("committed_leader_epoch", v="6+", default=-1),
                        nstr("committed_metadata"),
                    ),
                ),
            ),
        ),
    ),
    (
        f("throttle_time_ms", "int32", "3+"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr("partitions", (f("partition_index"), f("error_code", "int16"))),
            ),
        ),
    ),
)
OFFSET_FETCH = Api(
    9,
    "OffsetFetch",
    1,
    7,
    6,
    (
        f("group_id", "string"),
        arr("topics", (f("name", "string"), arr("partition_indexes", "int32")), nullable="2+"),
        f("require_stable", "bool", "7+"),
    ),
    (
        f("throttle_time_ms", "int32", "3+"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("committed_offset", "int64"),
                        f("committed_leader_epoch", v="5+", default=-1),
                        nstr("metadata"),
                        f("error_code", "int16"),
                    ),
                ),
            ),
        ),
        f("error_code", "int16", "2+"),
    ),
)
FIND_COORDINATOR = Api(
    10,
    "FindCoordinator",
    0,
    3,
    3,
    (f("key", "string"), f("key_type", "int8", "1+")),
    (
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        nstr("error_message", "1+", "1+"),
        f("node_id"),
        f("host", "string"),
        f("port"),
    ),
)
JOIN_GROUP = Api(
    11,
    "JoinGroup",
    0,
    7,
    6,
    (
        f("group_id", "string"),
        f("session_timeout_ms"),
        f("rebalance_timeout_ms", v="1+", default=-1),
        f("member_id", "string"),
        nstr("group_instance_id", "5+", "5+"),
        f("protocol_type", "string"),
        arr("protocols", (f("name", "string"), f("metadata", "bytes"))),
    ),
    (
        f("throttle_time_ms", "int32", "2+"),
        f("error_code", "int16"),
        f("generation_id", default=-1),
        nstr("protocol_type", "7+", "7+"),
        nstr("protocol_name", "0+", "7+"),
        f("leader", "string"),
        f("member_id", "string"),
        arr(
            "members",
            (
                f("member_id", "string"),
                nstr("group_instance_id", "5+", "5+"),
                f("metadata", "bytes"),
            ),
        ),
    ),
)
HEARTBEAT = Api(
    12,
    "Heartbeat",
    0,
    4,
    4,
    (
        f("group_id", "string"),
        f("generation_id"),
        f("member_id", "string"),
        nstr("group_instance_id", "3+", "3+"),
    ),
    (f("throttle_time_ms", "int32", "1+"), f("error_code", "int16")),
)
LEAVE_GROUP = Api(
    13,
    "LeaveGroup",
    0,
    4,
    4,
    (
        f("group_id", "string"),
        f("member_id", "string", "0-2"),
        arr("members", (f("member_id", "string"), nstr("group_instance_id", "3+", "3+")), "3+"),
    ),
    (
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        arr(
            "members",
            (
                f("member_id", "string"),
                nstr("group_instance_id", "3+", "3+"),
                f("error_code", "int16"),
            ),
            "3+",
        ),
    ),
)
SYNC_GROUP = Api(
    14,
    "SyncGroup",
    0,
    5,
    4,
    (
        f("group_id", "string"),
        f("generation_id"),
        f("member_id", "string"),
        nstr("group_instance_id", "3+", "3+"),
        nstr("protocol_type", "5+", "5+"),
        nstr("protocol_name", "5+", "5+"),
        arr("assignments", (f("member_id", "string"), f("assignment", "bytes"))),
    ),
    (
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        nstr("protocol_type", "5+", "5+"),
        nstr("protocol_name", "5+", "5+"),
        f("assignment", "bytes"),
    ),
)
API_VERSIONS = Api(
    18,
    "ApiVersions",
    0,
    3,
    3,
    (f("client_software_name", "string", "3+"), f("client_software_version", "string", "3+")),
    (
        f("error_code", "int16"),
        arr(
            "api_keys",
            (f("api_key", "int16"), f("min_version", "int16"), f("max_version", "int16")),
        ),
        f("throttle_time_ms", "int32", "1+"),
    ),
)
CREATE_TOPICS = Api(
    19,
    "CreateTopics",
    2,
    5,
    5,
    (
        arr(
            "topics",
            (
                f("name", "string"),
                f("num_partitions"),
                f("replication_factor", "int16"),
                arr("assignments", (f("partition_index"), arr("broker_ids", "int32"))),
                arr("configs", (f("name", "string"), nstr("value"))),
            ),
        ),
        f("timeout_ms"),
        f("validate_only", "bool", "1+"),
    ),
    (
        f("throttle_time_ms", "int32", "2+"),
        arr(
            "topics",
            (
                f("name", "string"),
                f("error_code", "int16"),
                nstr("error_message", "1+"),
                f("num_partitions", v="5+", default=-1),
                f("replication_factor", "int16", "5+", default=-1),
                arr(
                    "configs",
                    (
                        f("name", "string"),
                        nstr("value"),
                        f("read_only", "bool"),
                        f("config_source", "int8", default=-1),
                        f("is_sensitive", "bool"),
                    ),
                    "5+",
                    nullable="5+",
                ),
            ),
        ),
    ),
)
DELETE_TOPICS = Api(
    20,
    "DeleteTopics",
    1,
    4,
    4,
    (arr("topic_names", "string"), f("timeout_ms")),
    (
        f("throttle_time_ms", "int32", "1+"),
        arr("responses", (f("name", "string"), f("error_code", "int16"))),
    ),
)
INIT_PRODUCER_ID = Api(
    22,
    "InitProducerId",
    0,
    4,
    2,
    (
        nstr("transactional_id"),
        f("transaction_timeout_ms"),
        f("producer_id", "int64", "3+", default=-1),
        f("producer_epoch", "int16", "3+", default=-1),
    ),
    (
        f("throttle_time_ms"),
        f("error_code", "int16"),
        f("producer_id", "int64", default=-1),
        f("producer_epoch", "int16"),
    ),
)
_TXN_ID = (f("transactional_id", "string"), f("producer_id", "int64"), f("producer_epoch", "int16"))
ADD_PARTITIONS_TO_TXN = Api(
    24,
    "AddPartitionsToTxn",
    0,
    3,
    3,
    (*_TXN_ID, arr("topics", (f("name", "string"), arr("partitions", "int32")))),
    (
        f("throttle_time_ms"),
        arr(
            "results",
            (
                f("name", "string"),
                arr("partitions", (f("partition_index"), f("error_code", "int16"))),
            ),
        ),
    ),
)
ADD_OFFSETS_TO_TXN = Api(
    25,
    "AddOffsetsToTxn",
    0,
    3,
    3,
    (*_TXN_ID, f("group_id", "string")),
    (f("throttle_time_ms"), f("error_code", "int16")),
)
END_TXN = Api(
    26,
    "EndTxn",
    0,
    3,
    3,
    (*_TXN_ID, f("committed", "bool")),
    (f("throttle_time_ms"), f("error_code", "int16")),
)
TXN_OFFSET_COMMIT = Api(
    28,
    "TxnOffsetCommit",
    0,
    3,
    3,
    (
        f("transactional_id", "string"),
        f("group_id", "string"),
        f("producer_id", "int64"),
        f("producer_epoch", "int16"),
        f("generation_id", v="3+", default=-1),
        f("member_id", "string", "3+"),
        nstr("group_instance_id", "3+", "3+"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr(
                    "partitions",
                    (
                        f("partition_index"),
                        f("committed_offset", "int64"),
                        f("committed_leader_epoch", v="2+", default=-1),
                        nstr("committed_metadata"),
                    ),
                ),
            ),
        ),
    ),
    (
        f("throttle_time_ms"),
        arr(
            "topics",
            (
                f("name", "string"),
                arr("partitions", (f("partition_index"), f("error_code", "int16"))),
            ),
        ),
    ),
)

APIS: dict[int, Api] = {
    a.key: a
    for a in (
        PRODUCE,
        FETCH,
        LIST_OFFSETS,
        METADATA,
        OFFSET_COMMIT,
        OFFSET_FETCH,
        FIND_COORDINATOR,
        JOIN_GROUP,
        HEARTBEAT,
        LEAVE_GROUP,
        SYNC_GROUP,
        API_VERSIONS,
        CREATE_TOPICS,
        DELETE_TOPICS,
        INIT_PRODUCER_ID,
        ADD_PARTITIONS_TO_TXN,
        ADD_OFFSETS_TO_TXN,
        END_TXN,
        TXN_OFFSET_COMMIT,
    )
}
