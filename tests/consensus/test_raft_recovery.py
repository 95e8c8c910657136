"""A voter that lost its disk: it refuses to vote, counts for no quorum, and is re-admitted.

Hand-driven clusters (:mod:`tests.consensus.servers`): server 3's storage is replaced by an
empty one and it restarts with a recovery mark, as a host does when it finds the disk of a
member empty (:mod:`archlab.consensus.raft.recovery`).
"""

from __future__ import annotations

import random
from dataclasses import replace

from archlab.consensus.client import Read, Write
from archlab.consensus.raft import MemoryStorage, Role, VoteRequest
from archlab.consensus.raft.server import RaftServer
from tests.consensus.servers import Servers


class Mark:
    """An in-memory recovery mark."""

    def __init__(self, recovering: bool) -> None:
        self._recovering = recovering
        self.cleared = 0

    @property
    def recovering(self) -> bool:
        return self._recovering

    def recovered(self) -> None:
        self._recovering = False
        self.cleared += 1


def wipe(cluster: Servers, server_id: int) -> tuple[RaftServer, Mark]:
    """Crash ``server_id``, give it an empty disk, restart it in recovery."""
    cluster.crash(server_id)
    cluster.storages[server_id] = MemoryStorage()
    mark = Mark(True)
    config = replace(cluster.config, id=server_id)
    server = RaftServer(config, cluster.storages[server_id], random.Random(99), None, mark)
    cluster.servers[server_id] = server
    cluster.drain(server_id)
    return server, mark


def written_cluster(values: int = 5) -> Servers:
    cluster = Servers([1, 2, 3])
    cluster.elect(1)
    session = cluster.open_session(1)
    for seq in range(1, values + 1):
        cluster.command(1, session, seq, Write("k", seq))
        cluster.deliver_all()
    return cluster


def settle(cluster: Servers, rounds: int = 30) -> None:
    for _ in range(rounds):
        cluster.tick(1)
        cluster.deliver_all()


def test_a_recovering_node_refuses_votes_and_never_campaigns() -> None:
    cluster = written_cluster()
    cluster.cut.add(1)  # keep the leader away so nothing re-admits server 3
    server, _ = wipe(cluster, 3)
    for _ in range(60):
        cluster.tick(3)
    assert server.node.role is Role.FOLLOWER and server.node.term == 0
    server.receive(VoteRequest(2, 3, 5, 0, 0))
    cluster.drain(3)
    responses = [m for m in cluster.pool if m.src == 3]
    assert responses and all(not getattr(m, "granted", True) for m in responses)
    assert server.node.vote is None


def test_the_leader_demotes_then_promotes_it_and_it_catches_up() -> None:
    cluster = written_cluster()
    server, mark = wipe(cluster, 3)
    settle(cluster)
    leader = cluster.server(1)
    changes = [str(a) for a in cluster.actions[1] if "lost disk" in str(a)]
    assert any("add-learner 3" in c for c in changes) and any("add-voter 3" in c for c in changes)
    assert leader.node.conf.voters == {1, 2, 3}
    assert not server.node.recovering and mark.cleared == 1
    assert server.node.vote == 1  # no second vote in the term it was re-admitted in
    assert server.kv.read("k") == 5


def test_a_recovering_nodes_acknowledgements_commit_nothing() -> None:
    cluster = written_cluster()
    session = cluster.open_session(1, "r")
    wipe(cluster, 3)
    cluster.cut.add(2)
    leader = cluster.server(1)
    before = leader.node.commit_index
    write = cluster.command(1, session, 1, Write("k", 9), "r")
    read = cluster.command(1, session, 2, Read("k"), "r")
    settle(cluster)
    assert leader.node.commit_index == before  # 3 stores entries, but its acks do not count
    replies = [cluster.reply(write, "r"), cluster.reply(read, "r")]
    assert all(r is None or r.outcome != "ok" for r in replies)  # nothing acknowledged
    cluster.cut.discard(2)
    for _ in range(200):
        cluster.tick_all()
        cluster.deliver_all()
    three = cluster.server(3).node
    assert not three.recovering and three.conf.voters == {1, 2, 3}
    assert three.commit_index > before
