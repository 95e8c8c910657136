"""Single-server membership changes, in force when appended; learners."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import (
    AppendEntries,
    ConfChange,
    ConfChangeError,
    ConfChangeKind,
    ConfState,
    ProposalRejected,
    RaftConfig,
    Role,
    apply_change,
)
from tests.consensus.cluster import Cluster

ADD, LEARN, REMOVE = ConfChangeKind.ADD_VOTER, ConfChangeKind.ADD_LEARNER, ConfChangeKind.REMOVE


def settle(cluster: Cluster, ticks: int = 3) -> None:
    for _ in range(ticks):
        cluster.tick_all()
        cluster.deliver_all()


class TestChanges:
    def test_a_server_joins_as_learner_then_becomes_a_voter(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        for _ in range(5):
            cluster.propose(1)
        cluster.add_node(4)
        assert cluster.node(4).conf == ConfState(), "a new server knows no configuration"
        assert cluster.propose_conf_change(1, ConfChange(LEARN, 4)) == 7
        settle(cluster)
        assert cluster.node(4).conf.learners == {4}
        assert cluster.node(4).commit_index == 7, "the learner received the whole log"
        assert cluster.propose_conf_change(1, ConfChange(ADD, 4)) == 8
        settle(cluster)
        cluster.check()
        assert all(n.conf.voters == {1, 2, 3, 4} for n in cluster.alive().values())
        # Four voters: a commit now needs three of them.
        cluster.partition([1, 2], [3, 4])
        index = cluster.propose(1)
        settle(cluster, ticks=1)
        assert index is not None and cluster.node(1).commit_index < index

    def test_a_configuration_is_in_force_as_soon_as_it_is_appended(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        index = cluster.propose_conf_change(1, ConfChange(REMOVE, 3))
        assert index is not None and cluster.node(1).commit_index < index
        assert cluster.node(1).conf.voters == {1, 2}
        cluster.deliver_where(lambda m: isinstance(m, AppendEntries) and m.dst == 2)
        follower = cluster.node(2)
        assert follower.conf.voters == {1, 2} and follower.commit_index < index
        cluster.deliver_all()
        cluster.check()

    def test_one_change_at_a_time(self) -> None:
        cluster = Cluster([1, 2, 3])
        leader = cluster.elect(1)
        leader.propose_conf_change(ConfChange(LEARN, 4))
        with pytest.raises(ProposalRejected, match="uncommitted"):
            leader.propose_conf_change(ConfChange(REMOVE, 3))

    def test_no_change_before_the_leader_commits_in_its_term(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.campaign(1)
        cluster.deliver_where(lambda m: not isinstance(m, AppendEntries))
        leader = cluster.node(1)
        assert leader.is_leader and leader.commit_index == 0
        with pytest.raises(ProposalRejected, match="this term"):
            leader.propose_conf_change(ConfChange(REMOVE, 3))

    def test_invalid_changes_are_refused(self) -> None:
        conf = ConfState.of([1, 2, 3])
        with pytest.raises(ConfChangeError, match="already a voter"):
            apply_change(conf, ConfChange(ADD, 2))
        with pytest.raises(ConfChangeError, match="not a member"):
            apply_change(conf, ConfChange(REMOVE, 9))
        with pytest.raises(ConfChangeError, match="at least one voter"):
            apply_change(ConfState.of([1]), ConfChange(REMOVE, 1))
        demoted = apply_change(conf, ConfChange(LEARN, 3))
        assert demoted == ConfState.of([1, 2], learners=(3,))
        assert apply_change(demoted, ConfChange(ADD, 3)) == conf


class TestRemoval:
    def test_a_server_removed_while_partitioned_does_not_disrupt(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, election_tick=5))
        cluster.elect(1)
        cluster.partition([3], [1, 2])
        cluster.propose_conf_change(1, ConfChange(REMOVE, 3))
        settle(cluster)
        assert cluster.node(1).conf.voters == {1, 2}
        assert cluster.node(3).conf.voters == {1, 2, 3}, "node 3 never heard of its removal"
        term = cluster.node(1).term
        for _ in range(30):  # it times out over and over
            cluster.tick(3)
        cluster.heal()
        settle(cluster, ticks=30)
        cluster.check()
        assert cluster.node(1).is_leader and cluster.node(1).term == term
        assert cluster.node(3).role is not Role.LEADER
        index = cluster.propose(1)
        cluster.deliver_all()
        assert index is not None and cluster.node(1).commit_index == index

    def test_a_leader_removing_itself_steps_down_once_the_change_commits(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, election_tick=5))
        cluster.elect(1)
        index = cluster.propose_conf_change(1, ConfChange(REMOVE, 1))
        assert cluster.node(1).is_leader, "it keeps leading until the change commits"
        cluster.deliver_all()
        assert index is not None and cluster.node(1).commit_index >= index
        assert cluster.node(1).role is Role.FOLLOWER
        settle(cluster, ticks=25)
        cluster.check()
        leader = cluster.leader()
        assert leader is not None and leader.id in (2, 3)
        for _ in range(40):
            cluster.tick(1)
        assert cluster.node(1).role is Role.FOLLOWER, "a removed server never campaigns"

    def test_a_truncated_configuration_entry_is_undone(self) -> None:
        config = RaftConfig(id=1, check_quorum=False, pre_vote=False)
        cluster = Cluster([1, 2, 3], config=config)
        cluster.elect(1)
        cluster.propose_conf_change(1, ConfChange(REMOVE, 3))
        cluster.drop_where(lambda m: True)  # the entry stays on node 1 only
        assert cluster.node(1).conf.voters == {1, 2}
        cluster.partition([1], [2, 3])
        cluster.elect(2)
        cluster.propose(2)
        cluster.deliver_all()
        cluster.heal()
        cluster.tick(2)
        cluster.deliver_all()
        cluster.check()
        assert cluster.node(1).role is Role.FOLLOWER
        assert cluster.node(1).conf.voters == {1, 2, 3}, "back to the configuration before"
