"""Text operations for operational transformation (codex 5.4).

An operation walks the whole document once: ``retain n`` keeps n characters, ``insert s``
adds s, ``delete n`` removes n. Stored as a list of components: a positive ``int`` retains, a
``str`` inserts, a negative ``int`` deletes (consecutive components of one kind are merged,
and an insert is put before a delete at the same place, so equal edits have equal lists).

* :func:`apply` runs an operation on a string (lengths must match exactly).
* :func:`compose` fuses ``a`` then ``b`` into one operation.
* :func:`invert` gives the operation that undoes ``op`` on the document it was applied to.
* :func:`transform` takes two operations made concurrently on the same document and returns
  ``(a', b')`` with ``apply(apply(d, a), b') == apply(apply(d, b), a')`` — the property TP1.
  Two inserts at the same place are ordered by who has priority: ``a`` (the operation the
  server already ordered first) goes first. Getting that tie wrong on one side is exactly the
  bug :func:`transform_tie_broken` keeps for the checkers to catch.
* :func:`transform_index` moves a cursor through an operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from archlab.errors import ArchlabError

Component = int | str
Op = tuple[Component, ...]


class OperationError(ArchlabError):
    """An operation that does not fit the document (or another operation) it meets."""


def _push(out: list[Component], c: Component) -> None:  # noqa: PLR0912 - the normalisation of retain/insert/delete components, one case per pair of kinds
    if c in (0, ""):
        return
    if not out:
        out.append(c)
        return
    last = out[-1]
    if isinstance(c, str):
        if isinstance(last, str):
            out[-1] = last + c
        elif last < 0:  # keep insert before delete
            if len(out) >= 2 and isinstance(out[-2], str):
                out[-2] = out[-2] + c
            else:
                out.insert(len(out) - 1, c)
        else:
            out.append(c)
    elif c > 0:
        if isinstance(last, int) and last > 0:
            out[-1] = last + c
        else:
            out.append(c)
    elif isinstance(last, int) and last < 0:
        out[-1] = last + c
    else:
        out.append(c)


def make(components: Iterable[Component]) -> Op:
    out: list[Component] = []
    for c in components:
        _push(out, c)
    return tuple(out)


def base_length(op: Op) -> int:
    return sum(c if c > 0 else -c for c in op if isinstance(c, int))


def target_length(op: Op) -> int:
    return sum(
        c if isinstance(c, int) and c > 0 else len(c) if isinstance(c, str) else 0 for c in op
    )


def is_noop(op: Op) -> bool:
    return all(isinstance(c, int) and c > 0 for c in op)


def edit(length: int, position: int, delete: int = 0, insert: str = "") -> Op:
    """The operation that, on a ``length``-character document, deletes then inserts at one place."""
    if not (position >= 0 and delete >= 0 and position + delete <= length):
        raise OperationError(f"edit at {position}+{delete} outside a {length}-character document")
    return make([position, insert, -delete, length - position - delete])


def apply(doc: str, op: Op) -> str:
    if base_length(op) != len(doc):
        raise OperationError(
            f"operation spans {base_length(op)} characters, document has {len(doc)}"
        )
    parts: list[str] = []
    at = 0
    for c in op:
        if isinstance(c, str):
            parts.append(c)
        elif c > 0:
            parts.append(doc[at : at + c])
            at += c
        else:
            at -= c
    return "".join(parts)


def invert(op: Op, doc: str) -> Op:
    """The operation that undoes ``op`` after it was applied to ``doc``."""
    out: list[Component] = []
    at = 0
    for c in op:
        if isinstance(c, str):
            _push(out, -len(c))
        elif c > 0:
            _push(out, c)
            at += c
        else:
            _push(out, doc[at : at - c])
            at -= c
    return tuple(out)


class _Cursor:
    """Reads an operation component by component, splitting them on demand."""

    def __init__(self, op: Op) -> None:
        self.items = list(op)
        self.i = 0
        self.head: Component | None = self.items[0] if self.items else None

    def take(self, n: int | None = None) -> Component | None:
        head = self.head
        if head is None:
            return None
        if n is None or _size(head) <= n:
            self._advance()
            return head
        if isinstance(head, str):
            self.head = head[n:]
            return head[:n]
        if head > 0:
            self.head = head - n
            return n
        self.head = head + n
        return -n

    def _advance(self) -> None:
        self.i += 1
        self.head = self.items[self.i] if self.i < len(self.items) else None


def _size(c: Component) -> int:
    return len(c) if isinstance(c, str) else abs(c)


def compose(a: Op, b: Op) -> Op:
    """One operation with the effect of ``a`` then ``b``."""
    if target_length(a) != base_length(b):
        raise OperationError(
            f"cannot compose: the first leaves {target_length(a)} characters, "
            f"the second expects {base_length(b)}"
        )
    out: list[Component] = []
    ca, cb = _Cursor(a), _Cursor(b)
    while ca.head is not None or cb.head is not None:
        if isinstance(ca.head, int) and ca.head < 0:
            _push(out, ca.take() or 0)
            continue
        if isinstance(cb.head, str):
            _push(out, cb.take() or "")
            continue
        if ca.head is None or cb.head is None:
            raise OperationError("cannot compose: operations of different lengths")
        n = min(_size(ca.head), _size(cb.head))
        x, y = ca.take(n), cb.take(n)
        assert x is not None and isinstance(y, int)
        if y > 0:
            _push(out, x)  # a's insert or retain survives b's retain
        elif isinstance(x, int):
            _push(out, y)  # b deletes what a retained
        # else: b deletes what a inserted: nothing remains
    return tuple(out)


def transform(a: Op, b: Op, *, a_first: bool = True) -> tuple[Op, Op]:
    """``(a', b')`` for concurrent ``a`` and ``b`` on one document (TP1).

    ``a_first``: when both insert at the same place, ``a``'s text goes first.
    """
    if base_length(a) != base_length(b):
        raise OperationError(
            f"cannot transform: operations on {base_length(a)} and {base_length(b)} characters"
        )
    a2: list[Component] = []
    b2: list[Component] = []
    ca, cb = _Cursor(a), _Cursor(b)
    while ca.head is not None or cb.head is not None:
        a_ins = isinstance(ca.head, str)
        b_ins = isinstance(cb.head, str)
        if a_ins and (a_first or not b_ins):
            text = ca.take()
            assert isinstance(text, str)
            _push(a2, text)
            _push(b2, len(text))
            continue
        if b_ins:
            text = cb.take()
            assert isinstance(text, str)
            _push(b2, text)
            _push(a2, len(text))
            continue
        assert ca.head is not None and cb.head is not None
        n = min(_size(ca.head), _size(cb.head))
        x, y = ca.take(n), cb.take(n)
        assert isinstance(x, int) and isinstance(y, int)
        if x > 0 and y > 0:
            _push(a2, n)
            _push(b2, n)
        elif x < 0 and y > 0:
            _push(a2, -n)
        elif x > 0 and y < 0:
            _push(b2, -n)
        # both delete the same characters: neither needs to
    return tuple(a2), tuple(b2)


def transform_tie_broken(a: Op, b: Op, *, a_first: bool = True) -> tuple[Op, Op]:
    """A deliberately wrong transform: each side puts *its own* insert first on a tie.

    Sites then disagree on the order of concurrent inserts at one place; TP1 fails and the
    simulated sweep's convergence check catches it.
    """
    a2, _ = transform(a, b, a_first=True)
    _, b2 = transform(a, b, a_first=False)
    return a2, b2


def transform_index(index: int, op: Op, *, own: bool = False) -> int:
    """Where a cursor at ``index`` ends up after ``op``.

    Text inserted before the cursor moves it right; text inserted exactly at it moves it only
    when ``own`` (the cursor's owner typed it); deleted text before it moves it left.
    """
    new = index
    at = 0
    for c in op:
        if at > index:
            break
        if isinstance(c, str):
            if at < index or own:
                new += len(c)
        elif c > 0:
            at += c
        else:
            new -= max(0, min(-c, index - at))
            at -= c
    return new


def describe(op: Sequence[Component]) -> str:
    parts = []
    for c in op:
        parts.append(f"ins {c!r}" if isinstance(c, str) else f"ret {c}" if c > 0 else f"del {-c}")
    return ", ".join(parts)
