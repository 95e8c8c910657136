"""Memory a system holds after replaying a trace, measured in a fresh process.

``python -m archlab.collab.replaymem SYSTEM TRACE`` loads the trace (and, for pycrdt,
converts positions to the UTF-8 byte offsets its Text type takes), replays every patch,
collects garbage, and prints as JSON the bytes malloc handed out during the replay and still
holds (glibc ``mallinfo2``). The caller runs it with ``PYTHONMALLOC=malloc`` so that Python's
objects and pycrdt's Rust core (yrs allocates through malloc, out of ``tracemalloc``'s sight)
are counted the same way. The resident set is not used: the allocator reuses memory freed
while loading the trace, so its growth understates a document's size.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys
from collections.abc import Callable
from typing import Any

from archlab.collab import traces

Patch = tuple[int, int, str]


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_in_use() -> int | None:
    """Bytes glibc's malloc has handed out and not had back (None off glibc)."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return int(info.uordblks + info.hblkhd)


def byte_offsets(trace: traces.Trace) -> list[list[Patch]]:
    """The trace's patches with positions and lengths in UTF-8 bytes (pycrdt's Text unit)."""
    doc = trace.start
    out: list[list[Patch]] = []
    for txn in trace.txns:
        converted: list[Patch] = []
        for pos, dels, ins in txn:
            converted.append((len(doc[:pos].encode()), len(doc[pos : pos + dels].encode()), ins))
            doc = doc[:pos] + ins + doc[pos + dels :]
        out.append(converted)
    return out


def archlab_replayer(trace: traces.Trace) -> Callable[[], object]:
    def replay() -> object:
        return traces.replay_into_crdt(trace)

    return replay


def pycrdt_replayer(trace: traces.Trace) -> Callable[[], object]:
    from pycrdt import Doc, Text

    patches = byte_offsets(trace)

    def replay() -> object:
        doc: Doc[Any] = Doc()
        text = doc.get("text", type=Text)
        if trace.start:
            text.insert(0, trace.start)
        for txn in patches:
            with doc.transaction():
                for pos, dels, ins in txn:
                    if dels:
                        del text[pos : pos + dels]
                    if ins:
                        text.insert(pos, ins)
        if str(text) != trace.end:
            raise RuntimeError(f"pycrdt replay of {trace.name} did not reach endContent")
        return doc

    return replay


REPLAYERS = {"archlab": archlab_replayer, "pycrdt": pycrdt_replayer}


def main(argv: list[str]) -> None:
    system, path = argv
    trace = traces.load(path)
    replay = REPLAYERS[system](trace)
    gc.collect()
    before = malloc_in_use()
    kept = replay()
    gc.collect()
    after = malloc_in_use()
    if before is None or after is None:
        raise SystemExit("replaymem needs glibc's mallinfo2")
    print(json.dumps({"bytes": after - before, "alive": kept is not None}))


if __name__ == "__main__":
    main(sys.argv[1:])
