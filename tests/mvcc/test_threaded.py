"""The thread-safe front: real threads block on row locks, deadlocks still end, money is kept."""

from __future__ import annotations

import random
import threading

import pytest

from archlab.storage.mvcc import Isolation, TransactionRollback
from archlab.storage.mvcc.threaded import LockTimeout, ThreadSafeEngine


def test_a_writer_blocks_until_the_lock_holder_commits() -> None:
    db = ThreadSafeEngine()
    setup = db.begin()
    setup.put("x", 0)
    setup.commit()
    holder = db.begin()
    holder.put("x", 1)
    done = threading.Event()

    def second_writer() -> None:
        txn = db.begin()
        txn.put("x", txn.get("x", for_update=True) + 10)  # waits for holder
        txn.commit()
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not done.wait(0.1)  # still blocked
    holder.commit()
    thread.join(5)
    assert done.is_set()
    reader = db.begin()
    assert reader.get("x") == 11


def test_a_lock_wait_times_out() -> None:
    db = ThreadSafeEngine(timeout=0.05)
    holder = db.begin()
    holder.put("x", 1)
    waiter = db.begin()
    with pytest.raises(LockTimeout):
        waiter.put("x", 2)
    assert not waiter.txn.active


@pytest.mark.parametrize("level", [Isolation.READ_COMMITTED, Isolation.SERIALIZABLE])
def test_threads_moving_money_keep_the_total(level: Isolation) -> None:
    db = ThreadSafeEngine()
    accounts = [f"acct{i}" for i in range(4)]
    setup = db.begin()
    for key in accounts:
        setup.put(key, 100)
    setup.commit()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            src, dst = rng.sample(accounts, 2)
            while True:
                txn = db.begin(level)
                try:
                    a = txn.get(src, for_update=True)
                    b = txn.get(dst, for_update=True)
                    txn.put(src, a - 1)
                    txn.put(dst, b + 1)
                    txn.commit()
                    break
                except TransactionRollback:  # deadlock or serialization failure: run it again
                    continue

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    reader = db.begin(Isolation.SERIALIZABLE)
    assert sum(v for _, v in reader.scan()) == 400
    assert db.engine.commits >= 161
