"""Errors of the ID generators and parsers (codex 6.2).

Both kinds are :class:`~archlab.errors.ArchlabError`, so the CLI reports them as one line with
exit code 2. Parsing errors are also :class:`ValueError` and generation errors also
:class:`RuntimeError`, so library callers can catch them the usual Python way.
"""

from __future__ import annotations

from archlab.errors import ArchlabError


class InvalidIdError(ArchlabError, ValueError):
    """A string or number is not a valid identifier of the kind asked for."""


class IdGenerationError(ArchlabError, RuntimeError):
    """A generator cannot issue an identifier without breaking uniqueness or order."""


class ClockMovedBackwardsError(IdGenerationError):
    """The clock reads earlier than the last timestamp issued, and the policy is to refuse."""

    def __init__(self, last_ms: int, now_ms: int) -> None:
        super().__init__(
            f"clock moved backwards by {last_ms - now_ms} ms (last issued {last_ms}, now {now_ms});"
            " refusing to issue an ID that could repeat or sort before earlier ones"
        )
        self.last_ms = last_ms
        self.now_ms = now_ms


class MonotonicOverflowError(IdGenerationError):
    """The random part of a monotonic ULID cannot be incremented within this millisecond."""


class TimestampRangeError(IdGenerationError):
    """The clock is outside the range the layout's timestamp field can hold."""


class NoMachineIdError(IdGenerationError):
    """A Snowflake generator has no valid machine-id lease at this moment."""
