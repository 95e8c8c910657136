"""The baseline Haystack replaced (codex 10.4): one file per photo, in many directories.

``<root>/<key % fanout>/<key>_<alt>``: reading a photo asks the kernel to resolve the path
(directory entries, then the inode) before the data, and costs ``open``, ``fstat`` (for the
size), ``read`` and ``close``: about the fewest calls a file-per-photo server can make, and
what the experiment counts and times beside a Haystack volume.
"""

from __future__ import annotations

import os
from pathlib import Path

from archlab.cases.haystack.needle import MAX_DATA


class FilePerPhotoStore:
    def __init__(self, root: str | Path, fanout: int = 256) -> None:
        self.root = Path(root)
        self.fanout = fanout
        for i in range(fanout):
            (self.root / f"{i:03x}").mkdir(parents=True, exist_ok=True)

    def path(self, key: int, alt_key: int) -> str:
        return f"{self.root}/{key % self.fanout:03x}/{key}_{alt_key}"

    def put(self, key: int, alt_key: int, data: bytes) -> None:
        with open(self.path(key, alt_key), "wb") as out:
            out.write(data)

    def get(self, key: int, alt_key: int) -> bytes | None:
        try:
            fd = os.open(self.path(key, alt_key), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return os.read(fd, min(os.fstat(fd).st_size, MAX_DATA))
        finally:
            os.close(fd)

    def files(self) -> list[str]:
        return [str(p) for p in self.root.glob("*/*")]
