"""Compact binary form of text-CRDT updates and snapshots (codex 5.4).

Integers are unsigned LEB128 varints, so small replica ids and counters take one byte;
text is UTF-8 with a length prefix. An update is::

    magic "ACU1" | runs: count, then per run
        replica counter length flags [left replica counter] [right replica counter] [text]
    | deletes: count, then per op  replica number ranges (replica counter length)*
    | floors: count, then (replica, first deletion number still logged)*

``flags`` bit 0: deleted, bit 1: has left origin, bit 2: has right origin, bit 3: content
collected (no text). A run's counter is stored as the difference from the previous run of the
same replica, which keeps keystroke-heavy histories small. A snapshot is the update from the
empty version. Anything malformed or truncated raises :class:`UpdateError` naming the byte
offset; nothing is applied from a bad update.
"""

from __future__ import annotations

from archlab.collab.crdt.text import DeleteOp, RunUpdate, TextDoc, Update, UpdateError

MAGIC = b"ACU1"
_DELETED, _LEFT, _RIGHT, _COLLECTED = 1, 2, 4, 8


def _varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError(f"varint of negative {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def encode(update: Update) -> bytes:
    out = bytearray(MAGIC)
    _varint(out, len(update.runs))
    last: dict[int, int] = {}
    for u in update.runs:
        flags = (
            (_DELETED if u.deleted else 0)
            | (_LEFT if u.origin_left is not None else 0)
            | (_RIGHT if u.origin_right is not None else 0)
            | (_COLLECTED if u.text is None else 0)
        )
        _varint(out, u.replica)
        delta = u.counter - last.get(u.replica, 0)
        _varint(out, delta * 2 if delta >= 0 else -delta * 2 - 1)
        last[u.replica] = u.counter + u.length
        _varint(out, u.length)
        out.append(flags)
        for origin in (u.origin_left, u.origin_right):
            if origin is not None:
                _varint(out, origin[0])
                _varint(out, origin[1])
        if u.text is not None:
            data = u.text.encode("utf-8")
            _varint(out, len(data))
            out += data
    _varint(out, len(update.deletes))
    for op in update.deletes:
        _varint(out, op.replica)
        _varint(out, op.number)
        _varint(out, len(op.ranges))
        for r, c, n in op.ranges:
            _varint(out, r)
            _varint(out, c)
            _varint(out, n)
    _varint(out, len(update.floors))
    for replica, floor in update.floors:
        _varint(out, replica)
        _varint(out, floor)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes, where: str) -> None:
        self.data = data
        self.at = 0
        self.where = where

    def fail(self, message: str) -> UpdateError:
        return UpdateError(f"{self.where}: {message} at byte {self.at}")

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.at >= len(self.data):
                raise self.fail("truncated update")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise self.fail("varint too long")

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise self.fail("truncated update")
        self.at += 1
        return self.data[self.at - 1]

    def text(self) -> str:
        size = self.varint()
        if self.at + size > len(self.data):
            raise self.fail("truncated text")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("text is not UTF-8") from None


def decode(data: bytes, where: str = "update") -> Update:
    """The :class:`Update` in ``data``; :class:`UpdateError` if it is not one."""
    if data[:4] != MAGIC:
        raise UpdateError(f"{where}: not an archlab CRDT update (bad magic) at byte 0")
    r = _Reader(data, where)
    r.at = 4
    runs: list[RunUpdate] = []
    last: dict[int, int] = {}
    for _ in range(r.varint()):
        replica = r.varint()
        zigzag = r.varint()
        counter = last.get(replica, 0) + (zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2)
        length = r.varint()
        flags = r.byte()
        if flags & ~15 or length == 0 or counter < 0:
            raise r.fail(f"malformed run {replica}:{counter}")
        left = (r.varint(), r.varint()) if flags & _LEFT else None
        right = (r.varint(), r.varint()) if flags & _RIGHT else None
        text = None if flags & _COLLECTED else r.text()
        if text is not None and len(text) != length:
            raise r.fail(f"run {replica}:{counter} says {length} characters, holds {len(text)}")
        last[replica] = counter + length
        runs.append(RunUpdate(replica, counter, length, text, left, right, bool(flags & _DELETED)))
    deletes: list[DeleteOp] = []
    for _ in range(r.varint()):
        replica, number = r.varint(), r.varint()
        ranges = tuple((r.varint(), r.varint(), r.varint()) for _ in range(r.varint()))
        deletes.append(DeleteOp(replica, number, ranges))
    floors = tuple((r.varint(), r.varint()) for _ in range(r.varint()))
    if r.at != len(data):
        raise r.fail("trailing bytes after the update")
    return Update(tuple(runs), tuple(deletes), floors)


def snapshot(doc: TextDoc) -> bytes:
    """The whole document (tombstones included) as one update."""
    return encode(doc.update_since())


def load(data: bytes, replica: int, where: str = "snapshot") -> TextDoc:
    """A new replica ``replica`` holding the document in ``data``."""
    doc = TextDoc(replica)
    doc.apply(decode(data, where), strict=True)
    return doc
