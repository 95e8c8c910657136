"""Real editing traces: loading, validating and replaying them (codex 5.4).

Two keystroke-level histories ship with archlab (``archlab/collab/data``, CC BY 4.0, from
Joseph Gentle's editing-traces collection; see that folder's README). A trace is gzipped (or
plain) JSON: ``startContent``, ``endContent`` and ``txns``, each with ``patches`` of
``[position, delete_count, insert_text]``. :func:`load` checks every field and names the first
bad one (transaction and patch index) in a one-line :class:`~archlab.errors.InputFormatError`;
:func:`replay` applies the patches to a text CRDT and checks the result is ``endContent``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from archlab.collab.crdt.text import TextDoc
from archlab.errors import InputFormatError

#: The packaged traces, by name.
PACKAGED = ("sveltecomponent", "rustcode")
ATTRIBUTION = (
    "Editing traces: Joseph Gentle, josephg/editing-traces, CC BY 4.0 "
    "(packaged in archlab/collab/data)."
)

Patch = tuple[int, int, str]


@dataclass(frozen=True)
class Trace:
    name: str
    start: str
    end: str
    txns: tuple[tuple[Patch, ...], ...]

    @property
    def patches(self) -> int:
        return sum(len(t) for t in self.txns)

    def each_patch(self) -> Iterator[Patch]:
        for txn in self.txns:
            yield from txn


def packaged_path(name: str) -> Path:
    return Path(str(resources.files("archlab.collab") / "data" / f"{name}.json.gz"))


def resolve(name_or_path: str) -> Path:
    """A packaged trace's name (``sveltecomponent``) or a file path."""
    if name_or_path in PACKAGED:
        return packaged_path(name_or_path)
    return Path(name_or_path)


def load(name_or_path: str) -> Trace:
    path = resolve(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFormatError(path, f"cannot read trace: {exc.strerror or exc}") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFormatError(path, f"not a (gzipped) JSON trace: {exc}") from None
    return parse(data, path)


def parse(data: object, path: str | Path = "trace") -> Trace:
    if not isinstance(data, dict):
        raise InputFormatError(path, "a trace is a JSON object")
    for key in ("startContent", "endContent"):
        if not isinstance(data.get(key), str):
            raise InputFormatError(path, f"{key!r} is missing or not a string")
    txns = data.get("txns")
    if not isinstance(txns, list):
        raise InputFormatError(path, "'txns' is missing or not a list")
    out: list[tuple[Patch, ...]] = []
    length = len(data["startContent"])
    for t, txn in enumerate(txns):
        patches = txn.get("patches") if isinstance(txn, dict) else None
        if not isinstance(patches, list):
            raise InputFormatError(path, f"txns[{t}] has no 'patches' list")
        checked: list[Patch] = []
        for p, patch in enumerate(patches):
            where = f"txns[{t}].patches[{p}]"
            if (
                not isinstance(patch, list)
                or len(patch) != 3
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in patch[:2])
                or not isinstance(patch[2], str)
            ):
                raise InputFormatError(path, f"{where} is not [position, delete_count, text]")
            pos, dels, text = patch
            if pos < 0 or dels < 0 or pos + dels > length:
                raise InputFormatError(
                    path, f"{where} edits {pos}..{pos + dels} of a {length}-character document"
                )
            length += len(text) - dels
            checked.append((pos, dels, text))
        out.append(tuple(checked))
    name = Path(path).name.removesuffix(".gz").removesuffix(".json")
    return Trace(name, data["startContent"], data["endContent"], tuple(out))


def replay(trace: Trace, apply: Callable[[int, int, str], None]) -> None:
    """Feed every patch, in order, to ``apply(position, delete_count, text)``."""
    for pos, dels, text in trace.each_patch():
        apply(pos, dels, text)


def replay_into_crdt(trace: Trace, replica: int = 1) -> TextDoc:
    """Replay into a fresh :class:`~archlab.collab.crdt.text.TextDoc`; returns it."""
    doc = TextDoc(replica)
    if trace.start:
        doc.insert(0, trace.start)

    def apply(pos: int, dels: int, text: str) -> None:
        if dels:
            doc.delete(pos, dels)
        if text:
            doc.insert(pos, text)

    replay(trace, apply)
    return doc


def generated(patches: int, seed: int = 0) -> Trace:
    """A synthetic typing trace (bursts of typing, backspaces, jumps) when no file is given."""
    from archlab.randomness import seeded

    rng = seeded(seed)
    text: list[str] = []
    txns: list[tuple[Patch, ...]] = []
    cursor = 0
    for _ in range(patches):
        roll = rng.random()
        if roll < 0.05:
            cursor = rng.randint(0, len(text))
        if roll < 0.8 or not text:
            ch = rng.choice("abcdefghij klmnop\n")
            text.insert(cursor, ch)
            txns.append(((cursor, 0, ch),))
            cursor += 1
        elif cursor > 0:
            cursor -= 1
            del text[cursor]
            txns.append(((cursor, 1, ""),))
    return Trace(f"generated-{patches}", "", "".join(text), tuple(txns))
