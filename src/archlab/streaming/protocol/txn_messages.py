"""The idempotence and transaction requests' schemas (KIP-98).

Field layouts follow Apache Kafka's published message definitions (docs/references.md §7.1);
each API lists exactly the versions implemented.
"""

from __future__ import annotations

from archlab.streaming.protocol.dsl import Api, arr, f, nstr

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
