"""The broker's sans-IO state (7.1): groups rebalancing, coordinators after restart, routing."""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.streaming.broker.broker import CLEANUP_INTERVAL_MS, Broker
from archlab.streaming.broker.groups import COMPLETING, PREPARING, STABLE, GroupCoordinator
from archlab.streaming.broker.requests import Node, Pending
from archlab.streaming.log.partition import LogConfig, PartitionLog
from archlab.streaming.log.records import make_batch
from archlab.streaming.protocol import errors
from archlab.streaming.protocol.framing import Unsupported, encode_response, parse_request
from archlab.streaming.protocol.messages import APIS, METADATA
from archlab.streaming.protocol.schema import ProtocolError, Reader, decode, encode
from tests.conftest import run_cli


def _join(member: str = "", rebalance_ms: int = 1000) -> dict[str, Any]:
    return {
        "group_id": "g",
        "session_timeout_ms": 300,
        "rebalance_timeout_ms": rebalance_ms,
        "member_id": member,
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b"sub"}],
    }


def test_a_group_rebalances_as_members_join_time_out_and_leave(tmp_path: Path) -> None:
    gc = GroupCoordinator(PartitionLog(tmp_path / "offsets"), initial_delay_ms=50)
    first = gc.join(_join(), "a", now_ms=0)
    assert first.response is None  # the initial delay lets others join
    gc.tick(60)
    assert first.response is not None and first.response["generation_id"] == 1
    a = first.response["member_id"]
    assert first.response["leader"] == a and len(first.response["members"]) == 1
    gc.sync(
        {
            "group_id": "g",
            "generation_id": 1,
            "member_id": a,
            "assignments": [{"member_id": a, "assignment": b"all"}],
        },
        70,
    )
    assert gc.groups["g"].state == STABLE
    second = gc.join(_join(), "b", now_ms=100)  # b joins: a must rejoin
    assert gc.groups["g"].state == PREPARING and second.response is None
    hb = {"group_id": "g", "generation_id": 1, "member_id": a}
    assert gc.heartbeat(hb, 110) == errors.REBALANCE_IN_PROGRESS
    again = gc.join(_join(a), "a", now_ms=120)
    assert again.response is not None and second.response is not None
    assert again.response["generation_id"] == second.response["generation_id"] == 2
    assert gc.groups["g"].state == COMPLETING
    b = second.response["member_id"]
    follower = gc.sync(
        {"group_id": "g", "generation_id": 2, "member_id": b, "assignments": []}, 130
    )
    assert follower.response is None  # waits for the leader's assignment
    gc.sync(
        {
            "group_id": "g",
            "generation_id": 2,
            "member_id": a,
            "assignments": [
                {"member_id": a, "assignment": b"p0"},
                {"member_id": b, "assignment": b"p1"},
            ],
        },
        140,
    )
    assert follower.response is not None and follower.response["assignment"] == b"p1"
    gc.tick(140 + 301)  # b stops heartbeating (a too): both expire, the group empties
    assert gc.groups["g"].state == "Empty" and not gc.groups["g"].members


def test_committed_offsets_are_replayed_from_the_internal_topic(tmp_path: Path) -> None:
    gc = GroupCoordinator(PartitionLog(tmp_path / "offsets"))
    gc.commit("g", [("t", 0, 42, "meta"), ("t", 1, 7, None)], 0)
    gc.commit("g", [("t", 0, 43, None)], 1)
    gc.log.close()
    again = GroupCoordinator(PartitionLog(tmp_path / "offsets"))
    assert again.committed("g", "t", 0) == (43, None) and again.committed("g", "t", 1) == (7, None)


def _broker(tmp_path: Path, nodes: int = 2) -> Broker:
    return Broker(tmp_path, [Node(i, "127.0.0.1", 9092 + i) for i in range(nodes)], 0)


def test_requests_for_another_nodes_partition_are_refused(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    assert broker.create_topic("t", 2, 0) == errors.NONE
    data = make_batch([b"x"]).encode()
    req = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 1000,
        "topics": [{"name": "t", "partitions": [{"index": 1, "records": data}]}],
    }
    wrong = broker.handle(0, 9, req, "c", node=0, now_ms=0)
    right = broker.handle(0, 9, req, "c", node=1, now_ms=0)
    assert isinstance(wrong, dict) and isinstance(right, dict)
    assert wrong["responses"][0]["partitions"][0]["error_code"] == errors.NOT_LEADER_OR_FOLLOWER
    assert right["responses"][0]["partitions"][0]["base_offset"] == 0
    req["acks"] = 0
    assert broker.handle(0, 9, req, "c", node=1, now_ms=0) is None  # acks=0: no response


