"""KSUID (codex 6.2; segmentio/ksuid): 32-bit seconds since 1400000000 + 128-bit payload.

20 bytes, big-endian; the text is the value in base62 (digits, upper, lower), always 27
characters, so text order is value order. Time has one-second resolution and the payload is
fully random, so KSUIDs made in the same second have no order among themselves: the coarser
k-ordering that experiment ``ids.k_ordering`` measures. :class:`Ksuid` is an ``int`` of 160
bits whose ``str`` is the base62 text.
"""

from __future__ import annotations

from typing import Final

from archlab.ids import base62
from archlab.ids.entropy import DEFAULT_ENTROPY, Clock, Entropy, system_clock_ms
from archlab.ids.errors import InvalidIdError, TimestampRangeError

EPOCH_S: Final = 1_400_000_000
PAYLOAD_BITS: Final = 128
MAX_VALUE: Final = (1 << 160) - 1
_PAYLOAD_MASK: Final = (1 << 128) - 1
_int_new = int.__new__


class Ksuid(int):
    """A KSUID: a 160-bit int whose ``str`` is its 27-character base62 text."""

    __slots__ = ()

    def __new__(cls, value: int) -> Ksuid:
        if not 0 <= value <= MAX_VALUE:
            raise InvalidIdError(f"a KSUID is a 160-bit unsigned value, got {value}")
        return _int_new(cls, value)

    @classmethod
    def parse(cls, text: str) -> Ksuid:
        """Strictly decode 27 base62 characters whose value fits in 160 bits."""
        try:
            return _int_new(cls, base62.decode(text, 27, 160))
        except ValueError as exc:
            raise InvalidIdError(f"invalid KSUID: {exc}") from None

    @classmethod
    def from_parts(cls, unix_seconds: int, payload: int | bytes) -> Ksuid:
        offset = unix_seconds - EPOCH_S
        if not 0 <= offset < 1 << 32:
            raise InvalidIdError(f"KSUID time {unix_seconds} is outside 1400000000 + 32 bits")
        if isinstance(payload, bytes):
            if len(payload) != 16:
                raise InvalidIdError(f"a KSUID payload is 16 bytes, got {len(payload)}")
            payload = int.from_bytes(payload, "big")
        if not 0 <= payload <= _PAYLOAD_MASK:
            raise InvalidIdError("a KSUID payload is 128 bits")
        return _int_new(cls, offset << PAYLOAD_BITS | payload)

    @classmethod
    def from_bytes20(cls, data: bytes) -> Ksuid:
        if len(data) != 20:
            raise InvalidIdError(f"a KSUID is 20 bytes, got {len(data)}")
        return _int_new(cls, int.from_bytes(data, "big"))

    @property
    def timestamp(self) -> int:
        """Seconds since the KSUID epoch (1400000000), as stored."""
        return int(self) >> PAYLOAD_BITS

    @property
    def unix_seconds(self) -> int:
        return (int(self) >> PAYLOAD_BITS) + EPOCH_S

    @property
    def payload(self) -> int:
        return int(self) & _PAYLOAD_MASK

    def to_bytes20(self) -> bytes:
        return int(self).to_bytes(20, "big")

    def __str__(self) -> str:
        return base62.encode27(int(self))

    def __repr__(self) -> str:
        return f"Ksuid({base62.encode27(int(self))!r})"


class KsuidGenerator:
    """Issues KSUIDs: the clock's whole seconds and 16 fresh random bytes each."""

    def __init__(self, *, clock: Clock | None = None, entropy: Entropy | None = None) -> None:
        self._clock = clock or system_clock_ms
        self._take16 = (entropy or DEFAULT_ENTROPY).source(16)

    def _value(self) -> int:
        offset = self._clock() // 1000 - EPOCH_S
        if offset >> 32 or offset < 0:
            raise TimestampRangeError(
                f"clock reads {offset + EPOCH_S} s, outside a KSUID's 32 bits after 1400000000"
            )
        return offset << PAYLOAD_BITS | int.from_bytes(self._take16(), "big")

    def new(self) -> Ksuid:
        return _int_new(Ksuid, self._value())

    def new_str(self) -> str:
        return base62.encode27(self._value())
