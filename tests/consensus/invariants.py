"""Raft's safety properties, checked on a test cluster after every step.

From the Raft paper (Figure 3) and the issue:

- election safety: at most one leader per term, over the whole run (a history, not a snapshot);
- log matching: if two logs hold an entry with the same index and term, they are identical up
  to it (checked pairwise on every node's log: the node's own if it is up, its storage if not);
- leader completeness: a leader's log holds every entry known to be committed;
- state machine safety: no two nodes apply different entries at one index, and no two nodes
  see different entries committed at one index;
- committed entries are never lost: on the *persisted* state (what survives crashes), the nodes
  holding a committed entry intersect every majority of every configuration still in play;
- ReadIndex reads are linearizable: the index a read is released at is at least the highest
  index committed anywhere when it was requested, and at most what is committed when released.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from archlab.consensus.raft import ConfState, Entry, EntryKind, MemoryStorage, RaftNode, Role


class InvariantViolation(AssertionError):
    """A Raft safety property does not hold."""


@dataclass(frozen=True, slots=True)
class LogView:
    """A node's log as ``index -> entry`` above ``snapshot_index``."""

    snapshot_index: int
    snapshot_term: int
    entries: dict[int, Entry]

    def term(self, index: int) -> int | None:
        if index == self.snapshot_index:
            return self.snapshot_term
        entry = self.entries.get(index)
        return None if entry is None else entry.term

    @classmethod
    def of_node(cls, node: RaftNode) -> LogView:
        log = node.log
        snapshot = log.snapshot()
        first, last = log.first_index(), log.last_index()
        entries = {e.index: e for e in log.entries(first, last + 1)} if last >= first else {}
        return cls(snapshot.index, snapshot.term, entries)

    @classmethod
    def of_storage(cls, storage: MemoryStorage) -> LogView:
        snapshot = storage.snapshot()
        first, last = storage.first_index(), storage.last_index()
        entries = {e.index: e for e in storage.entries(first, last + 1)} if last >= first else {}
        return cls(snapshot.index, snapshot.term, entries)


