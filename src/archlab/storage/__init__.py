"""Chapter 4: storage engines (B+-tree, LSM tree) and PostgreSQL-style MVCC.

Both engines are persistent, ordered key-value stores on real files behind one interface
(:class:`~archlab.storage.api.Store`)::

    from archlab.storage import open_store
    with open_store("lsm", "/tmp/db", sync="always") as store:
        store.put(b"user:1", b"ada")
        assert store.get(b"user:1") == b"ada"
        print(list(store.scan(b"user:", b"user;")))

``open_store(engine, path, sync=..., **engine_options)``: ``engine`` is ``"lsm"``
(:mod:`archlab.storage.lsm`, options :class:`~archlab.storage.lsm.store.LSMOptions`) or
``"btree"`` (:mod:`archlab.storage.btree`, options
:class:`~archlab.storage.btree.tree.BTreeOptions`); ``sync`` is ``"always"``, ``"batch"`` or
``"none"`` (see :mod:`archlab.storage.api`). ``fs=`` swaps the file layer (the
fault-injecting :class:`~archlab.storage.faultfs.FaultFileSystem` in crash tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archlab.errors import UnknownNameError
from archlab.storage.api import MAX_KEY, MAX_VALUE, Store, StoreLimitError, SyncPolicy

ENGINES = ("lsm", "btree")


def open_store(engine: str, path: str | Path, sync: SyncPolicy = "batch", **options: Any) -> Store:
    """Open (creating if needed) the store of ``engine`` in directory ``path``."""
    if engine == "lsm":
        from archlab.storage.lsm import LSMStore

        return LSMStore(str(path), sync=sync, **options)
    if engine == "btree":
        from archlab.storage.btree import BTreeStore

        return BTreeStore(str(path), sync=sync, **options)
    raise UnknownNameError("storage engine", engine, list(ENGINES))


__all__ = ["ENGINES", "MAX_KEY", "MAX_VALUE", "Store", "StoreLimitError", "open_store"]
