"""Distributed ID generation (codex 6.2): UUIDv4/v7, Snowflake, ULID and KSUID.

Each generator is real and follows its specification (RFC 9562; Twitter's Snowflake layout;
ulid/spec; segmentio/ksuid), with parsing and inspection, an injectable clock and entropy, and
a fast path for text (``new_str``) beside the value (``new``)::

    from archlab.ids import UlidGenerator, Ulid
    gen = UlidGenerator()            # monotonic within a millisecond
    text = gen.new_str()             # '01J...' (26 characters)
    Ulid.parse(text).timestamp_ms

Snowflake machine ids can be leased from a coordination service (:mod:`archlab.ids.lease`,
sans-IO); :mod:`archlab.ids.kordering` measures how time-ordered each scheme is across
machines (experiment ``ids.k_ordering``); ``archlab id`` and ``archlab bench ids`` are the
commands.
"""

from archlab.ids.entropy import Entropy, FixedEntropy, SeededEntropy, SystemEntropy
from archlab.ids.errors import (
    ClockMovedBackwardsError,
    IdGenerationError,
    InvalidIdError,
    MonotonicOverflowError,
    NoMachineIdError,
    TimestampRangeError,
)
from archlab.ids.generators import KINDS, IdGenerator, make_generator
from archlab.ids.inspection import Inspection, inspect_id
from archlab.ids.ksuid import Ksuid, KsuidGenerator
from archlab.ids.lease import (
    LeasedSnowflake,
    LeaseGrant,
    LeaseHolder,
    LeaseRefusal,
    LeaseRequest,
    LeaseService,
)
from archlab.ids.snowflake import (
    TWITTER,
    SnowflakeLayout,
    SnowflakeParts,
    SnowflakeSequencer,
    parse_snowflake,
)
from archlab.ids.snowflake_generator import SnowflakeGenerator
from archlab.ids.ulid import Ulid, UlidGenerator
from archlab.ids.uuids import Uuid4Generator, Uuid7Generator, parse_uuid, uuid_parts

__all__ = [
    "KINDS",
    "TWITTER",
    "ClockMovedBackwardsError",
    "Entropy",
    "FixedEntropy",
    "IdGenerationError",
    "IdGenerator",
    "Inspection",
    "InvalidIdError",
    "Ksuid",
    "KsuidGenerator",
    "LeaseGrant",
    "LeaseHolder",
    "LeaseRefusal",
    "LeaseRequest",
    "LeaseService",
    "LeasedSnowflake",
    "MonotonicOverflowError",
    "NoMachineIdError",
    "SeededEntropy",
    "SnowflakeGenerator",
    "SnowflakeLayout",
    "SnowflakeParts",
    "SnowflakeSequencer",
    "SystemEntropy",
    "TimestampRangeError",
    "Ulid",
    "UlidGenerator",
    "Uuid4Generator",
    "Uuid7Generator",
    "inspect_id",
    "make_generator",
    "parse_snowflake",
    "parse_uuid",
    "uuid_parts",
]
