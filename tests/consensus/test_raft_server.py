"""RaftServer: client requests in, persist / send / reply out, in the order a host must follow."""

from __future__ import annotations

import random

import pytest

from archlab.consensus.client import Cas, ClientRequest, OpenSession, Read, Reply, Write
from archlab.consensus.raft import (
    ConfChange,
    ConfChangeKind,
    ConfState,
    Flaws,
    InstallSnapshot,
    MemoryStorage,
    ProposalRejected,
    RaftConfig,
    ReadMode,
    Role,
)
from archlab.consensus.raft.server import RETRY, RaftServer, ServerOptions
from archlab.consensus.server import Note, Respond, SendMessage, SyncStorage
from tests.consensus.servers import Servers

QUIET = RaftConfig(id=1, pre_vote=False, check_quorum=False)


def single() -> Servers:
    servers = Servers([1], config=QUIET)
    servers.elect(1)
    return servers


class TestRequests:
    def test_a_session_write_read_and_cas_on_one_server(self) -> None:
        s = single()
        session = s.open_session(1)
        write = s.command(1, session, 1, Write("x", 7))
        read = s.command(1, session, 2, Read("x"))
        ok_cas = s.command(1, session, 3, Cas("x", 7, 8))
        bad_cas = s.command(1, session, 4, Cas("x", 7, 9))
        s.deliver_all()
        assert s.reply(write) == Reply("ok", 7)
        assert s.reply(read) == Reply("ok", 7)
        assert s.reply(ok_cas) == Reply("ok", 8)
        assert s.reply(bad_cas) == Reply("fail", 8)
        assert s.server(1).kv.read("x") == 8

    def test_a_follower_refuses_with_the_leader_as_hint(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(2)
        request = s.send(3, OpenSession())
        assert s.reply(request) == Reply("fail", error="not-leader", leader=2)

    def test_a_server_that_knows_no_leader_gives_no_hint(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        assert s.reply(s.send(1, OpenSession())) == Reply("fail", error="not-leader")

    def test_a_retried_command_applies_once_and_gets_the_same_reply(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        session = s.open_session(1)
        first = s.command(1, session, 1, Cas("x", None, 1))
        again = s.command(1, session, 1, Cas("x", None, 1))
        s.deliver_all()
        assert s.reply(first) == s.reply(again) == Reply("ok", 1)
        assert s.server(1).kv.executed == 1

    def test_a_duplicate_of_a_request_in_progress_is_ignored(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        server = s.server(1)
        before = server.node.log.last_index()
        server.request(ClientRequest("c", 99, OpenSession()))
        server.request(ClientRequest("c", 99, OpenSession()))
        assert server.node.log.last_index() == before + 1
        assert server.pending == 1

    def test_requests_beyond_max_pending_are_refused_as_busy(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(max_pending=2))
        s.elect(1)
        ids = [s.send(1, OpenSession()) for _ in range(3)]
        assert s.reply(ids[2]) == Reply("fail", error="busy")
        s.deliver_all()
        assert [s.reply(i) for i in ids[:2]] == [Reply("ok", 2), Reply("ok", 3)]


class TestActionOrder:
    def test_sync_comes_before_the_messages_and_replies_that_depend_on_it(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        s.actions = {i: [] for i in s.ids}
        session = s.open_session(1)
        s.command(1, session, 1, Write("x", 1))
        s.deliver_all()
        for server_id, actions in s.actions.items():
            synced = False
            writes_pending = False
            for action in actions:
                if isinstance(action, SyncStorage):
                    synced, writes_pending = True, False
                if isinstance(action, SendMessage | Respond) and writes_pending:
                    pytest.fail(f"server {server_id} sent {action} before syncing")
            assert synced, f"server {server_id} never synced"

    def test_every_message_is_backed_by_the_storage_when_it_leaves(self) -> None:
        options = ServerOptions(check_persist=True)
        s = Servers([1, 2, 3], config=QUIET, options=options)
        s.elect(1)
        session = s.open_session(1)
        for seq in range(1, 6):
            s.command(1, session, seq, Write("x", seq))
        s.deliver_all()
        assert all(not s.server(i).persist_problems for i in s.ids)

    def test_the_persist_check_names_a_vote_sent_before_it_was_written(self) -> None:
        config = RaftConfig(
            id=1, pre_vote=False, check_quorum=False, flaws=Flaws(reply_before_persisting_vote=True)
        )
        s = Servers([1, 2, 3], config=config, options=ServerOptions(check_persist=True))
        s.server(1).campaign()
        s.drain(1)
        s.deliver_all()
        problems = s.server(2).persist_problems + s.server(3).persist_problems
        assert any("vote for 1 in term 1" in p for p in problems)

    def test_leadership_changes_are_noted(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        notes = [a.text for a in s.actions[1] if isinstance(a, Note)]
        assert notes == ["leader of term 1"]


class TestLosingLeadership:
    def depose(self, options: ServerOptions) -> tuple[Servers, int, int]:
        """Leader 1 takes a write it cannot replicate; server 2 is elected by 2 and 3."""
        s = Servers([1, 2, 3], config=QUIET, options=options)
        s.elect(1)
        session = s.open_session(1)
        s.cut = {1}
        request = s.command(1, session, 1, Write("x", 1))
        s.deliver_all()
        s.cut = set()
        s.server(2).campaign()
        s.drain(2)
        s.deliver_all()
        assert s.server(2).is_leader and not s.server(1).is_leader
        return s, request, session

    def test_waiting_proposals_are_redirected(self) -> None:
        s, request, _ = self.depose(ServerOptions())
        # Deposed by server 2's vote request, before it knows who won: no hint yet.
        assert s.reply(request) == Reply("fail", error="not-leader")

    def test_an_overwritten_proposal_is_answered_retry(self) -> None:
        s, request, _ = self.depose(ServerOptions(redirect_when_deposed=False))
        assert s.reply(request) == RETRY
        index_terms = {(a.index, a.term) for a in s.applied[1]}
        assert any(term == 2 for _, term in index_terms), "the new leader's entry took the slot"

    def test_a_proposal_that_survives_gets_its_real_reply(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(redirect_when_deposed=False))
        s.elect(1)
        session = s.open_session(1)
        request = s.command(1, session, 1, Write("x", 5))
        # Replicated to 2 (not yet committed: the acknowledgements are dropped), then 2 leads.
        s.pool = [m for m in s.pool if not (m.src == 1 and m.dst == 3)]
        s.deliver_all()
        s.server(2).campaign()
        s.drain(2)
        s.deliver_all()
        assert s.server(2).is_leader
        assert s.reply(request) == Reply("ok", 5)

    def test_a_proposal_whose_index_is_reused_by_a_later_term_is_answered_retry(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(redirect_when_deposed=False))
        s.elect(1)
        session = s.open_session(1)
        base = s.server(1).node.log.last_index()
        s.cut = {1}
        first, second, third = (s.command(1, session, q, Write("x", q)) for q in (1, 2, 3))
        s.deliver_all()
        s.server(2).campaign()
        s.drain(2)
        s.deliver_all()  # server 2 leads term 2; its no-op at base + 1 commits on 2 and 3
        s.cut = set()
        s.tick(2)
        s.deliver_all()  # server 1 learns: its entries from base + 1 on are replaced
        assert s.reply(first) == RETRY, "another term's entry was applied at its index"
        assert s.reply(second) is None and s.reply(third) is None
        s.crash(2)
        s.server(1).campaign()
        s.drain(1)
        s.deliver_all()  # server 1 leads term 3: its no-op lands at base + 2
        assert s.reply(second) == RETRY
        fourth = s.command(1, session, 4, Write("x", 4))  # proposed at base + 3
        assert s.server(1).node.log.last_index() == base + 3
        assert s.reply(third) == RETRY, "its index now holds a new proposal"
        s.deliver_all()
        assert s.reply(fourth) == Reply("ok", 4)

    def test_reads_waiting_for_confirmation_are_redirected(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        session = s.open_session(1)
        s.cut = {1}
        read = s.command(1, session, 1, Read("x"))
        s.deliver_all()
        s.cut = set()
        assert s.reply(read) is None, "no majority confirmed the leader yet"
        s.server(2).campaign()
        s.drain(2)
        s.deliver_all()
        assert s.reply(read) == Reply("fail", error="not-leader")


class TestReads:
    def test_read_index_reads_do_not_write_the_log(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        session = s.open_session(1)
        s.command(1, session, 1, Write("x", 3))
        s.deliver_all()
        before = s.server(1).node.log.last_index()
        read = s.command(1, session, 2, Read("x"))
        assert s.reply(read) is None, "waits for a heartbeat round"
        s.deliver_all()
        assert s.reply(read) == Reply("ok", 3)
        assert s.server(1).node.log.last_index() == before

    def test_log_reads_go_through_the_log(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(log_reads=True))
        s.elect(1)
        session = s.open_session(1)
        before = s.server(1).node.log.last_index()
        read = s.command(1, session, 1, Read("x"))
        s.deliver_all()
        assert s.reply(read) == Reply("ok", None)
        assert s.server(1).node.log.last_index() == before + 1

    def test_a_lease_read_is_answered_without_a_round(self) -> None:
        config = RaftConfig(id=1, read_mode=ReadMode.LEASE, election_tick=10)
        s = Servers([1, 2, 3], config=config)
        leader = None
        for _ in range(100):  # booted servers stay quiet for a lease, then one times out
            s.tick_all()
            s.deliver_all()
            leader = next((i for i in s.ids if s.server(i).is_leader), None)
            if leader is not None:
                break
        assert leader is not None
        s.tick(leader)
        s.deliver_all()  # a heartbeat round acknowledged by a majority: the lease starts
        session = s.open_session(leader)
        read = s.command(leader, session, 1, Read("x"))
        assert s.reply(read) == Reply("ok", None), "answered at once, no round"


class TestCompactionAndSnapshots:
    def test_the_log_is_compacted_past_the_threshold(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(compact_after=5))
        s.elect(1)
        session = s.open_session(1)
        for seq in range(1, 13):
            s.command(1, session, seq, Write("x", seq))
        s.deliver_all()
        for server_id in s.ids:
            snapshot = s.storages[server_id].snapshot()
            assert snapshot.index >= 10
            assert s.server(server_id).kv.read("x") == 12

    def test_a_lagging_follower_is_caught_up_by_a_snapshot(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(compact_after=4))
        s.elect(1)
        session = s.open_session(1)
        s.crash(3)
        for seq in range(1, 11):
            s.command(1, session, seq, Write(f"k{seq % 3}", seq))
            s.deliver_all()
        s.start(3)
        s.tick(1)
        s.deliver_all()
        sent = [a.message for a in s.actions[1] if isinstance(a, SendMessage)]
        assert any(isinstance(m, InstallSnapshot) and m.dst == 3 for m in sent)
        assert s.server(3).kv.data == s.server(1).kv.data
        assert s.server(3).kv.digest() == s.server(1).kv.digest()

    def test_a_restarted_server_rebuilds_its_state_machine(self) -> None:
        s = Servers([1, 2, 3], config=QUIET, options=ServerOptions(compact_after=4))
        s.elect(1)
        session = s.open_session(1)
        for seq in range(1, 8):
            s.command(1, session, seq, Write("x", seq))
        s.deliver_all()
        digest = s.server(2).kv.digest()
        s.crash(2)
        s.start(2)
        assert s.server(2).kv.digest() == digest
        assert s.server(2).kv.read("x") == 7


class TestMembership:
    def test_a_new_server_is_added_and_receives_the_data(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.storages[4] = MemoryStorage()  # a new, empty server
        s.ids.append(4)
        s.applied[4], s.actions[4] = [], []
        s.start(4)
        s.elect(1)
        session = s.open_session(1)
        s.command(1, session, 1, Write("x", 1))
        s.deliver_all()
        s.server(1).propose_conf_change(ConfChange(ConfChangeKind.ADD_VOTER, 4))
        s.drain(1)
        s.deliver_all()
        s.tick(1)
        s.deliver_all()
        assert s.server(4).node.conf == ConfState.of([1, 2, 3, 4])
        assert s.server(4).kv.read("x") == 1

    def test_a_follower_cannot_change_membership(self) -> None:
        s = Servers([1, 2, 3], config=QUIET)
        s.elect(1)
        with pytest.raises(ProposalRejected):
            s.server(2).propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 3))


def test_applied_actions_report_every_entry_with_its_kind() -> None:
    s = single()
    session = s.open_session(1)
    s.command(1, session, 1, Write("x", 1))
    s.deliver_all()
    kinds = [(a.index, a.kind) for a in s.applied[1]]
    assert kinds == [(1, "noop"), (2, "command"), (3, "command")]


def test_leadership_and_hint_follow_the_node() -> None:
    s = Servers([1, 2, 3], config=QUIET)
    s.elect(3)
    assert s.server(3).leadership() == 1 and s.server(3).leader_hint() == 3
    assert s.server(1).leadership() is None and s.server(1).leader_hint() == 3
    assert s.server(1).status().role is Role.FOLLOWER


def test_server_options_are_validated() -> None:
    with pytest.raises(ValueError):
        ServerOptions(compact_after=0)


def test_a_server_restores_from_a_storage_with_a_snapshot() -> None:
    storage = MemoryStorage(ConfState.of([1]))
    first = RaftServer(RaftConfig(id=1), storage, random.Random(1), ServerOptions(compact_after=2))
    first.campaign()
    first.drain()
    first.request(ClientRequest("c", 1, OpenSession()))
    first.drain()
    assert storage.snapshot().index >= 2
    again = RaftServer(RaftConfig(id=1), storage, random.Random(2))
    again.drain()
    assert again.kv.digest() == first.kv.digest()
    assert again.kv.read("x") is None and len(again.kv.sessions) == 1
