"""Zab from the follower's side: discovery, synchronization, broadcast (codex 5.3).

- **Discovery**: the follower sends its epochs and history segments (:class:`FollowerInfo`,
  re-sent every heartbeat until answered). On ``NEWEPOCH(e)`` it refuses an epoch below its
  accepted epoch (and looks for a leader again), otherwise makes ``e`` its accepted epoch —
  durably, before the ACKEPOCH leaves — and acknowledges it with its current epoch and segments,
  adding the transactions the leader lacks when its history is the more up to date. An
  acknowledgement of an epoch it had already accepted is marked as not counting towards
  establishing it.
- **Synchronization**: on ``NEWLEADER`` of that epoch (and of this connection attempt) it
  truncates a divergent tail, installs a snapshot or appends the missing transactions, makes the
  epoch its current epoch, persists all of it and acknowledges with an Ack.
- **Broadcast**: it appends a proposal only if it follows its history exactly (``prev`` is its
  last zxid), so it holds a prefix of the leader's history at all times; otherwise it answers
  with its last zxid and ``gap`` so the leader resends. Acks are cumulative. A commit makes
  every transaction of its history up to that zxid deliverable, in order.

It goes back to leader election when it has not heard from its leader for its timeout.
"""

from __future__ import annotations

from archlab.consensus.zab.core import NodeCore
from archlab.consensus.zab.history import common_point
from archlab.consensus.zab.messages import (
    Ack,
    AckEpoch,
    Commit,
    FollowerInfo,
    NewEpoch,
    NewLeader,
    Ping,
    Proposal,
)
from archlab.consensus.zab.types import Phase, ServerState, Zxid


def last_of(segments: tuple[tuple[int, int], ...]) -> Zxid:
    return Zxid(*segments[-1]) if segments else Zxid()


class Follower(NodeCore):
    """The following state."""

    def _become_following(self, leader: int) -> None:
        self._reset_roles()
        self.state = ServerState.FOLLOWING
        self.phase = Phase.DISCOVERY
        self.leader = leader
        self.attempt = self._rng.getrandbits(31)
        self._reset_timer()
        self._send_info()

    def _send_info(self) -> None:
        assert self.leader is not None
        self._send(
            FollowerInfo(
                self.id,
                self.leader,
                self.attempt,
                self.accepted_epoch,
                self.current_epoch,
                self.history.segments(),
                self.config.voter,
            )
        )

    def _tick_following(self) -> None:
        self.election_elapsed += 1
        self.heartbeat_elapsed += 1
        if self.election_elapsed >= self._timeout:
            self._start_looking()
            return
        if self.phase is Phase.DISCOVERY and self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            if self._last_ack_epoch is None:
                self._send_info()
            else:
                self._send(self._last_ack_epoch)

    def _from_leader(self, src: int, attempt: int | None = None) -> bool:
        ok = (
            self.state is ServerState.FOLLOWING
            and src == self.leader
            and (attempt is None or attempt == self.attempt)
        )
        if ok:
            self.election_elapsed = 0
        return ok

    # -- phase 1 --------------------------------------------------------------------------

    def _on_new_epoch(self, m: NewEpoch) -> None:
        if not self._from_leader(m.src, m.attempt) or self.phase is not Phase.DISCOVERY:
            return
        if m.epoch < self.accepted_epoch:
            self._start_looking()  # we promised a later leader
            return
        counts = m.epoch > self.accepted_epoch and self.config.voter
        self._set_epochs(accepted=m.epoch)
        self.epoch = m.epoch
        suffix = snapshot = None
        mine = (self.current_epoch, self.history.last_zxid)
        if counts and mine > (m.current_epoch, last_of(m.segments)):
            _, position = common_point(self.history.segments(), m.segments)
            if position < self.history.base:
                snapshot = self.history.snapshot
                position = self.history.base
            suffix = tuple(self.history.after(position))
        ack = AckEpoch(
            self.id,
            m.src,
            self.attempt,
            m.epoch,
            self.current_epoch,
            self.history.segments(),
            counts,
            suffix,
            snapshot,
        )
        self._last_ack_epoch = ack
        self._send(ack)

    # -- phase 2 --------------------------------------------------------------------------

    def _on_new_leader(self, m: NewLeader) -> None:
        if not self._from_leader(m.src, m.attempt) or m.epoch != self.epoch:
            return
        if self.phase is Phase.BROADCAST:
            snapshot = m.snapshot
            if snapshot is not None and snapshot.length > self.history.length:
                # The leader compacted what we lack: everything we hold is inside the snapshot.
                self._install(snapshot)
                for txn in m.txns:
                    self._append(txn)
                self._commit_upto(m.commit)
            self._send(Ack(self.id, m.src, self.epoch, self.history.last_zxid))
            return
        if self._last_ack_epoch is None or m.epoch != self.accepted_epoch:
            return
        if m.snapshot is not None:
            self._install(m.snapshot)
        else:
            self._truncate(m.truncate_to)
        for txn in m.txns:
            self._append(txn)
        self._set_epochs(current=m.epoch)
        self.phase = Phase.BROADCAST
        self._commit_upto(m.commit)
        self._send(Ack(self.id, m.src, self.epoch, self.history.last_zxid))

    # -- phase 3 --------------------------------------------------------------------------

    def _on_proposal(self, m: Proposal) -> None:
        if not self._from_leader(m.src) or m.epoch != self.epoch:
            return
        if self.phase is Phase.DISCOVERY and self.config.flaws.skip_synchronization:
            if self._last_ack_epoch is None:
                return
            self._set_epochs(current=m.epoch)  # no NEWLEADER: take the epoch and go on
            self.phase = Phase.BROADCAST
        if self.phase is not Phase.BROADCAST:
            return
        gap = False
        prev = m.prev
        for txn in m.txns:
            last = self.history.last_zxid
            if txn.zxid <= last:
                pass  # already held (same zxid, same transaction)
            elif prev == last or self._unsynced_first(prev, txn.zxid, last):
                self._append(txn)
            else:
                gap = True
                break
            prev = txn.zxid
        self._commit_upto(min(m.commit, self.history.last_zxid))
        self._send(Ack(self.id, m.src, self.epoch, self.history.last_zxid, gap))

    def _unsynced_first(self, prev: Zxid, zxid: Zxid, last: Zxid) -> bool:
        """The flaw: the first proposal of the epoch goes after whatever history we have."""
        return (
            self.config.flaws.skip_synchronization
            and zxid.epoch == self.epoch
            and zxid.counter == 1
            and last.epoch < self.epoch
        )

    def _on_commit(self, m: Commit) -> None:
        if self._from_leader(m.src) and m.epoch == self.epoch and self.phase is Phase.BROADCAST:
            self._commit_upto(m.zxid)

    def _on_ping(self, m: Ping) -> None:
        if not self._from_leader(m.src) or m.epoch != self.epoch:
            return
        if self.phase is Phase.BROADCAST:
            self._commit_upto(m.commit)
            last = self.history.last_zxid
            self._send(Ack(self.id, m.src, self.epoch, last, round=m.round))
