"""Errors a user can cause, reported by the CLI as one line and exit code 2.

Everything raised because of the user's input or environment (an unknown experiment id, a
malformed history, a corrupt file, a bad option value) is an :class:`ArchlabError`. Bugs are
not: they keep their tracebacks.
"""

from __future__ import annotations

from pathlib import Path


class ArchlabError(Exception):
    """Base class: the message says what is wrong and where, in one line."""

    exit_code = 2

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class UnknownNameError(ArchlabError):
    """A name (experiment id, benchmark, model ...) that archlab does not know.

    The hint names only close matches (a typo, or the start of a name), never a guess.
    """

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        close = close_matches(name, known)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")
        self.kind = kind
        self.name = name


def close_matches(name: str, known: list[str]) -> list[str]:
    """Names in ``known`` that ``name`` is a typo of or a prefix of (at most three)."""
    import difflib

    prefixed = [k for k in known if len(name) >= 2 and k.startswith(name)]
    similar = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return list(dict.fromkeys([*prefixed, *similar]))[:3]


class UnavailableError(ArchlabError):
    """A service archlab talks to cannot answer now (not the user's input: exit code 3)."""

    exit_code = 3


class InputFormatError(ArchlabError):
    """A file the user gave is not in the expected format."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class CorruptionError(ArchlabError):
    """Stored data failed a checksum or structural check; no wrong data is returned."""

    def __init__(self, path: str | Path, offset: int | None, message: str) -> None:
        where = f"{path} at offset {offset}" if offset is not None else str(path)
        super().__init__(f"corruption in {where}: {message}")
        self.path = str(path)
        self.offset = offset


class ConfigError(ArchlabError):
    """A parameter, option or design field has a value archlab cannot use."""
