"""Zab from the leader's side: discovery, synchronization, broadcast (codex 5.3).

- **Discovery**: with FOLLOWERINFO from a quorum (itself included) the prospective leader picks
  the new epoch, one above every accepted epoch it heard of, accepts it itself and sends
  NEWEPOCH. With ACKEPOCH from a quorum it adopts the most up-to-date history among them — the
  highest current epoch, then the highest last zxid — taking the transactions it lacks from
  that follower's acknowledgement, and makes the new epoch its current epoch. That history
  holds every transaction any earlier leader committed (a quorum acknowledged it, and that
  quorum meets this one).
- **Synchronization**: to each follower, a NEWLEADER computed from the follower's segments:
  DIFF (the missing suffix), TRUNC (cut the follower's divergent tail at the longest common
  prefix, then DIFF) or SNAP (the prefix they share is compacted here: the snapshot and what
  follows). Once a quorum acknowledges it, the whole initial history is committed and the epoch
  is *established*: only then are new proposals taken — which is how a new primary delivers
  every committed proposal of its predecessors before any of its own.
- **Broadcast**: a proposal gets the next zxid ⟨epoch, counter⟩, goes to the end of the history
  and to every follower (batched, strictly in order); a zxid is committed once a quorum's
  cumulative acknowledgements reach it, and everything before it with it.

A follower arriving later goes through the same steps against the established epoch (its
NEWLEADER carries the history so far, committed or not). An observer goes through them too,
but counts in no quorum: not for the epoch, the history, commits nor check-quorum. Every
heartbeat the leader resends what a follower has not acknowledged, or pings it; it goes back
to election when it has not heard from a quorum within ``election_tick``, or has not
established its epoch in time.
"""

from __future__ import annotations

from archlab.consensus.zab.core import FollowerView, NodeCore
from archlab.consensus.zab.follower import last_of
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
from archlab.consensus.zab.types import ZERO, Phase, ServerState, Txn, Zxid


