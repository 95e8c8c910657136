"""Reading a hand-written YAML design field by field, with errors that point at the field.

A :class:`Section` wraps one mapping of the file and hands out typed values (strings from a
fixed set, booleans, whole numbers, numbers with units, lists). Anything wrong raises
:class:`DesignSchemaError`, whose one-line message names the file and line, the path of the
offending field (``components.databases[1].engine``), what was expected and what was found;
an unknown key (a typo) is an error too, with the closest known names suggested.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from archlab.design.yamlsource import FieldPath, Lines, dotted
from archlab.errors import ConfigError, InputFormatError

T = TypeVar("T")


def describe(value: Any) -> str:  # noqa: PLR0911 - one return per value shape the schema names
    """A short phrase for a found value: ``'lsmm'``, ``the number 3``, ``a list``, ``nothing``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class DesignSchemaError(InputFormatError):
    """A design or requirements file whose field does not have the expected shape."""

    def __init__(self, lines: Lines, path: FieldPath, expected: str, found: str) -> None:
        super().__init__(
            lines.source, f"{dotted(path)}: expected {expected}, found {found}", lines.line(path)
        )
        self.field_path = dotted(path)
        self.expected = expected
        self.found = found


class Section:
    """One mapping of the file, at ``path``, whose keys must all be in ``allowed``."""

    def __init__(self, data: Any, path: FieldPath, lines: Lines, allowed: Iterable[str]) -> None:
        self.path = path
        self.lines = lines
        self.allowed = tuple(allowed)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise DesignSchemaError(lines, path, "a mapping of fields", describe(data))
        self.data: Mapping[Any, Any] = data
        for key in data:
            if key not in self.allowed:
                close = difflib.get_close_matches(str(key), self.allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise DesignSchemaError(
                    lines,
                    (*path, str(key)),
                    f"one of the fields {', '.join(self.allowed)}",
                    f"the unknown field {str(key)!r}{hint}",
                )

    def at(self, key: str | int) -> FieldPath:
        return (*self.path, key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def fail(self, key: str | int, expected: str, found: Any) -> DesignSchemaError:
        return DesignSchemaError(self.lines, self.at(key), expected, describe(found))

    def section(self, key: str, allowed: Iterable[str]) -> Section:
        """The nested mapping at ``key`` (an empty one when absent)."""
        return Section(self.data.get(key), self.at(key), self.lines, allowed)

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required or default is None:
                raise self.fail(key, "a name (text)", value)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(key, "a name (text)", value)
        text = str(value).strip()
        if not text:
            raise self.fail(key, "a non-empty name", value)
        return text

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None

    def choice(self, key: str, choices: Iterable[str], default: str | None = None) -> str:
        options = tuple(choices)
        value = self.data.get(key)
        if value is None and default is not None:
            return default
        text = str(value).strip().lower() if isinstance(value, str | int) else None
        if isinstance(value, bool) or text not in options:
            raise self.fail(key, f"one of {', '.join(options)}", value)
        return text

    def optional_choice(self, key: str, choices: Iterable[str]) -> str | None:
        return self.choice(key, choices) if self.has(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def optional_boolean(self, key: str) -> bool | None:
        return self.boolean(key, False) if self.has(key) else None

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"a whole number ≥ {minimum}", value)
        return value

    def quantity(self, key: str, parse: Callable[[Any, str], float], default: T) -> float | T:
        """A number with units, read by one of :mod:`archlab.design.units`' parsers."""
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(key, "a number, with its unit where it has one", value)
        try:
            return parse(value, dotted(self.at(key)))
        except ConfigError as exc:
            line = self.lines.line(self.at(key))
            raise InputFormatError(self.lines.source, str(exc), line) from None

    def strings(self, key: str) -> list[str]:
        """A list of names (an absent key is the empty list)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "a list of names", value)
        names = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
                raise DesignSchemaError(self.lines, (*self.at(key), i), "a name", describe(item))
            names.append(str(item).strip())
        return names

    def items(self, key: str, allowed: Iterable[str]) -> Iterator[Section]:
        """Each mapping in the list at ``key`` (an absent key is the empty list)."""
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise self.fail(key, "a list of mappings", value)
        fields = tuple(allowed)
        for i, item in enumerate(value):
            yield Section(item, (*self.at(key), i), self.lines, fields)
