"""Log replication, commitment and membership, leader and follower sides (codex 5.3).

Leader: appends (its no-op on election, proposals, configuration entries), streams entries to
each member under the flow control of :mod:`.progress`, falls back to InstallSnapshot for a
member behind the compaction point, backs off on rejection using the follower's hint (one round
trip per conflicting term), and commits the highest index stored on a majority *if* that entry
is of its own term (Raft §5.4.2; earlier entries commit with it). Check-quorum: on every tick it
steps down unless a majority was heard from within an election timeout. A leader whose own
removal commits steps down.

Follower: the consistency check on ``(prev_index, prev_term)``, truncation of a conflicting
uncommitted suffix (undoing any configuration it carried), commit index from the leader, and
snapshot installation.
"""

from __future__ import annotations

from archlab.consensus.raft.core import NodeCore
from archlab.consensus.raft.messages import (
    LEADER_MESSAGES,
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
)
from archlab.consensus.raft.progress import Progress, ProgressState
from archlab.consensus.raft.storage import CompactedError
from archlab.consensus.raft.types import ConfState, Entry, EntryKind, ReadState, Role


class Replication(NodeCore):
    """The log, from the leader's and the followers' side."""

    def _step_follower(self, m: Message) -> None:
        if isinstance(m, LEADER_MESSAGES):
            self.election_elapsed = 0
            self.leader = m.src
            if isinstance(m, AppendEntries):
                self._handle_append(m)
            elif isinstance(m, Heartbeat):
                self._handle_heartbeat(m)
            else:
                self._handle_snapshot(m)
        elif isinstance(m, ReadIndexResponse):
            self._read_states.append(ReadState(m.index, m.context))

    def _handle_append(self, m: AppendEntries) -> None:
        if m.prev_index < self.log.committed:
            self._ack(m.src, self.log.committed)
            return
        result = self.log.maybe_append(m.prev_index, m.prev_term, m.commit, m.entries)
        if result is None:
            probe = min(m.prev_index, self.log.last_index())
            hint_index, hint_term = self.log.find_conflict_by_term(probe, m.prev_term)
            self._send(
                AppendResponse(
                    self.id,
                    m.src,
                    self.term,
                    m.prev_index,
                    True,
                    hint_index,
                    hint_term,
                    self.recovering,
                )
            )
            return
        last_new, written = result
        if written:
            self._log_rewritten(written)
        self._ack(m.src, last_new)

    def _handle_heartbeat(self, m: Heartbeat) -> None:
        self.log.commit_to(min(m.commit, self.log.last_index()))
        self._send(HeartbeatResponse(self.id, m.src, self.term, m.round, self.recovering))

    def _handle_snapshot(self, m: InstallSnapshot) -> None:
        snapshot = m.snapshot
        if snapshot.index <= self.log.committed:
            self._ack(m.src, self.log.committed)
            return
        if self.log.match_term(snapshot.index, snapshot.term):
            # We already hold the snapshot's last entry: just learn it is committed.
            self.log.commit_to(snapshot.index)
        else:
            self.log.restore(snapshot)
            self.configs.reset(snapshot.index, snapshot.metadata.conf)
            self._conf_changed()
        self._ack(m.src, snapshot.index)

    def _ack(self, leader: int, index: int) -> None:
        self._send(AppendResponse(self.id, leader, self.term, index, recovering=self.recovering))

    def _log_rewritten(self, written: list[Entry]) -> None:
        """Entries from ``written[0].index`` on replaced our suffix: redo its configurations."""
        self.configs.truncate_from(written[0].index)
        changed = False
        for entry in written:
            if entry.kind is EntryKind.CONFIG:
                self.configs.append(entry.index, ConfState.decode(entry.data))
                changed = True
        if changed or self.tracker.conf != self.conf:
            self._conf_changed()

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader = self.id
        self._votes.clear()
        self._reset_timers()
        self.reads.reset()
        last = self.log.last_index()
        self.tracker.reset(self.conf, last + 1, self._ticks)
        own = self.tracker.get(self.id)
        if own is not None:
            own.maybe_update(last)
            own.become_replicate()
        # The no-op: commits everything before it once a majority stores it (Raft §5.4.2, §8).
        self._append_as_leader([Entry(self.term, last + 1)])

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        for node, progress in self.tracker.progress.items():
            if node != self.id and progress.state is ProgressState.SNAPSHOT:
                progress.snapshot_elapsed += 1
                if progress.snapshot_elapsed >= self.config.election_tick:
                    progress.become_probe()  # the snapshot seems lost: probe, and resend
        if self.election_elapsed >= self.config.election_tick:
            self.election_elapsed = 0
        if self.config.check_quorum and not self.tracker.quorum_active(
            self.id, self._ticks, self.config.election_tick
        ):
            self._become_follower(self.term, None)
            return
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._broadcast_heartbeat()

    def _step_leader(self, m: Message) -> None:
        if isinstance(m, AppendResponse):
            self._handle_append_response(m)
        elif isinstance(m, HeartbeatResponse):
            self._handle_heartbeat_response(m)
        elif isinstance(m, ReadIndexRequest):
            self._leader_read(m.context, m.src)

    def _append_as_leader(self, entries: list[Entry]) -> None:
        self.log.append(entries)
        conf_changed = False
        for entry in entries:
            if entry.kind is EntryKind.CONFIG:
                self.configs.append(entry.index, ConfState.decode(entry.data))
                conf_changed = True
        if conf_changed:
            self._conf_changed()
        own = self.tracker.get(self.id)
        if own is not None:
            own.maybe_update(self.log.last_index())
        self._append_pending = True
        self._maybe_commit()

    def _conf_changed(self) -> None:
        self._note_membership()
        conf = self.conf
        if self.role is not Role.LEADER:
            self.tracker.conf = conf
            return
        self.tracker.apply_conf(conf, self.log.last_index() + 1, self._ticks)
        own = self.tracker.get(self.id)
        if own is not None:
            own.maybe_update(self.log.last_index())
        self._append_pending = True
        self._maybe_commit()

    def _send_append(self, to: int, send_if_empty: bool = True) -> bool:
        progress = self.tracker.progress[to]
        if progress.is_paused():
            return False
        prev_index = progress.next - 1
        prev_term = self.log.term(prev_index)
        if prev_term is None:
            return self._send_snapshot(to)
        try:
            entries = self.log.entries(progress.next, max_count=self.config.max_entries_per_msg)
        except CompactedError:
            return self._send_snapshot(to)
        if not entries and not send_if_empty:
            return False
        self._send(
            AppendEntries(
                self.id, to, self.term, prev_index, prev_term, tuple(entries), self.log.committed
            )
        )
        progress.sent(entries[-1].index if entries else prev_index, len(entries))
        return True

    def _send_snapshot(self, to: int) -> bool:
        progress = self.tracker.progress[to]
        if self._ticks - progress.last_heard >= self.config.election_tick:
            return False  # do not ship a whole snapshot to a member that seems down
        snapshot = self.log.snapshot()
        self._send(InstallSnapshot(self.id, to, self.term, snapshot))
        progress.become_snapshot(snapshot.index)
        return True

    def _handle_append_response(self, m: AppendResponse) -> None:
        progress = self.tracker.get(m.src)
        if progress is None:
            return
        progress.last_heard = self._ticks
        regressed = m.reject and m.index <= progress.match
        if self._lost_its_log(m.src, progress, m.recovering, regressed):
            return
        if m.reject:
            probe = m.hint_index
            if m.hint_term > 0:
                probe, _ = self.log.find_conflict_by_term(m.hint_index, m.hint_term)
            if progress.maybe_decrease_to(m.index, probe):
                if progress.state is ProgressState.REPLICATE:
                    progress.become_probe()
                self._send_append(m.src)
            return
        if not progress.maybe_update(m.index):
            return
        snapshot_done = (
            progress.state is ProgressState.SNAPSHOT and progress.match >= progress.pending_snapshot
        )
        if progress.state is ProgressState.PROBE or snapshot_done:
            progress.become_replicate()
        if self._maybe_commit():
            self._append_pending = True  # tell everybody the new commit index
        while self.role is Role.LEADER and self._send_append(m.src, send_if_empty=False):
            pass

    def _handle_heartbeat_response(self, m: HeartbeatResponse) -> None:
        progress = self.tracker.get(m.src)
        if progress is None:
            return
        progress.last_heard = self._ticks
        if self._lost_its_log(m.src, progress, m.recovering, False):
            return
        progress.probe_sent = False
        if progress.state is ProgressState.REPLICATE and progress.is_paused():
            progress.free_one_inflight()
        if progress.match < self.log.last_index():
            self._send_append(m.src)
        if not m.recovering:  # it may have forgotten a newer term: no proof of leadership
            self.reads.ack(m.src, m.round)
            self._release_reads()

    def _lost_its_log(
        self, peer: int, progress: Progress, recovering: bool, regressed: bool
    ) -> bool:
        """Note whether a member is recovering a lost disk; if it just said so (or rejected
        below what it had acknowledged), its log is gone: probe it again from the start."""
        news = recovering and not progress.recovering
        progress.recovering = recovering
        if not (news or (recovering and regressed)):
            return False
        progress.match = 0
        progress.become_probe()
        self._send_append(peer)
        return True

    def _maybe_commit(self) -> bool:
        index = self.tracker.committed_index()
        if index <= self.log.committed:
            return False
        if self.log.term(index) != self.term and not (
            self.config.flaws.commit_previous_term_by_counting
        ):
            # Raft §5.4.2: an entry of an earlier term is never committed by counting replicas.
            return False
        self.log.commit_to(index)
        self._after_commit()
        return True

    def _after_commit(self) -> None:
        if self.reads.awaiting_commit and self._committed_in_term():
            waiting = list(self.reads.awaiting_commit)
            self.reads.awaiting_commit.clear()
            for context, requester in waiting:
                self._leader_read(context, requester)
        if self.id not in self.conf.voters and self.configs.latest_index() <= self.log.committed:
            # Our own removal is committed: tell the others, then stop leading.
            for peer in self.tracker.peers(self.id):
                self._send_append(peer)
            self._become_follower(self.term, None)
