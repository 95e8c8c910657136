"""What a transaction can be told instead of a result (codex 4.3).

PostgreSQL's SQLSTATE classes, kept in the names:

* :class:`SerializationFailure` (``40001``) and :class:`DeadlockDetected` (``40P01``) belong to
  class 40, *transaction rollback*: the transaction has been rolled back and the client should
  run it again. Both are :class:`TransactionRollback` with ``retryable = True``.
* :class:`WraparoundRefusal` (``54000``, *program limit exceeded*): no new XIDs near
  wraparound; retrying helps only after a vacuum has frozen old tuples.
* :class:`TransactionClosed` (``25000``): the transaction already committed or rolled back.

Every error raised by an operation rolls the transaction back first, as an error does in
PostgreSQL. :class:`LockWait` is different: it is not an error but the engine saying "this
statement must wait for transaction ``holder`` to finish; call it again then". The transaction
stays alive and nothing of the statement has happened.
"""

from __future__ import annotations


class TransactionError(Exception):
    """An operation failed and its transaction is no longer usable."""

    sqlstate = "XX000"
    retryable = False


class TransactionRollback(TransactionError):
    """The transaction was rolled back because of concurrency; run it again."""

    sqlstate = "40000"
    retryable = True


class SerializationFailure(TransactionRollback):
    """``could not serialize access``: a concurrent update (first updater wins) or an SSI
    dangerous structure."""

    sqlstate = "40001"


class DeadlockDetected(TransactionRollback):
    """Waiting would close a cycle of transactions waiting for each other."""

    sqlstate = "40P01"


class WraparoundRefusal(TransactionError):
    """The XID counter is within the stop margin of wraparound; vacuum must freeze first."""

    sqlstate = "54000"


class TransactionClosed(TransactionError):
    """The transaction has already finished (committed or rolled back)."""

    sqlstate = "25000"


class LockWait(Exception):
    """The statement must wait for transaction ``holder`` (by id) to commit or abort."""

    def __init__(self, waiter: int, holder: int, xid: int) -> None:
        super().__init__(f"transaction {waiter} waits for transaction {holder} (XID {xid})")
        self.waiter = waiter
        self.holder = holder
        self.xid = xid
