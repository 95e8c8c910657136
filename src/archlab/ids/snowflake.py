"""Snowflake IDs (codex 6.2; Twitter): 41-bit ms since an epoch, 10-bit machine, 12-bit sequence.

A Snowflake is a 63-bit non-negative integer (the sign bit of a 64-bit word stays zero):
``timestamp << 22 | machine << 12 | sequence`` with Twitter's epoch 1288834974657 by default.
The machine field may be read as 5-bit datacenter + 5-bit worker, as Twitter's original did.

The mechanism is split in two:

- :class:`SnowflakeSequencer` (this module imports no clock, thread or randomness): given
  the clock reading, it issues the next ID or says why it cannot. Within one millisecond the
  sequence counts up; when all 4096 are used it returns ``None`` (wait for the next
  millisecond). A reading earlier than the last timestamp used raises
  :class:`ClockMovedBackwardsError`: issuing it could repeat an ID. A ``floor`` (the highest
  timestamp a previous holder of this machine id may have used, from the lease service) makes
  every timestamp up to the floor count as already used. The lease code and its tests, and
  later the simulator, drive this class directly.
- :class:`~archlab.ids.snowflake_generator.SnowflakeGenerator`: the sequencer with a real (or
  injected) clock, a lock and the waiting policies (see that module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from archlab.ids.errors import (
    ClockMovedBackwardsError,
    InvalidIdError,
    TimestampRangeError,
)

TWITTER_EPOCH_MS: Final = 1288834974657


@dataclass(frozen=True)
class SnowflakeLayout:
    """Bit widths and epoch; the defaults are Twitter's (41 + 10 + 12 bits, sign bit unused)."""

    epoch_ms: int = TWITTER_EPOCH_MS
    timestamp_bits: int = 41
    machine_bits: int = 10
    sequence_bits: int = 12
    datacenter_bits: int = 5  # the high bits of the machine field, when read as dc + worker

    def __post_init__(self) -> None:
        total = self.timestamp_bits + self.machine_bits + self.sequence_bits
        if total > 63:
            raise InvalidIdError(f"a Snowflake layout has at most 63 bits, this one {total}")
        if not 0 <= self.datacenter_bits <= self.machine_bits:
            raise InvalidIdError("datacenter bits must fit inside the machine bits")

    @property
    def max_machine(self) -> int:
        return (1 << self.machine_bits) - 1

    @property
    def max_sequence(self) -> int:
        return (1 << self.sequence_bits) - 1

    def machine_id(self, datacenter: int, worker: int) -> int:
        """The machine field of a datacenter and worker pair."""
        worker_bits = self.machine_bits - self.datacenter_bits
        if not 0 <= datacenter < 1 << self.datacenter_bits or not 0 <= worker < 1 << worker_bits:
            raise InvalidIdError(
                f"datacenter {datacenter} / worker {worker} do not fit "
                f"{self.datacenter_bits} + {worker_bits} bits"
            )
        return datacenter << worker_bits | worker

    def compose(self, unix_ms: int, machine: int, sequence: int) -> int:
        t = unix_ms - self.epoch_ms
        if not 0 <= t < 1 << self.timestamp_bits:
            raise TimestampRangeError(
                f"time {unix_ms} ms is outside the layout's {self.timestamp_bits}-bit range "
                f"after epoch {self.epoch_ms}"
            )
        return (t << self.machine_bits | machine) << self.sequence_bits | sequence


TWITTER = SnowflakeLayout()


@dataclass(frozen=True)
class SnowflakeParts:
    value: int
    timestamp_ms: int  # Unix milliseconds (epoch added)
    machine: int
    datacenter: int
    worker: int
    sequence: int
    epoch_ms: int


def parse_snowflake(value: int | str, layout: SnowflakeLayout = TWITTER) -> SnowflakeParts:
    """Split a Snowflake into its fields under ``layout`` (a number cannot name its layout)."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise InvalidIdError(f"a Snowflake is a decimal integer, got {value!r}")
        value = int(value)
    bits = layout.timestamp_bits + layout.machine_bits + layout.sequence_bits
    if not 0 <= value < 1 << bits:
        raise InvalidIdError(f"{value} is not a {bits}-bit non-negative Snowflake")
    sequence = value & layout.max_sequence
    machine = value >> layout.sequence_bits & layout.max_machine
    worker_bits = layout.machine_bits - layout.datacenter_bits
    return SnowflakeParts(
        value=value,
        timestamp_ms=(value >> (layout.sequence_bits + layout.machine_bits)) + layout.epoch_ms,
        machine=machine,
        datacenter=machine >> worker_bits,
        worker=machine & ((1 << worker_bits) - 1),
        sequence=sequence,
        epoch_ms=layout.epoch_ms,
    )


class SnowflakeSequencer:
    """Sans-IO core: the next ID for a clock reading, or ``None`` when the ms is used up."""

    def __init__(self, machine: int, layout: SnowflakeLayout = TWITTER, floor_ms: int = -1) -> None:
        if not 0 <= machine <= layout.max_machine:
            raise InvalidIdError(f"machine id {machine} does not fit {layout.machine_bits} bits")
        self.layout = layout
        self.machine = machine
        self.last_ms = floor_ms
        self.sequence = layout.max_sequence  # the floor's millisecond counts as used up
        self._machine_field = machine << layout.sequence_bits
        self._shift = layout.machine_bits + layout.sequence_bits
        self._limit = 1 << layout.timestamp_bits

    def issue(self, now_ms: int) -> int | None:
        last = self.last_ms
        if now_ms == last:
            sequence = self.sequence + 1
            if sequence > self.layout.max_sequence:
                return None
        elif now_ms > last:
            sequence = 0
        else:
            raise ClockMovedBackwardsError(last, now_ms)
        t = now_ms - self.layout.epoch_ms
        if t < 0 or t >= self._limit:
            raise TimestampRangeError(
                f"time {now_ms} ms is outside the {self.layout.timestamp_bits}-bit range after "
                f"epoch {self.layout.epoch_ms}"
            )
        self.last_ms = now_ms
        self.sequence = sequence
        return t << self._shift | self._machine_field | sequence
