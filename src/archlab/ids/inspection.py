"""Recognise an identifier's kind from its text and split it into parts (codex 6.2).

Detection is by shape, and the shapes do not overlap:

- 36 characters in 8-4-4-4-12 hex groups, or 32 hex digits: a UUID (version 4 or 7 read);
- 26 characters: a ULID (strict Crockford base32);
- 27 characters: a KSUID (base62);
- 1 to 19 decimal digits: a Snowflake.

A 26- or 27-character string of digits is therefore read as a ULID or KSUID, never as a number
(it would not fit 63 bits anyway). The one real ambiguity is a decimal number: any integer
below 2**63 decodes as *some* Snowflake, and nothing in the number says which epoch or layout
made it. archlab reads every such number as a Snowflake under ``epoch_ms`` (Twitter's by
default) and reports ``plausible``: whether the decoded time lies between the epoch and one day
past the inspecting machine's clock. An implausible time is reported, not refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from archlab.ids.errors import InvalidIdError
from archlab.ids.ksuid import Ksuid
from archlab.ids.snowflake import TWITTER, SnowflakeLayout, parse_snowflake
from archlab.ids.ulid import Ulid
from archlab.ids.uuids import parse_uuid, uuid_parts

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Inspection:
    """What an identifier is made of; ``fields`` holds the kind-specific parts."""

    kind: str
    canonical: str
    timestamp_ms: int | None
    fields: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.canonical,
            "timestamp_ms": self.timestamp_ms,
            "time": _iso(self.timestamp_ms),
            **self.fields,
            "notes": list(self.notes),
        }


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inspect_id(
    text: str, *, epoch_ms: int = TWITTER.epoch_ms, now_ms: int | None = None
) -> Inspection:
    """Detect the kind of ``text`` and split it; :class:`InvalidIdError` if it is none of them."""
    text = text.strip()
    if not text:
        raise InvalidIdError("empty identifier")
    n = len(text)
    if n in (32, 36):
        return _uuid(text)
    if n == 26:
        return _ulid(text)
    if n == 27:
        return _ksuid(text)
    if text.isascii() and text.isdigit():
        if n > 19 or int(text) >= 1 << 63:
            raise InvalidIdError(f"{text} is a number above 2**63 - 1, too large for a Snowflake")
        return _snowflake(text, epoch_ms, now_ms)
    raise InvalidIdError(
        f"{text!r} ({n} characters) is not a ULID (26), KSUID (27), UUID (36 or 32 hex) or "
        "Snowflake (a decimal integer)"
    )


def _uuid(text: str) -> Inspection:
    parts = uuid_parts(parse_uuid(text))
    width = 122 if parts.version == 4 else 74
    fields: dict[str, Any] = {
        "version": parts.version,
        "variant": "RFC 9562 (10)",
        "random_hex": f"{parts.random:0{(width + 3) // 4}x}",
    }
    if parts.version == 7:
        fields |= {"rand_a": parts.rand_a, "rand_b_hex": f"{parts.rand_b:016x}"}
    return Inspection(f"uuid{parts.version}", str(parts.value), parts.timestamp_ms, fields)


def _ulid(text: str) -> Inspection:
    u = Ulid.parse(text)
    return Inspection("ulid", str(u), u.timestamp_ms, {"random_hex": f"{u.randomness:020x}"})


def _ksuid(text: str) -> Inspection:
    k = Ksuid.parse(text)
    return Inspection(
        "ksuid",
        str(k),
        k.unix_seconds * 1000,
        {
            "timestamp_s": k.unix_seconds,
            "ksuid_timestamp": k.timestamp,
            "payload_hex": f"{k.payload:032x}",
            "raw_hex": k.to_bytes20().hex().upper(),
        },
        ("KSUID time has one-second resolution: timestamp_ms is the second × 1000",),
    )


def _snowflake(text: str, epoch_ms: int, now_ms: int | None) -> Inspection:
    layout = SnowflakeLayout(epoch_ms=epoch_ms)
    p = parse_snowflake(int(text), layout)
    if now_ms is None:
        now_ms = int(dt.datetime.now(tz=dt.UTC).timestamp() * 1000)
    plausible = epoch_ms <= p.timestamp_ms <= now_ms + _DAY_MS
    notes = [f"read as a Snowflake with epoch {epoch_ms} ms and the 41/10/12-bit layout"]
    if not plausible:
        notes.append(
            "its time is after tomorrow: probably another epoch or not a Snowflake (see --epoch)"
        )
    return Inspection(
        "snowflake",
        text.lstrip("0") or "0",
        p.timestamp_ms,
        {
            "machine": p.machine,
            "datacenter": p.datacenter,
            "worker": p.worker,
            "sequence": p.sequence,
            "epoch_ms": epoch_ms,
            "plausible": plausible,
        },
        tuple(notes),
    )
