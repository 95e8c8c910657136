"""The LSM tree (codex 4.1–4.2): see :mod:`archlab.storage.lsm.store`."""

from archlab.storage.lsm.store import LSMOptions, LSMStore

__all__ = ["LSMOptions", "LSMStore"]
