"""Crockford base32, as ULID uses it (codex 6.2; ulid/spec): encoding tables and strict decoding.

The alphabet is ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (no I, L, O, U). Encoding works on 10-bit
groups through a table of the 1024 two-character strings, so a 26-character ULID is 13 lookups.
Decoding is strict: it accepts upper or lower case, rejects every other character (including the
I/L/O aliases some Crockford decoders accept) and, for ULIDs, a first character above ``7``
(26 characters carry 130 bits, a ULID only 128). Valid text is translated to Python's own
base-32 digits and converted by ``int(text, 32)`` in C.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: ``PAIRS[v]`` is the two-character encoding of the 10-bit value ``v``.
PAIRS: tuple[str, ...] = tuple(a + b for a in ALPHABET for b in ALPHABET)
#: ``LOW5[b]`` is the character for the low five bits of byte ``b`` (for ``bytes.translate``).
LOW5 = bytes(ord(ALPHABET[b & 31]) for b in range(256))

_PY_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_TO_PY = str.maketrans(
    {c: _PY_DIGITS[i] for i, c in enumerate(ALPHABET)}
    | {c.lower(): _PY_DIGITS[i] for i, c in enumerate(ALPHABET)}
)
_VALID_CHAR = "0-9A-HJKMNP-TV-Za-hjkmnp-tv-z"
_ULID_TEXT = re.compile(f"[0-7][{_VALID_CHAR}]{{25}}")
_ANY_TEXT = re.compile(f"[{_VALID_CHAR}]*")


def encode_ulid(value: int) -> str:
    """The 26-character encoding of a 128-bit value (the top character holds 3 bits)."""
    p = PAIRS
    return "".join(
        (
            p[value >> 120],
            p[(value >> 110) & 1023],
            p[(value >> 100) & 1023],
            p[(value >> 90) & 1023],
            p[(value >> 80) & 1023],
            p[(value >> 70) & 1023],
            p[(value >> 60) & 1023],
            p[(value >> 50) & 1023],
            p[(value >> 40) & 1023],
            p[(value >> 30) & 1023],
            p[(value >> 20) & 1023],
            p[(value >> 10) & 1023],
            p[value & 1023],
        )
    )


def encode_time(ms: int) -> str:
    """The 10 characters of a 48-bit millisecond timestamp (a ULID's first 10 characters)."""
    p = PAIRS
    return (
        p[(ms >> 40) & 1023]
        + p[(ms >> 30) & 1023]
        + p[(ms >> 20) & 1023]
        + p[(ms >> 10) & 1023]
        + p[ms & 1023]
    )


def encode_bits(value: int, chars: int) -> str:
    """``value`` as exactly ``chars`` characters (``chars`` even), most significant first."""
    p = PAIRS
    return "".join([p[(value >> (5 * k)) & 1023] for k in range(chars - 2, -2, -2)])


def decode_ulid(text: str) -> int:
    """The 128-bit value of a 26-character ULID string; :class:`ValueError` says what is wrong."""
    if _ULID_TEXT.fullmatch(text):
        return int(text.translate(_TO_PY), 32)
    raise ValueError(_explain(text))


def _explain(text: str) -> str:
    if len(text) != 26:
        return f"a ULID has 26 characters, {text!r} has {len(text)}"
    if not _ANY_TEXT.fullmatch(text):
        for i, c in enumerate(text):
            if not _ANY_TEXT.fullmatch(c):
                return f"character {c!r} at position {i} is not Crockford base32 ({ALPHABET})"
    return f"first character {text[0]!r} is above '7': the value would exceed 128 bits"
