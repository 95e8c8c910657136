"""The group coordinator's requests (codex 7.1), answered from its state machine.

FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch,
on :class:`~archlab.streaming.broker.groups.GroupCoordinator`.

Node 0 coordinates every group; other nodes answer NOT_COORDINATOR.
"""

from __future__ import annotations

from archlab.streaming.broker.groups import GroupCoordinator
from archlab.streaming.broker.partition import Partition
from archlab.streaming.broker.requests import Message, Node, Pending, pending_reply
from archlab.streaming.protocol import errors


class GroupApi:
    nodes: list[Node]
    topics: dict[str, list[Partition]]
    groups: GroupCoordinator

    def find_coordinator(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        n = self.nodes[0]
        return {
            "throttle_time_ms": 0,
            "error_code": errors.NONE,
            "error_message": None,
            "node_id": n.node_id,
            "host": n.host,
            "port": n.port,
        }

    def _coordinator_error(self, node: int) -> int:
        return errors.NONE if node == self.nodes[0].node_id else errors.NOT_COORDINATOR

    def join_group(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message | Pending:
        err = self._coordinator_error(node)
        if err:
            return {
                "error_code": err,
                "generation_id": -1,
                "protocol_name": None,
                "leader": "",
                "member_id": "",
                "members": [],
            }
        return pending_reply(self.groups.join(req, client, now))

    def sync_group(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message | Pending:
        err = self._coordinator_error(node)
        if err:
            return {"error_code": err, "assignment": b""}
        return pending_reply(self.groups.sync(req, now))

    def heartbeat(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        err = self._coordinator_error(node) or self.groups.heartbeat(req, now)
        return {"throttle_time_ms": 0, "error_code": err}

    def leave_group(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        if version < 3:
            codes = self.groups.leave(req["group_id"], [req["member_id"]], now)
            return {"throttle_time_ms": 0, "error_code": codes[0]}
        members = req["members"] or []
        codes = self.groups.leave(req["group_id"], [m["member_id"] for m in members], now)
        return {
            "throttle_time_ms": 0,
            "error_code": errors.NONE,
            "members": [
                {
                    "member_id": m["member_id"],
                    "group_instance_id": m["group_instance_id"],
                    "error_code": c,
                }
                for m, c in zip(members, codes, strict=True)
            ],
        }

    def offset_commit(
        self, req: Message, version: int, client: str, node: int, now: int
    ) -> Message:
        err = self._coordinator_error(node) or self.groups.check_commit(
            req["group_id"], req["generation_id"], req["member_id"]
        )
        offsets = []
        topics = []
        for t in req["topics"]:
            parts = []
            for p in t["partitions"]:
                code = err or (
                    errors.NONE if t["name"] in self.topics else errors.UNKNOWN_TOPIC_OR_PARTITION
                )
                if code == errors.NONE:
                    offsets.append(
                        (
                            t["name"],
                            p["partition_index"],
                            p["committed_offset"],
                            p["committed_metadata"],
                        )
                    )
                parts.append({"partition_index": p["partition_index"], "error_code": code})
            topics.append({"name": t["name"], "partitions": parts})
        self.groups.commit(req["group_id"], offsets, now)
        return {"throttle_time_ms": 0, "topics": topics}

    def offset_fetch(self, req: Message, version: int, client: str, node: int, now: int) -> Message:
        group = req["group_id"]
        wanted = req["topics"]
        if wanted is None:
            wanted = [
                {"name": t, "partition_indexes": ps}
                for t, ps in self.groups.committed_topics(group).items()
            ]
        topics = []
        for t in wanted:
            parts = []
            for index in t["partition_indexes"]:
                offset, metadata = self.groups.committed(group, t["name"], index)
                parts.append(
                    {
                        "partition_index": index,
                        "committed_offset": offset,
                        "metadata": metadata,
                        "error_code": errors.NONE,
                    }
                )
            topics.append({"name": t["name"], "partitions": parts})
        return {
            "throttle_time_ms": 0,
            "topics": topics,
            "error_code": self._coordinator_error(node),
        }
