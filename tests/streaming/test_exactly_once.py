"""Exactly-once (7.1): the broker's sequence rules, transactions, and the experiment's judge."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

import archlab.streaming.eos_sim as eos
from archlab.streaming.broker.isolation import visible_records
from archlab.streaming.broker.partition import Partition
from archlab.streaming.broker.producers import ProducerStates, SequenceCheck
from archlab.streaming.eos_sim import Faults, run_producer, run_transactions
from archlab.streaming.log.partition import LogConfig
from archlab.streaming.log.records import decode_batch, iter_batches, make_batch
from archlab.streaming.measure_exactly_once import ExactlyOnceMeasurement, judge_exactly_once
from archlab.streaming.protocol import errors

FAULTS = Faults(drop_request=0.1, drop_response=0.1, failover=0.05)


def _batch(seq: int, n: int = 2, pid: int = 7, epoch: int = 0, txn: bool = False) -> bytes:
    return make_batch(
        [b"%d" % (seq + i) for i in range(n)],
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
        transactional=txn,
    ).encode()


def test_retries_of_the_last_five_batches_get_their_original_offsets(tmp_path: Path) -> None:
    p = Partition("t", 0, tmp_path, LogConfig(), 0)
    offsets = [p.produce(_batch(2 * i), 0).base_offset for i in range(7)]
    assert offsets == [0, 2, 4, 6, 8, 10, 12]
    for i in range(2, 7):  # the last five: answered, not appended
        assert p.produce(_batch(2 * i), 0).base_offset == offsets[i]
    assert p.log.log_end_offset == 14
    assert p.produce(_batch(0), 0).error == errors.OUT_OF_ORDER_SEQUENCE_NUMBER  # too old
    assert p.produce(_batch(20), 0).error == errors.OUT_OF_ORDER_SEQUENCE_NUMBER  # a gap
    assert p.produce(_batch(0, pid=8, epoch=0), 0).error == errors.NONE  # another producer
    assert p.produce(_batch(14, epoch=1), 0).error == errors.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert p.produce(_batch(0, epoch=1), 0).error == errors.NONE  # a new epoch starts at 0
    assert p.produce(_batch(14, epoch=0), 0).error == errors.INVALID_PRODUCER_EPOCH  # fenced


def test_producer_state_is_rebuilt_from_the_log_after_a_restart(tmp_path: Path) -> None:
    p = Partition("t", 0, tmp_path, LogConfig(), 0)
    for i in range(3):
        p.produce(_batch(2 * i), 0)
    p.log.close()
    again = Partition("t", 0, tmp_path, LogConfig(), 0)
    assert again.produce(_batch(4), 0).base_offset == 4  # still a duplicate
    assert again.produce(_batch(6), 0).base_offset == 6


def test_the_lso_stops_at_an_open_transaction_and_aborts_are_listed(tmp_path: Path) -> None:
    p = Partition("t", 0, tmp_path, LogConfig(), 0)
    p.produce(_batch(0, pid=1), 0)  # plain idempotent: offsets 0-1
    p.produce(_batch(0, pid=2, txn=True), 0)  # txn of producer 2: 2-3
    p.produce(_batch(2, pid=1), 0)  # 4-5
    p.commit_high_watermark()
    assert p.last_stable_offset == 2 and p.high_watermark == 6
    fetched = p.fetch(0, 1 << 20, read_committed=True)
    assert fetched.records is not None and fetched.records.length < p.log.size_bytes
    p.write_marker(2, 0, commit=False, now_ms=0)  # abort: marker at 6
    p.commit_high_watermark()
    assert p.last_stable_offset == 7
    fetched = p.fetch(0, 1 << 20, read_committed=True)
    assert [(a.producer_id, a.first_offset) for a in fetched.aborted] == [(2, 2)]
    data = p.log.read_bytes(0)
    batches = [decode_batch(data, pos) for pos, _ in iter_batches(data)]
    committed = [r.value for _, r in visible_records(batches, fetched.aborted, True)]
    uncommitted = [r.value for _, r in visible_records(batches, fetched.aborted, False)]
    assert committed == [b"0", b"1", b"2", b"3"] and len(uncommitted) == 6
    p.log.close()
    again = Partition("t", 0, tmp_path, LogConfig(), 0)  # the aborted index survives a restart
    assert again.fetch(0, 1 << 20, True).aborted == fetched.aborted


def test_without_idempotence_retries_duplicate_and_reorder() -> None:
    plain = run_producer(_tmp("plain"), random.Random(3), 60, 5, False, FAULTS)
    idem = run_producer(_tmp("idem"), random.Random(3), 60, 5, True, FAULTS)
    assert plain.duplicates > 0 and plain.gaps > 0
    assert (idem.duplicates, idem.gaps, idem.lost) == (0, 0, 0)
    assert idem.retries > 0


def _tmp(name: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"eos-{name}-"))


def test_a_broker_that_forgets_sequences_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # broken: a broker that ignores sequence numbers appends every retry
    monkeypatch.setattr(ProducerStates, "check", lambda self, *a: SequenceCheck(errors.NONE))
    broken = run_producer(_tmp("broken"), random.Random(3), 60, 5, True, FAULTS)
    assert broken.duplicates > 0 and broken.gaps > 0


def test_transactions_are_seen_whole_or_not_at_all() -> None:
    run = run_transactions(_tmp("txn"), random.Random(5), 30, 3, FAULTS)
    assert run.committed > 0 and run.aborted + run.crashed > 0
    assert (run.rc_aborted_seen, run.rc_partial, run.zombie_writes_accepted) == (0, 0, 0)
    assert run.ru_aborted_seen > 0


def test_a_reader_that_ignores_the_aborted_list_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        eos, "visible_records", lambda batches, aborted, rc: visible_records(batches, [], rc)
    )
    run = run_transactions(_tmp("txn-broken"), random.Random(5), 30, 3, FAULTS)
    assert run.rc_aborted_seen > 0


def _real() -> ExactlyOnceMeasurement:
    plain = run_producer(_tmp("p"), random.Random(1), 40, 5, False, FAULTS)
    idem = run_producer(_tmp("i"), random.Random(1), 40, 5, True, FAULTS)
    txn = run_transactions(_tmp("t"), random.Random(1), 20, 3, FAULTS)
    return ExactlyOnceMeasurement(
        seeds=1,
        records=200,
        retries=plain.retries + idem.retries,
        failovers=plain.failovers + idem.failovers,
        plain_duplicates=plain.duplicates,
        plain_gaps=plain.gaps,
        idempotent_duplicates=idem.duplicates,
        idempotent_gaps=idem.gaps,
        lost=plain.lost + idem.lost,
        committed_txns=txn.committed,
        aborted_txns=txn.aborted + txn.crashed,
        zombie_writes_accepted=txn.zombie_writes_accepted,
        read_committed_aborted=txn.rc_aborted_seen,
        read_committed_partial=txn.rc_partial,
        read_uncommitted_aborted=txn.ru_aborted_seen,
    )


def test_the_judge_reaches_each_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    good = _real()
    assert judge_exactly_once(good).verdict == "holds"
    calm = replace(good, plain_duplicates=0, plain_gaps=0)  # faults too mild to matter
    assert judge_exactly_once(calm).verdict == "nuanced"
    monkeypatch.setattr(ProducerStates, "check", lambda self, *a: SequenceCheck(errors.NONE))
    broken = run_producer(_tmp("b"), random.Random(1), 40, 5, True, FAULTS)
    measured = replace(good, idempotent_duplicates=broken.duplicates, idempotent_gaps=broken.gaps)
    judgement = judge_exactly_once(measured)
    assert judgement.verdict == "refuted"
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
    leaky = replace(good, read_committed_aborted=3)
    assert judge_exactly_once(leaky).verdict == "refuted"
