"""Length-prefixed framing over a byte stream (TCP), sans-IO.

A frame is ``length u32 little-endian | body``; the body is what :mod:`archlab.runtime.codec`
encodes. :class:`FrameDecoder` is fed whatever bytes arrived (``feed``) and returns the complete
bodies so far, keeping a partial frame for the next call; it refuses a length above
``max_frame`` (a corrupt or hostile stream) with :class:`FrameTooLarge` rather than trying to
buffer gigabytes.
"""

from __future__ import annotations

import struct

from archlab.runtime.wire import DecodeError

_LENGTH = struct.Struct("<I")
#: Large enough for a snapshot of a sizeable key-value map, small enough to refuse garbage.
DEFAULT_MAX_FRAME = 256 * 1024 * 1024


class FrameTooLarge(DecodeError):
    """A frame header announcing more than the decoder accepts."""


def frame(body: bytes) -> bytes:
    """``body`` with its length prefix."""
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Reassembles frames from arbitrary chunks of a stream."""

    __slots__ = ("_buffer", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self.max_frame = max_frame

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every body that is now complete, in order."""
        buffer = self._buffer
        buffer += data
        bodies: list[bytes] = []
        pos = 0
        size = len(buffer)
        while size - pos >= 4:
            (length,) = _LENGTH.unpack_from(buffer, pos)
            if length > self.max_frame:
                raise FrameTooLarge(f"frame of {length} bytes exceeds the limit {self.max_frame}")
            end = pos + 4 + length
            if end > size:
                break
            bodies.append(bytes(buffer[pos + 4 : end]))
            pos = end
        if pos:
            del buffer[:pos]
        return bodies
