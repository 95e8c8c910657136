"""The runtime's recovery mark: a Raft node that lost its data directory (codex 5.3).

A node started again (``archlab cluster start``, a soak's restart) is told by its cluster
description that it has run before (``--expect-state``). If it then finds no snapshot in its
data directory, the directory was lost or wiped: the node is a member that forgot its votes and
acknowledgements, and must rejoin in recovery (:mod:`archlab.consensus.raft.recovery`). The mark
``recovery`` in the data directory (an atomically replaced, fsynced file) records that until the
cluster has re-admitted the node, so a crash in the middle of recovery does not make the
half-filled directory look like a trustworthy voter's.
"""

from __future__ import annotations

from pathlib import Path

from archlab.runtime.atomicfile import read_atomic, write_atomic

RECOVERY_FILE = "recovery"
_MAGIC = b"ARRC"


class FileRecoveryMark:
    """A :class:`~archlab.consensus.raft.recovery.RecoveryMark` in a data directory."""

    def __init__(self, directory: Path, recovering: bool) -> None:
        self.directory = directory
        self._recovering = recovering

    @classmethod
    def open(cls, directory: str | Path, *, lost: bool) -> FileRecoveryMark:
        """Read the mark; ``lost`` (state expected, none found) starts a recovery."""
        path = Path(directory)
        if lost:
            write_atomic(path / RECOVERY_FILE, _MAGIC, b"\x01")
            return cls(path, True)
        payload = read_atomic(path / RECOVERY_FILE, _MAGIC)
        return cls(path, payload == b"\x01")

    @property
    def recovering(self) -> bool:
        return self._recovering

    def recovered(self) -> None:
        self._recovering = False
        write_atomic(self.directory / RECOVERY_FILE, _MAGIC, b"\x00")
