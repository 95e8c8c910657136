"""The four codecs a Kafka RecordBatch v2 may carry (codex 7.1), through their PyPI libraries.

Attribute bits 0-2 of a batch name the codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. Only
the records section is compressed; the 61-byte header and the record count stay plain.

Snappy has two framings in the wild: librdkafka writes raw snappy blocks, the Java client
writes the xerial stream framing (an 8-byte magic, two version words, then length-prefixed
blocks). Decoding accepts both; encoding writes the xerial framing every client reads.
LZ4 is the standard LZ4 frame format (``lz4.frame``); zstd is a standard zstd frame.
"""

from __future__ import annotations

import gzip
import io
import struct
from enum import IntEnum

import cramjam
import lz4.frame
import zstandard

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024


class Codec(IntEnum):
    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class CompressionError(ValueError):
    """The compressed records section does not decode."""


def compress(codec: Codec, data: bytes) -> bytes:
    if codec is Codec.NONE:
        return data
    if codec is Codec.GZIP:
        return gzip.compress(data, compresslevel=6, mtime=0)
    if codec is Codec.SNAPPY:
        out = bytearray(_XERIAL_HEADER)
        for start in range(0, len(data), _XERIAL_BLOCK):
            block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK]))
            out += struct.pack(">i", len(block)) + block
        return bytes(out)
    if codec is Codec.LZ4:
        return bytes(lz4.frame.compress(data))
    if codec is Codec.ZSTD:
        return zstandard.ZstdCompressor(level=3).compress(data)
    raise CompressionError(f"unknown compression codec {int(codec)}")


def decompress(codec: Codec, data: bytes) -> bytes:
    try:
        return _decompress(codec, data)
    except CompressionError:
        raise
    except Exception as exc:  # each library raises its own error type
        raise CompressionError(f"{codec.name.lower()}: {exc}") from exc


def _decompress(codec: Codec, data: bytes) -> bytes:
    if codec is Codec.NONE:
        return data
    if codec is Codec.GZIP:
        return gzip.decompress(data)
    if codec is Codec.SNAPPY:
        if data.startswith(XERIAL_MAGIC):
            return _xerial_decode(data)
        return bytes(cramjam.snappy.decompress_raw(data))
    if codec is Codec.LZ4:
        return bytes(lz4.frame.decompress(data))
    if codec is Codec.ZSTD:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            return reader.read()
    raise CompressionError(f"unknown compression codec {int(codec)}")


def _xerial_decode(data: bytes) -> bytes:
    pos = len(_XERIAL_HEADER)
    out = bytearray()
    while pos < len(data):
        if pos + 4 > len(data):
            raise CompressionError("snappy: truncated xerial block length")
        (length,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if length < 0 or pos + length > len(data):
            raise CompressionError("snappy: xerial block runs past the end")
        out += cramjam.snappy.decompress_raw(data[pos : pos + length])
        pos += length
    return bytes(out)