def test_a_fetch_waits_for_data_until_its_deadline(tmp_path: Path) -> None:
    broker = _broker(tmp_path, nodes=1)
    broker.create_topic("t", 1, 0)
    fetch = {
        "replica_id": -1,
        "max_wait_ms": 500,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": "t",
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}],
            }
        ],
    }
    pending = broker.handle(1, 11, fetch, "c", 0, 0)
    assert isinstance(pending, Pending) and pending.poll(100) is None
    produce = {
        "transactional_id": None,
        "acks": 1,
        "timeout_ms": 1000,
        "topics": [
            {"name": "t", "partitions": [{"index": 0, "records": make_batch([b"v"]).encode()}]}
        ],
    }
    broker.handle(0, 9, produce, "c", 0, 150)
    reply = pending.poll(160)
    assert reply is not None and reply["responses"][0]["partitions"][0]["high_watermark"] == 1


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    broker = _broker(tmp_path, nodes=1)
    broker.create_topic("t", 3, 0)
    _, pid, epoch = broker.txns.init_producer_id("tx", 10_000, 0)
    assert broker.txns.add_partitions("tx", pid, epoch, [("t", 0)], 1) == errors.NONE
    broker.close()
    again = _broker(tmp_path, nodes=1)
    assert len(again.topics["t"]) == 3
    assert again.txns.txns["tx"].state == "Ongoing"
    _, pid2, epoch2 = again.txns.init_producer_id("tx", 10_000, 2)
    assert (pid2, epoch2) == (pid, epoch + 1)  # the open transaction is aborted, the epoch bumped
    assert again.txns.end_txn("tx", pid, epoch, True, 3) == errors.PRODUCER_FENCED


def test_every_response_schema_round_trips_in_every_version() -> None:
    for api in APIS.values():
        for version in range(api.min_version, api.max_version + 1):
            flexible = api.flexible(version)
            parts = encode(api.response, version, flexible, {})
            data = b"".join(p for p in parts if isinstance(p, bytes))
            reader = Reader(data)
            decode(api.response, version, flexible, reader)
            assert reader.pos == len(data), (api.name, version)


def test_a_flexible_request_frame_decodes() -> None:
    body = {"topics": [{"name": "a"}], "allow_auto_topic_creation": False}
    parts = encode(METADATA.request, 12, True, body)
    frame = (
        bytes.fromhex("0003000c00000007")
        + b"\x00\x03cli"
        + b"\x00"
        + b"".join(p for p in parts if isinstance(p, bytes))
    )
    request = parse_request(frame)
    assert not isinstance(request, type(None))
    assert request.body["topics"][0]["name"] == "a"  # type: ignore[union-attr]
    response = encode_response(METADATA, 12, 7, {"brokers": [], "topics": []})
    assert response[1][:5] == b"\x00\x00\x00\x07\x00"  # correlation id, empty tagged fields


def test_serve_rejects_bad_options_in_one_line() -> None:
    result = run_cli(["stream", "serve", "--brokers", "0"])
    assert result.exit_code == 2
    assert "--brokers" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_retention_runs_from_the_brokers_tick(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=400, retention_bytes=800, retention_ms=-1)
    broker = Broker(tmp_path, [Node(0, "127.0.0.1", 9092)], 0, config)
    broker.create_topic("t", 1, 0)
    p = broker.topics["t"][0]
    for i in range(40):
        p.produce(make_batch([b"%03d" % i] * 3).encode(), i)
    broker.tick(1_000)
    assert p.log.log_start_offset == 0  # not yet time
    broker.tick(CLEANUP_INTERVAL_MS + 1)
    assert p.log.log_start_offset > 0 and p.log.size_bytes <= 800 + 400


@settings(max_examples=300, deadline=None)
@given(api=st.sampled_from(sorted(APIS)), junk=st.binary(max_size=80), data=st.data())
def test_garbage_after_a_valid_header_is_a_protocol_error(
    api: int, junk: bytes, data: st.DataObject
) -> None:
    version = data.draw(st.integers(APIS[api].min_version, APIS[api].max_version))
    frame = struct.pack(">hhih", api, version, 1, 0) + junk
    with contextlib.suppress(ProtocolError):
        parse_request(frame)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")), deadline=None)
@given(data=st.data())
def test_well_formed_but_odd_requests_never_crash_the_handlers(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    broker = _broker(tmp_path_factory.mktemp("odd"), nodes=1)
    broker.create_topic("t", 2, 0)
    api = APIS[data.draw(st.sampled_from(sorted(APIS)))]
    version = data.draw(st.integers(api.min_version, api.max_version))
    junk = data.draw(st.binary(max_size=120))
    try:
        request = parse_request(struct.pack(">hhih", api.key, version, 1, 0) + junk)
    except ProtocolError:
        return
    if isinstance(request, Unsupported):
        return
    try:
        broker.handle(api.key, version, request.body, "fuzz", 0, 0)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError) as exc:
        pytest.fail(f"{api.name} v{version}: {exc!r} for {request.body!r}")
