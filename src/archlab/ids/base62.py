"""Fixed-width base62 as KSUID uses it (codex 6.2; segmentio/ksuid): digits, upper, lower.

The alphabet is in ASCII order, so fixed-width strings sort like the numbers they encode.
Encoding divides by 62² = 3844 and looks the remainder up in a table of the 3844
two-character strings (14 divisions for 27 characters); decoding reads two characters at a time
through the inverse table. Decoding is strict: exactly the expected width, only alphabet
characters, and a value that fits the given number of bits.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS: tuple[str, ...] = tuple(a + b for a in ALPHABET for b in ALPHABET)
_PAIR_VALUE: dict[str, int] = {pair: i for i, pair in enumerate(_PAIRS)}
_DIGIT_VALUE: dict[str, int] = {c: i for i, c in enumerate(ALPHABET)}


def encode27(value: int) -> str:
    """The 27-character encoding of a value below 62**27 (a KSUID's 160 bits fit)."""
    p = _PAIRS
    value, r0 = divmod(value, 3844)
    value, r1 = divmod(value, 3844)
    value, r2 = divmod(value, 3844)
    value, r3 = divmod(value, 3844)
    value, r4 = divmod(value, 3844)
    value, r5 = divmod(value, 3844)
    value, r6 = divmod(value, 3844)
    value, r7 = divmod(value, 3844)
    value, r8 = divmod(value, 3844)
    value, r9 = divmod(value, 3844)
    value, r10 = divmod(value, 3844)
    value, r11 = divmod(value, 3844)
    value, r12 = divmod(value, 3844)
    if value >= 62:
        raise ValueError("value does not fit in 27 base62 characters")
    return "".join(
        (
            ALPHABET[value],
            p[r12],
            p[r11],
            p[r10],
            p[r9],
            p[r8],
            p[r7],
            p[r6],
            p[r5],
            p[r4],
            p[r3],
            p[r2],
            p[r1],
            p[r0],
        )
    )


def decode(text: str, width: int, bits: int) -> int:
    """The value of exactly ``width`` base62 characters, which must fit in ``bits`` bits."""
    if len(text) != width:
        raise ValueError(f"expected {width} base62 characters, {text!r} has {len(text)}")
    value = 0
    start = width % 2
    if start:
        digit = _DIGIT_VALUE.get(text[0])
        if digit is None:
            raise ValueError(_bad_char(text))
        value = digit
    pairs = _PAIR_VALUE
    for i in range(start, width, 2):
        pair = pairs.get(text[i : i + 2])
        if pair is None:
            raise ValueError(_bad_char(text))
        value = value * 3844 + pair
    if value >> bits:
        raise ValueError(f"{text!r} encodes a value above {bits} bits")
    return value


def _bad_char(text: str) -> str:
    for i, c in enumerate(text):
        if c not in _DIGIT_VALUE:
            return f"character {c!r} at position {i} is not base62 (0-9, A-Z, a-z)"
    return f"{text!r} is not base62"  # pragma: no cover - only reached with a bad char
