"""UUIDv4 and UUIDv7 per RFC 9562 (codex 6.2), returned as standard :class:`uuid.UUID` objects.

UUIDv4 (§5.4): 122 random bits, version 4, variant ``10``.

UUIDv7 (§5.7): 48-bit big-endian Unix milliseconds, version 7, 12 bits ``rand_a``, variant
``10``, 62 bits ``rand_b``. Order within a millisecond follows RFC 9562 §6.2 **Method 1, a
fixed bit-length dedicated counter**, 42 bits long: the counter occupies ``rand_a`` (its high
12 bits) and the top 30 bits of ``rand_b``; the remaining 32 bits of ``rand_b`` are fresh
random bits in every UUID. At each new millisecond the counter is seeded with 41 random bits,
its top bit left at zero as the §6.2 rollover guard, so at least 2**41 further UUIDs fit in the
millisecond. Should the counter still pass 2**42 - 1, the generator moves its timestamp one
millisecond ahead of the clock and reseeds (the §6.2 rollover option that keeps order); if the
clock reads earlier than the last timestamp used, the last timestamp is kept and the counter
incremented (§6.2 "monotonic error checking": every UUID is greater than the one before).

Hot path: the text of the 64 high bits (timestamp, version, ``rand_a``) is cached while they do
not change; a UUID in the same millisecond formats only its low 64 bits. ``uuid.UUID`` objects
are built without re-validating the bits this module has just set (the same shortcut CPython
3.14's ``uuid`` module takes internally).
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from typing import Final

from archlab.ids.entropy import DEFAULT_ENTROPY, Clock, Entropy, system_clock_ms
from archlab.ids.errors import InvalidIdError, TimestampRangeError

COUNTER_BITS: Final = 42
_COUNTER_MAX: Final = (1 << COUNTER_BITS) - 1
_V4_CLEAR: Final = ~(0xF << 76 | 0x3 << 62)
_V4_SET: Final = 4 << 76 | 2 << 62
_V7_VERSION: Final = 7 << 12  # in the third group of the text, with rand_a below it
_VARIANT_B: Final = 2 << 62
_LOW30: Final = (1 << 30) - 1
_LOW32: Final = (1 << 32) - 1
_SEED_MASK: Final = (1 << 41) - 1  # seeds leave the counter's top bit clear
_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")

_object_new = object.__new__
_UUID = uuid.UUID
_UNKNOWN = uuid.SafeUUID.unknown
# uuid.UUID forbids attribute assignment; its slot descriptors set the two fields directly.
_set_int = _UUID.__dict__["int"].__set__
_set_safe = _UUID.__dict__["is_safe"].__set__


def _uuid(value: int) -> uuid.UUID:
    u: uuid.UUID = _object_new(_UUID)
    _set_int(u, value)
    _set_safe(u, _UNKNOWN)
    return u


class Uuid4Generator:
    """Random UUIDs (RFC 9562 §5.4) from the injected entropy."""

    def __init__(self, *, entropy: Entropy | None = None) -> None:
        self._take16 = (entropy or DEFAULT_ENTROPY).source(16)

    def new(self) -> uuid.UUID:
        return _uuid(int.from_bytes(self._take16(), "big") & _V4_CLEAR | _V4_SET)

    def new_str(self) -> str:
        h = f"{int.from_bytes(self._take16(), 'big') & _V4_CLEAR | _V4_SET:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Uuid7Generator:
    """Time-ordered UUIDs (RFC 9562 §5.7), monotonic by §6.2 Method 1 (module doc)."""

    def __init__(self, *, clock: Clock | None = None, entropy: Entropy | None = None) -> None:
        self._clock = clock or system_clock_ms
        self._take10 = (entropy or DEFAULT_ENTROPY).source(10)
        self._lock = threading.Lock()
        self._ms = -(1 << 62)
        self._counter = _COUNTER_MAX  # forces a seed at the first call
        self._head: tuple[int, str] = (-1, "")  # (high 64 bits, their text "xxxxxxxx-xxxx-7xxx-")

    # new() and new_str() repeat the same-millisecond step inline: it is the hot path, and a
    # shared helper would cost a call per UUID. The rarer steps live in _step_slow.
    def new(self) -> uuid.UUID:
        ms = self._clock()
        r = int.from_bytes(self._take10(), "big")
        with self._lock:
            counter = self._counter + 1
            if ms <= self._ms and counter <= _COUNTER_MAX:
                ms = self._ms
                self._counter = counter
            else:
                ms, counter = self._step_slow(ms, r)
        u: uuid.UUID = _object_new(_UUID)
        _set_int(
            u,
            (ms << 16 | _V7_VERSION | counter >> 30) << 64
            | _VARIANT_B
            | (counter & _LOW30) << 32
            | r & _LOW32,
        )
        _set_safe(u, _UNKNOWN)
        return u

    def new_str(self) -> str:
        ms = self._clock()
        r = int.from_bytes(self._take10(), "big")
        with self._lock:
            counter = self._counter + 1
            if ms <= self._ms and counter <= _COUNTER_MAX:
                ms = self._ms
                self._counter = counter
            else:
                ms, counter = self._step_slow(ms, r)
        high = ms << 16 | _V7_VERSION | counter >> 30
        head = self._head
        if head[0] != high:
            h = f"{high:016x}"
            head = self._head = (high, f"{h[:8]}-{h[8:12]}-{h[12:]}-")
        t = f"{_VARIANT_B | (counter & _LOW30) << 32 | r & _LOW32:016x}"
        return f"{head[1]}{t[:4]}-{t[4:]}"

    def _step_slow(self, ms: int, r: int) -> tuple[int, int]:
        """A new millisecond (seed the counter) or a counter rollover; under the lock."""
        if ms > self._ms:
            if ms >> 48 or ms < 0:
                raise TimestampRangeError(f"clock reads {ms} ms, outside UUIDv7's 48 bits")
            self._ms = ms
        else:  # §6.2 rollover: run the timestamp one millisecond ahead of the clock
            ms = self._ms = self._ms + 1
        counter = self._counter = r >> 32 & _SEED_MASK
        return ms, counter


@dataclass(frozen=True)
class UuidParts:
    """The fields of an RFC 9562 UUID of version 4 or 7."""

    value: uuid.UUID
    version: int
    variant: int  # the two variant bits: 0b10 for RFC 9562
    timestamp_ms: int | None  # version 7 only
    rand_a: int | None  # version 7: 12 bits after the version
    rand_b: int | None  # version 7: the 62 bits after the variant
    random: int  # every bit that is neither version, variant nor timestamp


def parse_uuid(text: str) -> uuid.UUID:
    """Strictly parse the 36-character hyphenated form (or 32 bare hex digits), any case."""
    if _TEXT.fullmatch(text):
        return _uuid(int(text.replace("-", ""), 16))
    if _HEX32.fullmatch(text):
        return _uuid(int(text, 16))
    raise InvalidIdError(
        f"invalid UUID {text!r}: expected 8-4-4-4-12 hexadecimal digits or 32 hex digits"
    )


def uuid_parts(value: uuid.UUID) -> UuidParts:
    """Split a version 4 or 7 UUID into its fields; other versions and variants are errors."""
    v = value.int
    variant = v >> 62 & 0b11
    version = v >> 76 & 0xF
    if variant != 0b10:
        raise InvalidIdError(f"{value} does not have the RFC 9562 variant (bits 10)")
    if version == 4:
        random = (v >> 80) << 74 | (v >> 64 & 0xFFF) << 62 | v & ((1 << 62) - 1)
        return UuidParts(value, 4, variant, None, None, None, random)
    if version == 7:
        rand_a = v >> 64 & 0xFFF
        rand_b = v & ((1 << 62) - 1)
        return UuidParts(value, 7, variant, v >> 80, rand_a, rand_b, rand_a << 62 | rand_b)
    raise InvalidIdError(f"{value} is UUID version {version}; archlab reads versions 4 and 7")


def uuid7_from_parts(timestamp_ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """Assemble a UUIDv7 from its fields (for examples and tests)."""
    if not 0 <= timestamp_ms < 1 << 48 or not 0 <= rand_a < 1 << 12 or not 0 <= rand_b < 1 << 62:
        raise InvalidIdError("UUIDv7 fields out of range (48, 12 and 62 bits)")
    return _uuid(timestamp_ms << 80 | 7 << 76 | rand_a << 64 | _VARIANT_B | rand_b)
