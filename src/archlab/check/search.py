"""The linearizability search over one partition (codex 5.1): Wing & Gong with Lowe's cache.

Wing and Gong's algorithm looks for a sequential order of a concurrent history: at each point
it tries every operation that could come next (one invoked before the earliest completion
still pending), applies it to the model, and backtracks when an operation's completion is
reached before it could take effect. Lowe's refinement memoises every configuration reached,
``(the set of operations linearized, the model state)``: two paths reaching the same
configuration have the same future, so each is explored once. This is the search Porcupine
runs, on a doubly linked list of call and return entries where "linearize" unlinks an
operation's two entries and backtracking relinks them (Knuth's dancing links).

Refinements that fit the history format:

- ``info`` operations may take effect at any time after their invocation, or never. They
  are kept apart with no return entries (they never block), and the search succeeds once
  every *required* operation (``ok``, and ``fail`` ones the model keeps) is placed: unknown
  operations left over are the ones that never took effect. Required candidates are tried
  first, so an unknown write is placed only where it is needed to explain what follows.
- The linearized set is a bitset kept exactly but compactly: required operations are
  numbered in invocation order and the set is stored as ``(p, window)``, where every
  operation before ``p`` is linearized and ``window`` holds the bits from ``p`` on. The
  window spans the history's concurrency, not its length, so a 100k-operation history does
  not make every cache key 12 KB long. Unknown operations have their own bitset.

And three reductions, each sound (the property tests compare the search with a brute-force
definition, and show that a wrong reduction would be caught):

- a *read* (an operation the model says never changes the state) that is legal now is
  placed now and nothing else is tried in its stead: moving a read earlier, to a point
  where it is legal, leaves every later step as it was;
- unknown operations with equal footprints (two timed-out ``write 3``) are interchangeable,
  so only the earliest unplaced one of each class is tried;
- *subsumption*: a configuration is skipped when one with the same required operations
  placed, the same state and a subset of its unknown operations placed was already reached
  (unknown operations are never obliged to take effect, so the smaller set can do all the
  larger can). This is what keeps Jepsen-like histories full of timeouts in milliseconds.

The search is a generator: it yields its step count whenever it has used the step allowance
it was sent, so the caller can interleave partitions and stop at a time limit. Its return
value is a :class:`Outcome`.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass

from archlab.check.history import Operation
from archlab.check.models import Model

_READS, _OTHERS, _UNKNOWN = 0, 1, 2
#: Call position of the sentinel ending the unknown-operation classes: after everything.
_END = 1 << 80


@dataclass(frozen=True)
class Outcome:
    """How the search of one partition ended.

    ``order`` is a witness (every required operation, and the unknown ones that had to take
    effect, in an order the model accepts) when ``valid``; otherwise the deepest partial
    linearization the search reached: the longest linearizable prefix. ``blocked`` is then
    the required operation whose completion arrived before it could take effect after that
    prefix, and ``state`` the model state the prefix leaves.
    """

    valid: bool
    order: tuple[Operation, ...]
    state: Hashable
    blocked: Operation | None
    steps: int
    configurations: int


Search = Generator[int, int, Outcome]
_Frame = tuple[int, Hashable, int, int, int, int, list[int], int]


def search(ops: Sequence[Operation], model: Model, initial: Hashable) -> Search:  # noqa: PLR0912, PLR0915 - Wing & Gong's search with Lowe's cache as one loop; splitting it would scatter its invariants
    """Search for a linearization of ``ops`` (all of them included by the model).

    Prime it with ``next()``; then ``send(allowance)`` runs until the total step count
    reaches ``allowance`` (yielding the count) or the search ends (``StopIteration.value``
    is the :class:`Outcome`). A step is one call of ``model.step``.
    """
    allowance = yield 0
    required = sorted((op for op in ops if op.status != "info"), key=lambda op: op.call)
    unknown = sorted((op for op in ops if op.status == "info"), key=lambda op: op.call)
    n_req = len(required)
    step = model.step
    read_only = [model.read_only(op) for op in required]

    # Required entries: head 0, call of op i = 2i+1, return of op i = 2i+2, tail 2n+1.
    tail = 2 * n_req + 1
    position = [0] * (tail + 1)
    order = []
    for i, op in enumerate(required):
        position[2 * i + 1] = op.call
        position[2 * i + 2] = op.ret
        order += [(op.call, 2 * i + 1), (op.ret, 2 * i + 2)]
    order.sort()
    nxt = [0] * (tail + 1)
    prv = [0] * (tail + 1)
    chain = [0, *(entry for _, entry in order), tail]
    for a, b in itertools.pairwise(chain):
        nxt[a] = b
        prv[b] = a

    # Unknown (info) operations, in classes of interchangeable ones (equal footprints): only
    # the earliest unplaced op of a class is ever tried, so the ones placed are always the
    # earliest of their class and ``taken[c]`` says how many. Classes form a linked list
    # (head 0, class c = c+1, tail), ordered by their first op's call; a class whose ops are
    # all placed is unlinked.
    n_unk = len(unknown)
    by_footprint: dict[Hashable, int] = {}
    members: list[list[int]] = [[]]
    class_of = [0] * n_unk
    for j, op in enumerate(unknown):
        footprint = model.footprint(op)
        c = by_footprint.get(footprint, 0) if footprint is not None else 0
        if not c:
            c = len(members)
            members.append([])
            if footprint is not None:
                by_footprint[footprint] = c
        members[c].append(j)
        class_of[j] = c
    ctail = len(members)
    first_call = [0, *(unknown[m[0]].call for m in members[1:]), _END]
    cnxt = list(range(1, ctail + 2))
    cprv = [max(c - 1, 0) for c in range(ctail + 1)]
    taken = [0] * ctail

    state: Hashable = initial
    p = 0  # every required op numbered below p is linearized
    window = 0  # bit k: required op p+k is linearized
    imask = 0  # bit j: unknown op j is linearized
    count = 0  # required ops linearized
    steps = 0
    # A frame: (entry, state before, p, window, imask, limit, candidates, position); entry < 0
    # names an unknown op; limit -1 marks a forced read (its configuration has no other child
    # to try); candidates and position say where the configuration's other calls stood.
    stack: list[_Frame] = []
    # Lowe's cache, with subsumption: (p, window, state) -> the unknown-op sets seen with it.
    # A configuration is skipped if one seen had the same required ops placed, the same
    # state and a subset of its unknown ops placed: unknown ops are never obliged to take
    # effect, so the smaller set can do all the larger one can.
    cache: dict[tuple[int, int, Hashable], list[int]] = {}
    configurations = 0

    def seen(key: tuple[int, int, Hashable], mask: int) -> bool:
        nonlocal configurations
        masks = cache.get(key)
        if masks is None:
            cache[key] = [mask]
        else:
            for other in masks:
                if not other & ~mask:
                    return True
            if len(masks) > 1:
                masks[:] = [other for other in masks if mask & ~other]
            masks.append(mask)
        configurations += 1
        return False

    def candidates(first_return: int) -> list[int]:
        """The calls (not reads) that may come next, most promising first: the one whose
        return comes first (it must be placed before anything that follows that return),
        or, when that is a read not legal now, the calls after which it would be; then the
        others in call order."""
        nonlocal steps
        calls = []
        entry = nxt[0]
        while entry != first_return:
            if entry & 1 and not read_only[(entry - 1) >> 1]:
                calls.append(entry)
            entry = nxt[entry]
        due = first_return - 1  # the call entry of the op whose return comes first
        if not read_only[(due - 1) >> 1]:
            if calls and calls[0] != due:
                calls.remove(due)
                calls.insert(0, due)
            return calls
        reader = required[(due - 1) >> 1]
        enabling: list[int] = []
        rest: list[int] = []
        for entry in calls:
            steps += 2
            legal, after = step(state, required[(entry - 1) >> 1])
            (enabling if legal and step(after, reader)[0] else rest).append(entry)
        return enabling + rest

    best = 0
    best_stack: list[_Frame] = []
    common = 0  # stack[:common] == best_stack[:common]

    # Each configuration tries its candidates in three passes: reads (a legal one is placed
    # and nothing else is tried), then the other required calls in the order
    # ``candidates`` gives, then unknown operations.
    entry = nxt[0]
    phase = _READS
    ientry = 0
    limit = 0
    calls: list[int] = []
    at = 0
    while count < n_req:
        if phase == _READS:
            if entry & 1:  # a call: a read is placed here if it is legal
                i = (entry - 1) >> 1
                if not read_only[i]:
                    entry = nxt[entry]
                    continue
                if steps >= allowance:
                    allowance = yield steps
                steps += 1
                legal, new_state = step(state, required[i])
                if not legal:
                    entry = nxt[entry]
                    continue
                new_p, new_window = _placed(p, window, i)
                if seen((new_p, new_window, new_state), imask):
                    phase, ientry, limit = _UNKNOWN, ctail, 0  # its only child failed
                    continue
                stack.append((entry, state, p, window, imask, -1, calls, at))
            else:  # the first return: nothing invoked after it may come first
                limit = position[entry]
                calls = candidates(entry)
                at = 0
                phase = _OTHERS
                continue
        elif phase == _OTHERS:
            if at == len(calls):
                ientry = cnxt[0]
                phase = _UNKNOWN
                continue
            entry = calls[at]
            i = (entry - 1) >> 1
            if steps >= allowance:
                allowance = yield steps
            steps += 1
            legal, new_state = step(state, required[i])
            if not legal:
                at += 1
                continue
            new_p, new_window = _placed(p, window, i)
            if seen((new_p, new_window, new_state), imask):
                at += 1
                continue
            stack.append((entry, state, p, window, imask, limit, calls, at))
        else:
            if first_call[ientry] < limit:  # a class with an op invoked before that return
                group = members[ientry]
                j = group[taken[ientry]]
                if unknown[j].call < limit:
                    if steps >= allowance:
                        allowance = yield steps
                    steps += 1
                    legal, new_state = step(state, unknown[j])
                    if legal:
                        new_imask = imask | (1 << j)
                        if not seen((p, window, new_state), new_imask):
                            stack.append((-j - 1, state, p, window, imask, limit, calls, at))
                            state, imask = new_state, new_imask
                            taken[ientry] += 1
                            if taken[ientry] == len(group):
                                cnxt[cprv[ientry]] = cnxt[ientry]
                                cprv[cnxt[ientry]] = cprv[ientry]
                            entry = nxt[0]
                            phase = _READS
                            continue
                ientry = cnxt[ientry]
                continue
            # Every candidate failed here: undo the last choice and try the next one.
            if not stack:
                return _failure(
                    best_stack, required, unknown, model, initial, steps, configurations
                )
            last, state, p, window, imask, limit, calls, at = stack.pop()
            common = min(common, len(stack))
            if last > 0:
                ret = last + 1
                nxt[prv[ret]] = ret
                prv[nxt[ret]] = ret
                nxt[prv[last]] = last
                prv[nxt[last]] = last
                count -= 1
                if limit < 0:  # a read was placed here: that configuration has failed too
                    phase, ientry, limit = _UNKNOWN, ctail, 0
                else:
                    at += 1
                    phase = _OTHERS
            else:
                ientry = class_of[-last - 1]
                if taken[ientry] == len(members[ientry]):
                    cnxt[cprv[ientry]] = ientry
                    cprv[cnxt[ientry]] = ientry
                taken[ientry] -= 1
                ientry = cnxt[ientry]
                phase = _UNKNOWN
            continue
        # A required call was placed (its frame is on the stack): unlink it and go deeper.
        state, p, window = new_state, new_p, new_window
        count += 1
        ret = entry + 1
        nxt[prv[entry]] = nxt[entry]
        prv[nxt[entry]] = prv[entry]
        nxt[prv[ret]] = nxt[ret]
        prv[nxt[ret]] = prv[ret]
        if count > best:
            best = count
            del best_stack[common:]
            best_stack.extend(stack[common:])
            common = len(stack)
        entry = nxt[0]
        phase = _READS
    witness = tuple(_op_of(frame[0], required, unknown) for frame in stack)
    return Outcome(True, witness, state, None, steps, configurations)


def _placed(p: int, window: int, i: int) -> tuple[int, int]:
    """The linearized set ``(p, window)`` with required op ``i`` added."""
    window |= 1 << (i - p)
    if i == p:
        ones = ((window + 1) & ~window).bit_length() - 1
        p += ones
        window >>= ones
    return p, window


def _op_of(entry: int, required: Sequence[Operation], unknown: Sequence[Operation]) -> Operation:
    return unknown[-entry - 1] if entry < 0 else required[(entry - 1) >> 1]


def _failure(
    best_stack: Sequence[_Frame],
    required: Sequence[Operation],
    unknown: Sequence[Operation],
    model: Model,
    initial: Hashable,
    steps: int,
    configurations: int,
) -> Outcome:
    prefix = tuple(_op_of(frame[0], required, unknown) for frame in best_stack)
    state = initial
    for op in prefix:
        _, state = model.step(state, op)
    placed = {op.index for op in prefix}
    blocked = min((op for op in required if op.index not in placed), key=lambda op: op.ret)
    return Outcome(False, prefix, state, blocked, steps, configurations)
