"""One-line EDN maps, the event shape of Jepsen logs and Porcupine's key-value test data.

The 6.824 / Porcupine key-value histories write one Clojure map per line::

    {:process 0, :type :invoke, :f :append, :key "6", :value "x 0 4 y"}
    {:process 0, :type :ok, :f :get, :key "6", :value "x 0 4 y"}

:func:`parse_map` reads such a flat map into the dict a JSON line would give (keywords become
strings without their colon, ``nil`` becomes None), so :func:`archlab.check.history.parse`
accepts these files as they are. Only what those histories use is read: keywords, strings,
integers, decimals, ``true``, ``false`` and ``nil``; nested collections are refused.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<keyword>:[^\s,{}\[\]()"]+)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<word>nil|true|false)
      | (?P<close>\})
    )\s*,?""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def is_edn(text: str) -> bool:
    """Whether a line looks like an EDN map (``{:`` first) rather than JSON."""
    return text.lstrip().startswith("{:")


def parse_map(text: str) -> dict[str, Any]:
    """The flat EDN map on one line, or ValueError saying what is wrong and at which column."""
    body = text.strip()
    if not body.startswith("{"):
        raise ValueError("an EDN map starts with '{'")
    position = 1
    items: list[Any] = []
    while True:
        match = _TOKEN.match(body, position)
        if match is None:
            raise ValueError(f"unreadable EDN at column {position + 1}")
        position = match.end()
        if match.group("close") is not None:
            break
        items.append(_value(match))
    if position != len(body):
        raise ValueError(f"text after the map's closing brace at column {position + 1}")
    if len(items) % 2:
        raise ValueError("an EDN map needs a value for every key")
    data: dict[str, Any] = {}
    for key, value in zip(items[::2], items[1::2], strict=True):
        if not isinstance(key, str):
            raise ValueError(f"EDN map keys must be keywords, got {key!r}")
        data[key] = value
    return data


def _value(match: re.Match[str]) -> Any:
    if (string := match.group("string")) is not None:
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), string[1:-1])
    if (keyword := match.group("keyword")) is not None:
        return keyword[1:]
    if (number := match.group("number")) is not None:
        return float(number) if any(c in number for c in ".eE") else int(number)
    return {"nil": None, "true": True, "false": False}[match.group("word")]
