"""Workload attestation: which identities a calling process is entitled to (codex 9.4).

The workload API never takes a workload's word for who it is: its host asks the kernel for the
caller's credentials (pid, uid, gid, and the executable behind the pid) and this module matches
them against registration entries, as SPIRE's unix workload attestor does with its selectors.
Every entry whose selectors all match entitles the caller to that entry's SPIFFE ID. Pure: the
credentials are handed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.security.spiffe import SpiffeId


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int
    exe: str | None = None


@dataclass(frozen=True)
class RegistrationEntry:
    """Selectors (None: any) a process must match to be given ``spiffe_id``."""

    spiffe_id: SpiffeId
    uid: int | None = None
    pid: int | None = None
    exe: str | None = None

    def matches(self, peer: PeerCredentials) -> bool:
        return (
            (self.uid is None or self.uid == peer.uid)
            and (self.pid is None or self.pid == peer.pid)
            and (self.exe is None or self.exe == peer.exe)
        )


def attest(peer: PeerCredentials, entries: list[RegistrationEntry]) -> list[SpiffeId]:
    """The identities ``peer`` is entitled to: those of every entry it matches."""
    return [e.spiffe_id for e in entries if e.matches(peer)]