@dataclass
class RaftInvariants:
    """The history the properties need, and the checks themselves."""

    #: The bootstrap configuration (in force until a configuration entry commits).
    initial_conf: ConfState = field(default_factory=ConfState)
    leaders: dict[int, int] = field(default_factory=dict)
    committed: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    applied: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    #: The lowest term in which a node was seen to hold each index committed.
    commit_terms: dict[int, int] = field(default_factory=dict)
    #: Configuration entries seen committed.
    committed_confs: dict[int, ConfState] = field(default_factory=dict)
    #: The highest index any node ever reported committed.
    max_commit: int = 0
    checks: int = 0

    # -- observations ---------------------------------------------------------------------

    def observe_leader(self, node: RaftNode) -> None:
        if node.role is not Role.LEADER:
            return
        holder = self.leaders.setdefault(node.term, node.id)
        if holder != node.id:
            raise InvariantViolation(
                f"election safety: nodes {holder} and {node.id} both led term {node.term}"
            )

    def observe_commit(self, node: RaftNode, view: LogView) -> None:
        commit = node.commit_index
        for index in range(view.snapshot_index + 1, commit + 1):
            entry = view.entries[index]
            self._record(self.committed, "committed", node.id, entry)
            if entry.kind is EntryKind.CONFIG:
                self.committed_confs[index] = ConfState.decode(entry.data)
            seen = self.commit_terms.get(index)
            if seen is None or node.term < seen:
                self.commit_terms[index] = node.term
        self.max_commit = max(self.max_commit, commit)

    def observe_apply(self, node_id: int, entry: Entry) -> None:
        self._record(self.applied, "applied", node_id, entry)

    @staticmethod
    def _record(table: dict[int, tuple[int, bytes]], what: str, node_id: int, entry: Entry) -> None:
        seen = table.setdefault(entry.index, (entry.term, entry.data))
        if seen != (entry.term, entry.data):
            raise InvariantViolation(
                f"state machine safety: node {node_id} {what} (term {entry.term}, "
                f"{entry.data!r}) at index {entry.index}, another node (term {seen[0]}, "
                f"{seen[1]!r})"
            )

    # -- checks over the whole cluster ------------------------------------------------------

    def check(
        self,
        alive: dict[int, RaftNode],
        storages: dict[int, MemoryStorage],
    ) -> None:
        self.checks += 1
        views: dict[int, LogView] = {}
        for node_id, storage in storages.items():
            node = alive.get(node_id)
            views[node_id] = LogView.of_node(node) if node else LogView.of_storage(storage)
        for node in alive.values():
            self.observe_leader(node)
            self.observe_commit(node, views[node.id])
        self.check_log_matching(views)
        for node in alive.values():
            if node.role is Role.LEADER:
                self.check_leader_completeness(node.id, node.term, views[node.id])
        persisted = {i: LogView.of_storage(s) for i, s in storages.items()}
        self.check_durability(persisted, self._configs_in_play(alive, persisted))

    def check_log_matching(self, views: dict[int, LogView]) -> None:
        ids = sorted(views)
        for position, a in enumerate(ids):
            for b in ids[position + 1 :]:
                _check_pair(a, views[a], b, views[b])

    def check_leader_completeness(self, leader: int, leader_term: int, view: LogView) -> None:
        """Entries committed in a term are in the log of every leader of a later term."""
        for index, (term, data) in self.committed.items():
            if index < view.snapshot_index or self.commit_terms[index] >= leader_term:
                continue
            if index == view.snapshot_index:
                if view.snapshot_term != term:
                    raise InvariantViolation(
                        f"leader completeness: leader {leader}'s snapshot at {index} has term "
                        f"{view.snapshot_term}, the committed entry term {term}"
                    )
                continue
            entry = view.entries.get(index)
            if entry is None or (entry.term, entry.data) != (term, data):
                raise InvariantViolation(
                    f"leader completeness: leader {leader} lacks committed entry {index} "
                    f"(term {term}); it has {entry}"
                )

    def _configs_in_play(
        self, alive: dict[int, RaftNode], persisted: dict[int, LogView]
    ) -> list[ConfState]:
        """The latest committed configuration, and every configuration appended after it."""
        latest = max(self.committed_confs, default=None)
        configs = [self.initial_conf if latest is None else self.committed_confs[latest]]
        later = [(i, c) for node in alive.values() for i, c in _config_entries(node)]
        for view in persisted.values():
            later.extend(
                (i, ConfState.decode(e.data))
                for i, e in view.entries.items()
                if e.kind is EntryKind.CONFIG
            )
        for index, conf in later:
            if index > self.max_commit and conf not in configs:
                configs.append(conf)
        return configs

    def check_durability(self, persisted: dict[int, LogView], configs: list[ConfState]) -> None:
        if not configs:
            return
        for index, (term, _data) in self.committed.items():
            holders = {
                node_id
                for node_id, view in persisted.items()
                if view.snapshot_index >= index or view.term(index) == term
            }
            for conf in configs:
                if not conf.voters:
                    continue
                held = len(holders & conf.voters)
                if held <= len(conf.voters) - conf.quorum:
                    raise InvariantViolation(
                        f"committed entry {index} (term {term}) is durable only on "
                        f"{sorted(holders)}: a majority of {conf} lacks it"
                    )

    def check_read(self, node_id: int, index: int, floor: int, committed_now: int) -> None:
        """A read released at ``index``, requested when ``floor`` was committed somewhere."""
        if index < floor:
            raise InvariantViolation(
                f"stale read: node {node_id} released a read at index {index}, but {floor} "
                f"was committed before the read was requested"
            )
        if index > committed_now:
            raise InvariantViolation(
                f"read at {index} beyond anything committed ({committed_now}) on node {node_id}"
            )


def _config_entries(node: RaftNode) -> Iterable[tuple[int, ConfState]]:
    history = node.configs
    return zip(history._indexes, history._confs, strict=True)


def _check_pair(a: int, va: LogView, b: int, vb: LogView) -> None:
    low = max(va.snapshot_index, vb.snapshot_index) + 1
    high = min(
        max(va.entries, default=va.snapshot_index), max(vb.entries, default=vb.snapshot_index)
    )
    diverged_at: int | None = None
    for index in range(low, high + 1):
        ea, eb = va.entries[index], vb.entries[index]
        if ea.term == eb.term:
            if ea.data != eb.data or ea.kind != eb.kind:
                raise InvariantViolation(
                    f"log matching: nodes {a} and {b} hold different entries with term "
                    f"{ea.term} at index {index}"
                )
            if diverged_at is not None:
                raise InvariantViolation(
                    f"log matching: nodes {a} and {b} agree at {index} (term {ea.term}) but "
                    f"differ at {diverged_at}"
                )
        elif diverged_at is None:
            diverged_at = index
