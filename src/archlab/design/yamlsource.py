"""Loading a YAML file so that every value can be traced back to its line.

Design and requirements files are written by hand, so an error must point at the place to
fix: :func:`load` returns the parsed data together with a :class:`Lines` map from each
value's path (``("components", "databases", 0, "engine")``) to its line in the file. It also
refuses what PyYAML would silently accept: a key given twice in one mapping (the first value
would be lost without a word) and a file that holds more than one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archlab.errors import InputFormatError

PathPart = str | int
FieldPath = tuple[PathPart, ...]


def dotted(path: FieldPath) -> str:
    """``("a", "b", 0, "c")`` as ``a.b[0].c``; the empty path is ``(top level)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass
class Lines:
    """Line numbers (1-based) of the values in a loaded file."""

    source: str
    by_path: dict[FieldPath, int] = field(default_factory=dict)

    def line(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its closest enclosing value that has one."""
        for end in range(len(path), -1, -1):
            found = self.by_path.get(path[:end])
            if found is not None:
                return found
        return None


def load(path: Path) -> tuple[Any, Lines]:
    """Parse ``path``; raise :class:`InputFormatError` with the file and line when it is not
    one well-formed YAML document with distinct keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFormatError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFormatError(path, "is a directory, expected a YAML file") from None
    except UnicodeDecodeError:
        raise InputFormatError(path, "is not UTF-8 text") from None
    except OSError as exc:
        raise InputFormatError(path, f"cannot read: {exc.strerror}") from None
    return loads(text, str(path))


def loads(text: str, source: str = "<yaml>") -> tuple[Any, Lines]:
    """Parse YAML ``text`` (see :func:`load`); ``source`` names it in errors."""
    lines = Lines(source)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        _index(node, (), lines)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputFormatError(
            source, f"invalid YAML: {problem}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise InputFormatError(source, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: FieldPath, lines: Lines) -> None:
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputFormatError(
                    lines.source,
                    f"{dotted(path)}: keys must be plain names",
                    line=key_node.start_mark.line + 1,
                )
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise InputFormatError(
                    lines.source,
                    f"{dotted((*path, key))}: given twice (first on line {seen[key]})",
                    line=line,
                )
            seen[key] = line
            _index(value_node, (*path, key), lines)
            lines.by_path[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)
