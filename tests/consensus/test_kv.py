"""The replicated key-value state machine: operations, sessions, determinism, snapshots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archlab.consensus.client import (
    Cas,
    ClientRequest,
    Command,
    KVOperation,
    MalformedPayloadError,
    OpenSession,
    Payload,
    Read,
    Reply,
    Write,
    decode_payload,
    encode_payload,
    history_completion,
    history_invocation,
)
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.raft import RaftConfig
from tests.consensus.cluster import Cluster

KEYS = st.sampled_from(["a", "b", "c"])
VALUES = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["x", "y"]))
OPERATIONS: st.SearchStrategy[KVOperation] = st.one_of(
    st.builds(Read, KEYS),
    st.builds(Write, KEYS, VALUES),
    st.builds(Cas, KEYS, VALUES, VALUES),
)
PAYLOADS: st.SearchStrategy[Payload] = st.one_of(
    st.just(OpenSession()),
    st.builds(Command, st.integers(0, 10**6), st.integers(0, 10**6), OPERATIONS),
)


def opened(machine: KVStateMachine, index: int = 1) -> int:
    reply = machine.apply(index, encode_payload(OpenSession()))
    assert reply.outcome == "ok" and isinstance(reply.value, int)
    return reply.value


def command(session: int, seq: int, op: KVOperation) -> bytes:
    return encode_payload(Command(session, seq, op))


class TestEncoding:
    @given(PAYLOADS)
    def test_payloads_round_trip_byte_for_byte(self, payload: Payload) -> None:
        data = encode_payload(payload)
        assert decode_payload(data) == payload
        assert encode_payload(decode_payload(data)) == data

    @pytest.mark.parametrize(
        "data",
        [b"", b"\xff", b"{}", b"[]", b'["w",1,2,"k"]', b'["r",1,2,3]', b'["c",1,true,"k",1,2]'],
    )
    def test_malformed_bytes_are_rejected(self, data: bytes) -> None:
        with pytest.raises(MalformedPayloadError):
            decode_payload(data)

    def test_history_events_follow_the_kv_model(self) -> None:
        assert history_invocation(Cas("k", 1, 2)) == ("cas", "k", [1, 2])
        assert history_completion(Read("k"), Reply("ok", 7)) == ("ok", 7)
        assert history_completion(Cas("k", 1, 2), Reply("fail", 5)) == ("fail", [1, 2])
        assert history_completion(Write("k", 3), Reply("info")) == ("info", 3)
        assert ClientRequest("c1", 4, OpenSession()).payload == OpenSession()


class TestOperations:
    def test_read_write_and_cas_over_several_keys(self) -> None:
        kv = KVStateMachine()
        s = opened(kv)
        assert kv.apply(2, command(s, 1, Read("x"))) == Reply("ok", None)
        assert kv.apply(3, command(s, 2, Write("x", 1))) == Reply("ok", 1)
        assert kv.apply(4, command(s, 3, Cas("x", 1, 2))) == Reply("ok", 2)
        assert kv.apply(5, command(s, 4, Cas("x", 1, 3))) == Reply("fail", 2)
        assert kv.apply(6, command(s, 5, Write("y", "v"))) == Reply("ok", "v")
        assert kv.data == {"x": 2, "y": "v"}
        assert kv.read("y") == "v"

    def test_malformed_commands_fail_without_changing_anything(self) -> None:
        kv = KVStateMachine()
        before = kv.digest()
        reply = kv.apply(1, b"garbage")
        assert reply.outcome == "fail" and reply.error and "malformed" in reply.error
        assert kv.data == {} and kv.applied_index == 1 and kv.digest() != before

    def test_positions_must_increase(self) -> None:
        kv = KVStateMachine()
        opened(kv, index=5)
        with pytest.raises(ValueError, match="after applied index 5"):
            kv.apply(5, encode_payload(OpenSession()))


class TestSessions:
    def test_a_retried_command_applies_once_and_gets_the_cached_reply(self) -> None:
        kv = KVStateMachine()
        s = opened(kv)
        first = kv.apply(2, command(s, 1, Cas("x", None, 1)))
        again = kv.apply(3, command(s, 1, Cas("x", None, 1)))
        assert first == again == Reply("ok", 1)
        assert kv.executed == 1 and kv.data == {"x": 1}

    def test_a_delayed_duplicate_of_an_older_command_changes_nothing(self) -> None:
        kv = KVStateMachine()
        s = opened(kv)
        kv.apply(2, command(s, 1, Write("x", 1)))
        kv.apply(3, command(s, 2, Write("x", 2)))
        assert kv.apply(4, command(s, 1, Write("x", 1))) == Reply("info", error="stale-sequence")
        assert kv.data == {"x": 2}

    def test_an_unknown_or_evicted_session_is_refused_as_unknown(self) -> None:
        kv = KVStateMachine(max_sessions=2)
        assert kv.apply(1, command(99, 1, Write("x", 1))).error == "session-expired"
        a, b = opened(kv, 2), opened(kv, 3)
        kv.apply(4, command(a, 1, Write("x", 1)))  # a is now the most recently used
        c = opened(kv, 5)  # evicts b, the least recently used
        assert set(kv.sessions) == {a, c}
        reply = kv.apply(6, command(b, 1, Write("x", 9)))
        assert reply == Reply("info", error="session-expired") and kv.data == {"x": 1}

    def test_sessions_dedupe_a_retry_committed_twice_by_raft(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, pre_vote=False, check_quorum=False))
        cluster.elect(1)
        cluster.propose(1)  # OpenSession
        cluster.deliver_all()
        assert cluster.session is not None
        retried = command(cluster.session, 1, Cas("x", None, "once"))
        cluster.propose(1, retried)
        cluster.deliver_where(lambda m: m.dst == 2 or m.src == 2)
        cluster.crash(1)  # the client never hears back and retries on the next leader
        cluster.elect(2)
        cluster.propose(2, retried)
        cluster.deliver_all()
        cluster.start(1)
        cluster.tick(2)
        cluster.deliver_all()
        cluster.check()
        committed = [d for _, d in cluster.invariants.committed.values() if d == retried]
        assert len(committed) == 2, "the command is in the log twice"
        for node_id in (1, 2, 3):
            machine = cluster.machines[node_id]
            assert machine.data == {"x": "once"}
            assert machine.executed == 1, "applied once on every replica"


class TestDeterminismAndSnapshots:
    @settings(max_examples=60)
    @given(st.lists(st.tuples(st.integers(0, 3), OPERATIONS), max_size=40), st.data())
    def test_a_restored_snapshot_continues_exactly_like_the_original(
        self, script: list[tuple[int, KVOperation]], data: st.DataObject
    ) -> None:
        original = KVStateMachine(max_sessions=3)
        commands = [encode_payload(OpenSession()) for _ in range(4)]
        seqs: dict[int, int] = {}
        for session_slot, op in script:
            session = session_slot + 1
            seqs[session] = seqs.get(session, 0) + data.draw(st.sampled_from([0, 1, 1, 2]))
            commands.append(command(session, seqs[session], op))
        cut = data.draw(st.integers(0, len(commands)))
        replies = [original.apply(i, c) for i, c in enumerate(commands[:cut], 1)]
        twin = KVStateMachine.restore(original.snapshot())
        assert twin.snapshot() == original.snapshot()
        for i, c in enumerate(commands[cut:], cut + 1):
            replies.append(original.apply(i, c))
            assert twin.apply(i, c) == replies[-1]
        assert twin.digest() == original.digest()
        replay = KVStateMachine(max_sessions=3)
        assert [replay.apply(i, c) for i, c in enumerate(commands, 1)] == replies
        assert replay.digest() == original.digest()
