"""The B+-tree (codex 4.1): see :mod:`archlab.storage.btree.tree`."""

from archlab.storage.btree.tree import BTreeOptions, BTreeStore

__all__ = ["BTreeOptions", "BTreeStore"]