class Leader(NodeCore):
    """The leading state."""

    def _become_leading(self) -> None:
        self._reset_roles()
        self.state = ServerState.LEADING
        self.phase = Phase.DISCOVERY
        self.leader = self.id
        self._leading_since = self._ticks
        self._reset_timer()
        own = FollowerInfo(
            self.id, self.id, 0, self.accepted_epoch, self.current_epoch, self.history.segments()
        )
        self._infos = {self.id: own}
        self.epoch = 0
        self._maybe_pick_epoch()

    def _view(self, src: int, attempt: int) -> FollowerView:
        view = self.followers.get(src)
        if view is None or view.attempt != attempt:
            view = FollowerView(attempt, self._ticks)  # a new connection from this follower
            self.followers[src] = view
        view.last_heard = self._ticks
        return view

    # -- phase 1 --------------------------------------------------------------------------

    def _on_follower_info(self, m: FollowerInfo) -> None:
        if self.state is not ServerState.LEADING:
            return
        view = self._view(m.src, m.attempt)
        view.info = m
        view.voter = m.voter
        if self.epoch == 0:
            if m.voter:
                self._infos[m.src] = m
                self._maybe_pick_epoch()
        elif m.accepted_epoch <= self.epoch or not m.voter:
            self._send_new_epoch(m.src, m.attempt)

    def _send_new_epoch(self, dst: int, attempt: int) -> None:
        self._send(
            NewEpoch(
                self.id,
                dst,
                attempt,
                self.epoch,
                self.current_epoch,
                self.history.segments(),
            )
        )

    def _maybe_pick_epoch(self) -> None:
        if len(self._infos) < self.quorum:
            return
        self.epoch = max(info.accepted_epoch for info in self._infos.values()) + 1
        self._set_epochs(accepted=self.epoch)
        self._epoch_acks = {
            self.id: AckEpoch(
                self.id,
                self.id,
                0,
                self.epoch,
                self.current_epoch,
                self.history.segments(),
            )
        }
        for src, view in self.followers.items():
            if view.info is not None:
                self._send_new_epoch(src, view.attempt)  # observers waiting included
        self._maybe_finish_discovery()

    def _on_ack_epoch(self, m: AckEpoch) -> None:
        if self.state is not ServerState.LEADING or m.epoch != self.epoch:
            return
        view = self.followers.get(m.src)
        if view is None or view.attempt != m.attempt:
            return
        view.last_heard = self._ticks
        view.ack_epoch = m
        if self.phase is Phase.DISCOVERY:
            if m.counts:
                self._epoch_acks[m.src] = m
                self._maybe_finish_discovery()
            # else: synchronized once discovery is over (it cannot help establish the epoch)
        elif not self.config.flaws.skip_synchronization:
            self._synchronize(m.src, m)  # a follower joining the epoch
        else:
            view.synced = True

    def _maybe_finish_discovery(self) -> None:
        if len(self._epoch_acks) < self.quorum:
            return
        best = max(
            self._epoch_acks.values(), key=lambda a: (a.current_epoch, last_of(a.segments), -a.src)
        )
        if best.src != self.id and (best.current_epoch, last_of(best.segments)) > (
            self.current_epoch,
            self.history.last_zxid,
        ):
            self._adopt(best)
        self._set_epochs(current=self.epoch)
        self._initial_last = self.history.last_zxid
        acks = [
            view.ack_epoch
            for src, view in sorted(self.followers.items())
            if view.ack_epoch is not None and view.ack_epoch.epoch == self.epoch
        ]
        if self.config.flaws.skip_synchronization:
            self.phase = Phase.BROADCAST  # no phase 2: broadcast at once
            for ack in acks:
                self.followers[ack.src].synced = True
            return
        self.phase = Phase.SYNCHRONIZATION
        for ack in acks:
            self._synchronize(ack.src, ack)
        self._maybe_commit()

    def _adopt(self, best: AckEpoch) -> None:
        """Take the transactions a more up-to-date follower holds and we lack."""
        assert best.suffix is not None, "a more up-to-date follower sends what we lack"
        if best.snapshot is not None:
            self._install(best.snapshot)
        else:
            _, position = common_point(self.history.segments(), best.segments)
            self._truncate(position)
        for txn in best.suffix:
            if txn.zxid > self.history.last_zxid:
                self._append(txn)

    # -- phase 2 --------------------------------------------------------------------------

    def _synchronize(self, follower: int, ack: AckEpoch) -> None:
        view = self.followers[follower]
        history = self.history
        shared, position = common_point(history.segments(), ack.segments)
        snapshot = None
        if position < history.base:
            mode, snapshot, position = "SNAP", history.snapshot, history.base
        elif shared != last_of(ack.segments):
            mode = "TRUNC"
        else:
            mode = "DIFF"
        txns = tuple(history.after(position))
        self._send(
            NewLeader(
                self.id,
                follower,
                view.attempt,
                self.epoch,
                mode,
                position,
                snapshot,
                txns,
                self.commit_zxid,
            )
        )
        view.syncing = True

    # -- phase 3 --------------------------------------------------------------------------

    def _next_zxid(self) -> Zxid:
        last = self.history.last_zxid
        return Zxid(self.epoch, last.counter + 1 if last.epoch == self.epoch else 1)

    def _on_ack(self, m: Ack) -> None:
        if self.state is not ServerState.LEADING or m.epoch != self.epoch:
            return
        view = self.followers.get(m.src)
        if view is None:
            return
        view.last_heard = self._ticks
        view.synced = True
        view.acked = max(view.acked, m.zxid)
        view.round = max(view.round, m.round)
        self._maybe_commit()
        if m.gap and self._ticks != view.resend_tick:
            self._resend(m.src, view)

    def _maybe_commit(self) -> None:
        if self.phase is Phase.DISCOVERY:
            return
        acked = sorted(
            [
                self.history.last_zxid,
                *(v.acked for v in self.followers.values() if v.synced and v.voter),
            ],
            reverse=True,
        )
        if len(acked) < self.quorum:
            return
        zxid = acked[self.quorum - 1]
        if zxid > self.commit_zxid and self.history.position_of(zxid) is not None:
            self.commit_zxid = zxid
            self._commit_upto(zxid)
        if self.phase is Phase.SYNCHRONIZATION and zxid >= self._initial_last:
            self.phase = Phase.BROADCAST  # established: the initial history is committed

    def _resend(self, follower: int, view: FollowerView) -> None:
        """Send what ``follower`` has not acknowledged, from its last acknowledged zxid."""
        view.resend_tick = self._ticks
        history = self.history
        position = history.position_of(view.acked)
        if self.config.flaws.skip_synchronization:
            # Nothing is ever installed on a follower: only this epoch's proposals are resent.
            own = history.last_position_upto(Zxid(self.epoch, 0))
            position = max(position or 0, own)
        elif position is None:
            if view.acked > history.snapshot.zxid:
                return  # not ours: only a broken variant acknowledges such a zxid
            position = history.base - 1  # compacted here: send the snapshot
        if position < history.base:
            # What it lacks is compacted here: a snapshot takes it past all of it.
            txns = tuple(history.after(history.base))
            self._send(
                NewLeader(
                    self.id,
                    follower,
                    view.attempt,
                    self.epoch,
                    "SNAP",
                    history.base,
                    history.snapshot,
                    txns,
                    self.commit_zxid,
                )
            )
            return
        txns = tuple(history.after(position, self.config.max_batch))
        if txns:
            prev = history.zxid_at(position)
            self._send(Proposal(self.id, follower, self.epoch, prev, txns, self.commit_zxid))

    def _tick_leading(self) -> None:
        self.election_elapsed += 1
        self.heartbeat_elapsed += 1
        election = self.config.election_tick
        if self.election_elapsed >= election:
            self.election_elapsed = 0
            heard = sum(
                1
                for v in self.followers.values()
                if v.voter and self._ticks - v.last_heard < election
            )
            late = self._ticks - self._leading_since > self.config.establish_ticks
            if heard + 1 < self.quorum or (late and self.phase is not Phase.BROADCAST):
                self._start_looking()
                return
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            last = self.history.last_zxid
            self._commit_sent = self.commit_zxid
            for follower, view in self.followers.items():
                if not view.synced:
                    continue
                if view.acked < last:
                    self._resend(follower, view)
                else:
                    self._ping(follower)

    def _flush(self) -> None:
        """Send the proposals and the commit made since the last Ready, one batch per follower."""
        if self.state is not ServerState.LEADING:
            self._outgoing.clear()
            return
        if self._read_round > self._round_sent:  # reads wait for a round: start one now
            self._round_sent = self._read_round
            for follower, view in self.followers.items():
                if view.synced:
                    self._ping(follower)
        outgoing, self._outgoing = self._outgoing, []
        commit_moved = self.commit_zxid > self._commit_sent
        self._commit_sent = self.commit_zxid
        targets = [f for f, v in self.followers.items() if v.synced or v.syncing]
        if outgoing:
            batch = self.config.max_batch
            first = self.history.position_of(outgoing[0].zxid)
            assert first is not None
            prev = self.history.zxid_at(first - 1) if first - 1 >= self.history.base else ZERO
            for start in range(0, len(outgoing), batch):
                chunk = tuple(outgoing[start : start + batch])
                for follower in targets:
                    self._send(
                        Proposal(self.id, follower, self.epoch, prev, chunk, self.commit_zxid)
                    )
                prev = chunk[-1].zxid
        elif commit_moved:
            for follower in targets:
                if self.followers[follower].synced:
                    self._send(Commit(self.id, follower, self.epoch, self.commit_zxid))

    def _ping(self, follower: int) -> None:
        self._send(Ping(self.id, follower, self.epoch, self.commit_zxid, self._round_sent))

    def _propose(self, data: bytes) -> tuple[int, Zxid]:
        txn = Txn(self._next_zxid(), data)
        self._append(txn)
        self._outgoing.append(txn)
        self._maybe_commit()
        return self.history.length, txn.zxid
