"""BookKeeper ledgers (7.2): quorum writes, striping, ensemble change, fencing and recovery."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.streaming.tiered.bookie import Bookie, LedgerFenced
from archlab.streaming.tiered.ledger import (
    BookieCluster,
    LedgerWriter,
    NotEnoughBookies,
    Placement,
    RecoveryFailed,
    recover,
)


def cluster(tmp_path: Path, n: int) -> BookieCluster:
    c = BookieCluster(Placement(random.Random(1)))
    for i in range(n):
        c.add_bookie(Bookie(f"b{i}", tmp_path / f"b{i}"))
    return c


def test_striping_puts_each_entry_on_its_write_set_only(tmp_path: Path) -> None:
    c = cluster(tmp_path, 5)
    meta = c.create_ledger(5, 2, 2, now=0)
    writer = LedgerWriter(c, meta)
    for i in range(10):
        assert writer.add(f"e{i}".encode()) == i
    for entry in range(10):
        holders = {n for n, b in c.bookies.items() if b.holds_entry(meta.ledger_id, entry)}
        assert holders == set(meta.write_set(entry)) and len(holders) == 2
    # striped: each of the 5 bookies holds 2/5 of the entries, not all of them
    assert all(len(b._ledgers[meta.ledger_id].index) == 4 for b in c.bookies.values())


def test_a_failed_bookie_is_replaced_for_later_entries_only(tmp_path: Path) -> None:
    c = cluster(tmp_path, 4)
    meta = c.create_ledger(3, 3, 2, now=0)
    writer = LedgerWriter(c, meta)
    writer.add(b"before")
    victim = meta.fragments[0][1][0]
    c.bookies[victim].up = False
    writer.add(b"after")
    assert len(meta.fragments) == 2 and victim not in meta.fragments[1][1]
    assert meta.fragments[1][0] == 1  # the new fragment starts at the entry that failed
    assert c.read(meta, 0) == b"before" and c.read(meta, 1) == b"after"


def test_fewer_than_ack_quorum_fails_the_write(tmp_path: Path) -> None:
    c = cluster(tmp_path, 3)
    meta = c.create_ledger(3, 3, 2, now=0)
    writer = LedgerWriter(c, meta)
    for name in meta.fragments[0][1][:2]:
        c.bookies[name].up = False
    with pytest.raises(NotEnoughBookies):
        writer.add(b"x")


def test_recovery_fences_the_old_writer_and_keeps_every_acked_entry(tmp_path: Path) -> None:
    c = cluster(tmp_path, 3)
    meta = c.create_ledger(3, 3, 2, now=0)
    old = LedgerWriter(c, meta)
    acked = [old.add(f"m{i}".encode()) for i in range(20)]
    # an entry that reached one bookie only (not acknowledged) may or may not survive
    c.bookies[meta.write_set(20)[0]].add_entry(meta.ledger_id, 20, b"partial", lac=19)
    copied = recover(c, meta, now=1)
    assert meta.state == "closed" and meta.last_entry >= acked[-1]
    assert [c.read(meta, e) for e in acked] == [f"m{i}".encode() for i in range(20)]
    assert copied == 2 * len(b"partial")  # the partial entry, to the rest of its write set
    with pytest.raises(LedgerFenced):
        old.add(b"zombie write")


def test_recovery_needs_enough_of_every_write_set(tmp_path: Path) -> None:
    c = cluster(tmp_path, 3)
    meta = c.create_ledger(3, 3, 2, now=0)
    LedgerWriter(c, meta).add(b"x")
    for name in meta.fragments[0][1][:2]:
        c.bookies[name].up = False  # 1 of 3 answers; W - A + 1 = 2 needed
    with pytest.raises(RecoveryFailed):
        recover(c, meta, now=1)


def test_a_restarted_bookie_rebuilds_its_index_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    b = Bookie("b", tmp_path / "b")
    b.add_entry(7, 0, b"hello", lac=-1)
    b.add_entry(7, 1, b"world", lac=0)
    with (tmp_path / "b" / "7.log").open("ab") as f:
        f.write(b"\x02\x00\x00")  # a torn record header
    again = Bookie("b", tmp_path / "b")
    assert again.read_entry(7, 1) == b"world" and again.read_entry(7, 2) is None
    assert again.fence(7) == (1, 0)


class IgnoresFencing(Bookie):
    """A deliberately broken bookie: reports fencing but keeps accepting the old writer."""

    def fence(self, ledger: int) -> tuple[int, int]:
        answer = super().fence(ledger)
        self.fenced.discard(ledger)
        return answer


def zombie_acknowledged_after_close(tmp_path: Path, kind: type[Bookie]) -> bool:
    """Whether an old writer gets an entry acknowledged past the ledger's recovered end."""
    c = BookieCluster(Placement(random.Random(1)))
    for i in range(3):
        c.add_bookie(kind(f"b{i}", tmp_path / kind.__name__ / f"b{i}"))
    meta = c.create_ledger(3, 3, 2, now=0)
    old = LedgerWriter(c, meta)
    for i in range(5):
        old.add(bytes([i]))
    recover(c, meta, now=1)
    try:
        entry = old.add(b"zombie")
    except LedgerFenced:
        return False
    return entry > meta.last_entry  # acknowledged, yet outside the closed ledger: lost


def test_fencing_is_what_stops_the_old_writer(tmp_path: Path) -> None:
    assert not zombie_acknowledged_after_close(tmp_path, Bookie)
    assert zombie_acknowledged_after_close(tmp_path, IgnoresFencing)
