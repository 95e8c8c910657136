"""The requests this broker answers, their schemas and the version ranges it implements.

Field layouts follow Apache Kafka's published message definitions (the protocol guide,
docs/references.md §7.1). Each API lists exactly the versions implemented, and ApiVersions
advertises only those: a client never negotiates a version these tables lack. The group and
transaction APIs are in :mod:`~archlab.streaming.protocol.group_messages` and
:mod:`~archlab.streaming.protocol.txn_messages`; :data:`APIS` gathers all of them.
"""

from __future__ import annotations

from archlab.streaming.protocol.dsl import Api, arr, f, nstr
from archlab.streaming.protocol.group_messages import (
    FIND_COORDINATOR,
    HEARTBEAT,
    JOIN_GROUP,
    LEAVE_GROUP,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    SYNC_GROUP,
)
from archlab.streaming.protocol.txn_messages import (
    ADD_OFFSETS_TO_TXN,
    ADD_PARTITIONS_TO_TXN,
    END_TXN,
    INIT_PRODUCER_ID,
    TXN_OFFSET_COMMIT,
)

__all__ = ["APIS", "API_VERSIONS", "FETCH", "METADATA", "PRODUCE", "Api"]

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
