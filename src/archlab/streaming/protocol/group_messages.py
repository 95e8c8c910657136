"""The consumer-group requests' schemas: offsets and the group membership protocol.

Field layouts follow Apache Kafka's published message definitions (docs/references.md §7.1);
each API lists exactly the versions implemented.
"""

from __future__ import annotations

from archlab.streaming.protocol.dsl import Api, arr, f, nstr

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
