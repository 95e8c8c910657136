"""The transaction coordinator's requests (codex 7.1): InitProducerId, AddPartitionsToTxn,
AddOffsetsToTxn, EndTxn and TxnOffsetCommit, answered from
:class:`~archlab.streaming.broker.transactions.TransactionCoordinator`.
"""

from __future__ import annotations

from archlab.streaming.broker.partition import Partition
from archlab.streaming.broker.requests import Message
from archlab.streaming.broker.transactions import TransactionCoordinator
from archlab.streaming.protocol import errors


class TransactionApi:
    topics: dict[str, list[Partition]]
    txns: TransactionCoordinator

    def init_producer_id(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        err, pid, epoch = self.txns.init_producer_id(
            req["transactional_id"], req["transaction_timeout_ms"], now
        )
        return {
            "throttle_time_ms": 0,
            "error_code": err,
            "producer_id": pid,
            "producer_epoch": epoch,
        }

    def add_partitions_to_txn(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        parts = [(t["name"], i) for t in req["topics"] for i in t["partitions"]]
        unknown = [(t, i) for t, i in parts if t not in self.topics or i >= len(self.topics[t])]
        err = (
            errors.UNKNOWN_TOPIC_OR_PARTITION
            if unknown
            else self.txns.add_partitions(
                req["transactional_id"], req["producer_id"], req["producer_epoch"], parts, now
            )
        )
        if version < 2 and err == errors.PRODUCER_FENCED:
            err = errors.INVALID_PRODUCER_EPOCH
        return {
            "throttle_time_ms": 0,
            "results": [
                {
                    "name": t["name"],
                    "partitions": [
                        {"partition_index": i, "error_code": err} for i in t["partitions"]
                    ],
                }
                for t in req["topics"]
            ],
        }

    def add_offsets_to_txn(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        err = self.txns.add_offsets(
            req["transactional_id"], req["producer_id"], req["producer_epoch"], req["group_id"], now
        )
        return {"throttle_time_ms": 0, "error_code": _fenced(err, version)}

    def end_txn(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        err = self.txns.end_txn(
            req["transactional_id"],
            req["producer_id"],
            req["producer_epoch"],
            req["committed"],
            now,
        )
        return {"throttle_time_ms": 0, "error_code": _fenced(err, version)}

    def txn_offset_commit(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        offsets = [
            (t["name"], p["partition_index"], p["committed_offset"], p["committed_metadata"])
            for t in req["topics"]
            for p in t["partitions"]
        ]
        err = self.txns.txn_offset_commit(
            req["transactional_id"],
            req["producer_id"],
            req["producer_epoch"],
            req["group_id"],
            offsets,
            now,
        )
        err = _fenced(err, version)
        return {
            "throttle_time_ms": 0,
            "topics": [
                {
                    "name": t["name"],
                    "partitions": [
                        {"partition_index": p["partition_index"], "error_code": err}
                        for p in t["partitions"]
                    ],
                }
                for t in req["topics"]
            ],
        }


def _fenced(err: int, version: int) -> int:
    """Older versions of the transaction APIs know fencing as INVALID_PRODUCER_EPOCH."""
    return errors.INVALID_PRODUCER_EPOCH if err == errors.PRODUCER_FENCED and version < 2 else err
