"""ULID (codex 6.2; ulid/spec): 48-bit Unix-millisecond time + 80 random bits, 26 characters.

:class:`Ulid` is the value: an ``int`` of 128 bits whose ``str`` is the Crockford base32 text,
so values compare, hash and sort as numbers, which is also their text order.
:class:`UlidGenerator` issues them, in one of two modes:

- **monotonic** (the default, the spec's "monotonicity" section): the first ULID of a
  millisecond takes 80 fresh random bits; each further ULID in the same millisecond is the
  previous one plus one in the random part, with carries. If the clock reads earlier than the
  last timestamp used, the last timestamp is kept and the random part incremented (as the
  reference implementation, ulid/javascript, does), so a ULID never sorts before the previous
  one. When the random part would pass 2**80 - 1 the generator raises
  :class:`MonotonicOverflowError`, as the spec requires.
  A lock makes this safe to share between threads.
- **random**: every ULID takes fresh random bits; no order within a millisecond.

Hot path: the random part is held as its high 70 bits and low 10 bits; the text of the
timestamp and of the high bits is cached, so a ULID in the same millisecond is one increment,
one table lookup and one string concatenation. In random mode the 16 random characters come
from 16 random bytes through ``bytes.translate`` (the low five bits of each byte), which spends
128 random bits for 80 but runs in C.
"""

from __future__ import annotations

import threading
from typing import Final

from archlab.ids import crockford
from archlab.ids.entropy import DEFAULT_ENTROPY, Clock, Entropy, system_clock_ms
from archlab.ids.errors import InvalidIdError, MonotonicOverflowError, TimestampRangeError

RANDOM_BITS: Final = 80
TIME_BITS: Final = 48
MAX_VALUE: Final = (1 << 128) - 1
_LOW_MASK: Final = (1 << 80) - 1
_int_new = int.__new__


class Ulid(int):
    """A ULID: a 128-bit int whose ``str`` is its 26-character Crockford base32 text."""

    __slots__ = ()

    def __new__(cls, value: int) -> Ulid:
        if not 0 <= value <= MAX_VALUE:
            raise InvalidIdError(f"a ULID is a 128-bit unsigned value, got {value}")
        return _int_new(cls, value)

    @classmethod
    def parse(cls, text: str) -> Ulid:
        """Strictly decode a 26-character ULID (either case; no I, L, O, U; first char ≤ 7)."""
        try:
            return _int_new(cls, crockford.decode_ulid(text))
        except ValueError as exc:
            raise InvalidIdError(f"invalid ULID: {exc}") from None

    @classmethod
    def from_parts(cls, timestamp_ms: int, randomness: int) -> Ulid:
        if not 0 <= timestamp_ms < 1 << TIME_BITS:
            raise InvalidIdError(f"ULID timestamp {timestamp_ms} does not fit in 48 bits")
        if not 0 <= randomness <= _LOW_MASK:
            raise InvalidIdError(f"ULID randomness {randomness} does not fit in 80 bits")
        return _int_new(cls, timestamp_ms << RANDOM_BITS | randomness)

    @classmethod
    def from_bytes16(cls, data: bytes) -> Ulid:
        if len(data) != 16:
            raise InvalidIdError(f"a ULID is 16 bytes, got {len(data)}")
        return _int_new(cls, int.from_bytes(data, "big"))

    @property
    def timestamp_ms(self) -> int:
        return int(self) >> RANDOM_BITS

    @property
    def randomness(self) -> int:
        return int(self) & _LOW_MASK

    def to_bytes16(self) -> bytes:
        return int(self).to_bytes(16, "big")

    def __str__(self) -> str:
        return crockford.encode_ulid(int(self))

    def __repr__(self) -> str:
        return f"Ulid({crockford.encode_ulid(int(self))!r})"


class UlidGenerator:
    """Issues ULIDs from an injectable clock and entropy; monotonic by default (module doc)."""

    def __init__(
        self,
        *,
        monotonic: bool = True,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
    ) -> None:
        self.monotonic = monotonic
        self._clock = clock or system_clock_ms
        source = entropy or DEFAULT_ENTROPY
        self._take10 = source.source(10)
        self._take16 = source.source(16)
        self._lock = threading.Lock()
        # Monotonic state: last timestamp, random part split as hi (70 bits) and lo (10 bits).
        self._ms = -(1 << 62)  # below any clock reading, so the first call draws fresh bits
        self._hi = 0
        self._lo = 0
        self._base = 0  # ms << 80 | hi << 10
        self._head: str | None = None  # text of ms and hi: the first 24 characters
        # Random mode: the text of the last timestamp seen, as one tuple (atomic to swap).
        self._time_text: tuple[int, str] = (-(1 << 62), "")

    def new(self) -> Ulid:
        """The next ULID as a :class:`Ulid`."""
        ms = self._clock()
        if not self.monotonic:
            if ms >> TIME_BITS or ms < 0:
                raise _out_of_range(ms)
            return _int_new(Ulid, ms << RANDOM_BITS | int.from_bytes(self._take10(), "big"))
        with self._lock:
            if ms > self._ms:
                self._fresh(ms)
                return _int_new(Ulid, self._base | self._lo)
            lo = self._lo + 1
            if lo > 1023:
                self._carry()
                lo = 0
            self._lo = lo
            return _int_new(Ulid, self._base | lo)

    def new_str(self) -> str:
        """The next ULID as its 26-character text (the fast path)."""
        ms = self._clock()
        if not self.monotonic:
            cached = self._time_text
            if cached[0] != ms:
                if ms >> TIME_BITS or ms < 0:
                    raise _out_of_range(ms)
                cached = self._time_text = (ms, crockford.encode_time(ms))
            return cached[1] + self._take16().translate(crockford.LOW5).decode("ascii")
        with self._lock:
            if ms > self._ms:
                self._fresh(ms)
                lo = self._lo
            else:
                lo = self._lo + 1
                if lo > 1023:
                    self._carry()
                    lo = 0
                self._lo = lo
            head = self._head
            if head is None:
                head = self._head = crockford.encode_time(self._ms) + crockford.encode_bits(
                    self._hi, 14
                )
            return head + crockford.PAIRS[lo]

    def _fresh(self, ms: int) -> None:
        if ms >> TIME_BITS or ms < 0:
            raise _out_of_range(ms)
        r = int.from_bytes(self._take10(), "big")
        self._ms = ms
        self._hi = r >> 10
        self._lo = r & 1023
        self._base = ms << RANDOM_BITS | (r & ~1023)
        self._head = None

    def _carry(self) -> None:
        hi = self._hi + 1
        if hi >> 70:
            raise MonotonicOverflowError(
                f"the random part of ULIDs at {self._ms} ms would pass 2**80 - 1; "
                "no further monotonic ULID exists in this millisecond"
            )
        self._hi = hi
        self._base = self._ms << RANDOM_BITS | hi << 10
        self._head = None


def _out_of_range(ms: int) -> TimestampRangeError:
    return TimestampRangeError(f"clock reads {ms} ms, outside a ULID's 48-bit timestamp")
