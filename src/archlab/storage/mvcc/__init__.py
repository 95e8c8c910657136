"""PostgreSQL-style MVCC (codex 4.3): tuple versions, snapshots, isolation levels, row locks,
vacuum, freezing and XID wraparound.

The entry point is :class:`Engine`; see :mod:`archlab.storage.mvcc.engine` for the API and
:mod:`archlab.storage.mvcc.scheduler` for running transactions concurrently and recording
their histories.
"""

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.errors import (
    DeadlockDetected,
    LockWait,
    SerializationFailure,
    TransactionClosed,
    TransactionError,
    TransactionRollback,
    WraparoundRefusal,
)
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.transaction import Isolation, Transaction, TxnState
from archlab.storage.mvcc.vacuum import VacuumReport
from archlab.storage.mvcc.xid import XidSpace

__all__ = [
    "DeadlockDetected",
    "Engine",
    "Isolation",
    "LockWait",
    "MvccSettings",
    "SerializationFailure",
    "Snapshot",
    "Transaction",
    "TransactionClosed",
    "TransactionError",
    "TransactionRollback",
    "TxnState",
    "VacuumReport",
    "WraparoundRefusal",
    "XidSpace",
]
