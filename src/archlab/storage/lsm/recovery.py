"""Recovery of an LSM tree after a crash or a clean close (codex 4.1–4.2), and its files.

The directory holds ``MANIFEST`` (see :mod:`archlab.storage.lsm.version`), SSTables
``NNNNNN.sst`` and write-ahead logs ``NNNNNN.log``. :func:`recover` replays the manifest
(truncating a torn last edit), opens the live tables it names, checking each file's size, and
replays every log at or after the manifest's ``log_no`` into one memtable, dropping a torn
tail. The store then flushes that memtable and calls :func:`delete_unreferenced`, which removes
what no edit names: outputs of an interrupted compaction, logs already flushed, a half-written
manifest rewrite.

A log record is ``seq u64 | kind u8 | key_len u32 | key | value`` (:func:`encode_record`),
framed with a CRC by :mod:`archlab.storage.records`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from archlab.errors import CorruptionError
from archlab.storage.faultfs import FileHandle, FileSystem, join
from archlab.storage.lsm.compaction import Leveled, Policy, Tiered
from archlab.storage.lsm.memtable import Memtable
from archlab.storage.lsm.sstable import BlockCache, TableReader
from archlab.storage.lsm.version import ManifestState, Run, Table, TableInfo, Version
from archlab.storage.records import read_records

_WAL_HEAD = struct.Struct("<QBI")
_PUT, _DELETE = 1, 2
_FILE = re.compile(r"^(\d{6,})\.(log|sst)$")
MANIFEST = "MANIFEST"


def file_path(directory: str, file_no: int, kind: str) -> str:
    """The path of table (``kind="sst"``) or log (``"log"``) number ``file_no``."""
    return join(directory, f"{file_no:06d}.{kind}")


def encode_record(seq: int, key: bytes, value: bytes | None) -> bytes:
    """A log record: a put of ``value``, or a delete when ``value`` is None."""
    if value is None:
        return _WAL_HEAD.pack(seq, _DELETE, len(key)) + key
    return _WAL_HEAD.pack(seq, _PUT, len(key)) + key + value


@dataclass
class Recovered:
    """What a directory held: the open manifest, the live version and the unflushed writes."""

    manifest: FileHandle
    next_file: int
    last_seq: int
    version: Version
    logs: list[int]  # logs replayed into ``memtable``, oldest first
    memtable: Memtable


def recover(fs: FileSystem, directory: str, policy: Policy, cache: BlockCache) -> Recovered:
    """Replay the manifest and every unflushed log of ``directory`` (see the docstring)."""
    state = ManifestState()
    path = join(directory, MANIFEST)
    if fs.exists(path):
        manifest = fs.open(path, create=False)
        log = read_records(manifest.read_at(0, manifest.size()), path)
        for payload, offset in zip(log.payloads, log.offsets, strict=True):
            state.apply(payload, path, offset)
        if log.torn_bytes:
            manifest.truncate(log.valid_end)
            manifest.sync()
    else:
        manifest = fs.open(path)
    tables = {no: open_table(fs, directory, info, cache) for no, info in state.tables.items()}
    version = _version(state, tables, policy)
    logs = sorted(
        int(m.group(1))
        for m in map(_FILE.match, fs.listdir(directory))
        if m and m.group(2) == "log" and int(m.group(1)) >= state.log_no
    )
    memtable = Memtable(0)
    last_seq = state.last_seq
    for log_no in logs:
        last_seq = max(last_seq, replay_log(fs, file_path(directory, log_no, "log"), memtable))
    next_file = max([state.next_file, *(n + 1 for n in logs)])
    return Recovered(manifest, next_file, last_seq, version, logs, memtable)


def _version(state: ManifestState, tables: dict[int, Table], policy: Policy) -> Version:
    if state.runs is not None and isinstance(policy, Tiered):
        runs = [Run(1, [tables[n] for n in run]) for run in state.runs]
        for run in runs:
            run.level = max(t.info.level for t in run.tables)
        return Version(runs)
    if isinstance(policy, Leveled):
        return Leveled.build(list(tables.values()))
    version = Version([])
    for table in sorted(tables.values(), key=lambda t: t.info.max_seq):
        version = policy.add_flush(version, table)
    return version


def replay_log(fs: FileSystem, path: str, into: Memtable) -> int:
    """Every intact record of the log at ``path`` into ``into``; returns the highest seq."""
    handle = fs.open(path, create=False)
    log = read_records(handle.read_at(0, handle.size()), path)
    handle.close()
    last_seq = 0
    for payload, offset in zip(log.payloads, log.offsets, strict=True):
        try:
            seq, kind, klen = _WAL_HEAD.unpack_from(payload, 0)
        except struct.error:
            raise CorruptionError(path, offset, "log record too short") from None
        key = payload[_WAL_HEAD.size : _WAL_HEAD.size + klen]
        if kind not in (_PUT, _DELETE) or len(key) != klen:
            raise CorruptionError(path, offset, f"log record of unknown kind {kind}")
        last_seq = max(last_seq, seq)
        value = payload[_WAL_HEAD.size + klen :] if kind == _PUT else None
        into.put(key, value, seq)
    return last_seq


def open_table(fs: FileSystem, directory: str, info: TableInfo, cache: BlockCache) -> Table:
    """A live table named by the manifest; missing or of the wrong size is corruption."""
    path = file_path(directory, info.file_no, "sst")
    try:
        handle = fs.open(path, create=False)
    except FileNotFoundError:
        raise CorruptionError(path, None, "live table named by the manifest is missing") from None
    reader = TableReader(handle, info.file_no, cache)
    if reader.size != info.size:
        raise CorruptionError(
            path, reader.size, f"table is {reader.size} bytes, the manifest says {info.size}"
        )
    return Table(info, reader)


def delete_unreferenced(
    fs: FileSystem, directory: str, live_tables: set[int], live_logs: set[int]
) -> None:
    """Remove tables and logs no longer live, and temporary files of a manifest rewrite."""
    for name in fs.listdir(directory):
        m = _FILE.match(name)
        if m is None:
            if name.endswith(".tmp"):
                fs.remove(join(directory, name))
            continue
        no = int(m.group(1))
        if (m.group(2) == "sst" and no not in live_tables) or (
            m.group(2) == "log" and no not in live_logs
        ):
            fs.remove(join(directory, name))
