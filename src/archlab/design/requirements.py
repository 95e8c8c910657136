"""The numeric requirements an estimate starts from (codex 2.1 and 2.2).

Requirement clarification (2.1) fixes the scale: daily active users, how often each one
reads and writes, how big those payloads are, how long data is kept, how spiky traffic is,
how many copies are stored, and the availability and latency targets. :data:`FIELDS` lists
them once, with their units and defaults; the ``archlab estimate`` flags, the keys of a YAML
requirements file and the ``requirements`` section of a design all come from this list, so
the three can never disagree.

Defaults (documented in ``archlab estimate --help``) are deliberately ordinary: 1M DAU, 10
reads and 1 write per user per day of 1 KB each, 5 years of retention, a peak three times the
daily average, three replicas, 99.9% availability, no latency target, 1,000 QPS per server,
and a hot set of 20% of a day's reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from archlab.design import units
from archlab.errors import ConfigError

Parser = Callable[[units.Number, str], float]


@dataclass(frozen=True)
class Field:
    """One requirement: its name (the YAML key; the flag is ``--`` + dashes), unit and default."""

    name: str
    parse: Parser
    default: float | None
    unit: str
    help: str
    example: str
    minimum: float = 0.0
    strictly_positive: bool = False
    maximum: float | None = None
    integer: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, raw: Any, where: str) -> float:
        """Parse ``raw`` (text or number) and check its range; ``where`` names the source."""
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ConfigError(
                f"{where}: expected {self.unit_phrase}, found {type(raw).__name__} {raw!r}"
            )
        value = self.parse(raw, where)
        if self.strictly_positive and value <= 0:
            raise ConfigError(f"{where}: expected a value > 0, found {raw!r}")
        if value < self.minimum:
            raise ConfigError(f"{where}: expected a value ≥ {self.minimum:g}, found {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{where}: expected a value ≤ {self.maximum:g}, found {raw!r}")
        if self.integer and value != int(value):
            raise ConfigError(f"{where}: expected a whole number, found {raw!r}")
        return value

    @property
    def unit_phrase(self) -> str:
        return f"{self.unit} (e.g. {self.example})"


def _count(value: units.Number, what: str) -> float:
    return units.parse_count(value, what)


def _availability(value: units.Number, what: str) -> float:
    result = units.parse_fraction(value, what)
    if result >= 1:
        raise ConfigError(
            f"{what}: expected a target below 100% (100% allows no downtime at all), "
            f"found {value!r}"
        )
    return result


FIELDS: tuple[Field, ...] = (
    Field("dau", _count, 1e6, "daily active users", "Daily active users.", "10M",
          strictly_positive=True),
    Field("reads_per_user_per_day", _count, 10, "reads per user per day",
          "Read requests each active user makes per day.", "20"),
    Field("writes_per_user_per_day", _count, 1, "writes per user per day",
          "Write requests each active user makes per day.", "2"),
    Field("read_size", units.parse_size, 1000, "bytes per read",
          "Payload returned by one read (KB = 1000 bytes, KiB = 1024).", "1KB"),
    Field("write_size", units.parse_size, 1000, "bytes per write",
          "Payload stored by one write, before replication.", "1KB"),
    Field("retention", units.parse_duration, 5 * units.SECONDS_PER_YEAR, "seconds",
          "How long written data is kept (y = 365 days).", "5y", strictly_positive=True),
    Field("peak_factor", units.parse_count, 3, "peak / average",
          "Peak traffic as a multiple of the daily average.", "3", minimum=1),
    Field("replication", units.parse_count, 3, "copies",
          "Copies of every byte stored.", "3", minimum=1, integer=True),
    Field("availability", _availability, 0.999, "fraction of time up",
          "Availability target.", "99.99%", strictly_positive=True),
    Field("latency_ms", units.parse_latency_ms, None, "milliseconds",
          "Latency target (e.g. p99) for user requests; none by default.", "100",
          strictly_positive=True),
    Field("server_qps", units.parse_rate, 1000, "requests per second per server",
          "Requests one application server handles at the stated latency.", "2k",
          strictly_positive=True),
    Field("cache_fraction", units.parse_fraction, 0.2, "fraction of a day's reads",
          "Hot set to keep in memory, as a share of one day's read volume.", "20%"),
)  # fmt: skip
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class Requirements:
    """Numeric requirements in base units (bytes, seconds, fractions, milliseconds)."""

    dau: float = 1e6
    reads_per_user_per_day: float = 10
    writes_per_user_per_day: float = 1
    read_size: float = 1000
    write_size: float = 1000
    retention: float = 5 * units.SECONDS_PER_YEAR
    peak_factor: float = 3
    replication: float = 3
    availability: float = 0.999
    latency_ms: float | None = None
    server_qps: float = 1000
    cache_fraction: float = 0.2
    #: Names of the fields the user gave (the rest are defaults), for display.
    given: frozenset[str] = frozenset()

    @property
    def retention_days(self) -> float:
        return self.retention / units.SECONDS_PER_DAY

    def as_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in FIELDS}


def _check_defaults_match() -> None:
    """FIELDS and the dataclass must agree on names and defaults (checked at import)."""
    declared = {f.name: f.default for f in fields(Requirements) if f.name != "given"}
    listed = {f.name: f.default for f in FIELDS}
    if declared != listed:
        raise AssertionError(f"Requirements and FIELDS disagree: {declared} vs {listed}")


_check_defaults_match()


def from_mapping(
    raw: Mapping[str, Any],
    where: Callable[[str], str] = lambda key: key,
    ignore: frozenset[str] = frozenset(),
) -> Requirements:
    """Requirements from a mapping of field name to value (text or number).

    ``where(key)`` names a field in error messages (a flag, or a path in a YAML file);
    keys in ``ignore`` are skipped, any other unknown key is an error.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ignore:
            continue
        field = FIELD_BY_NAME.get(str(key))
        if field is None:
            known = ", ".join(f.name for f in FIELDS)
            raise ConfigError(f"{where(str(key))}: unknown requirement; expected one of {known}")
        if value is None:
            continue
        values[field.name] = field.convert(value, where(field.name))
    return Requirements(**values, given=frozenset(values))
