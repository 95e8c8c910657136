"""The linearizability search over one partition (codex 5.1): Wing & Gong with Lowe's cache.

Wing and Gong's algorithm looks for a sequential order of a concurrent history: at each point
it tries every operation that could come next (one invoked before the earliest completion
still pending), applies it to the model, and backtracks when an operation's completion is
reached before it could take effect. Lowe's refinement memoises every configuration reached,
``(the set of operations linearized, the model state)``: two paths reaching the same
configuration have the same future, so each is explored once. This is the search Porcupine
runs, on a doubly linked list of call and return entries where "linearize" unlinks an
operation's two entries and backtracking relinks them (Knuth's dancing links).

Two refinements fit the history format:

- ``info`` operations may take effect at any time after their invocation, or never. They
  live in a second list with no return entries (they never block), and the search succeeds
  once every *required* operation (``ok``, and ``fail`` ones the model keeps) is placed:
  unknown operations left over are the ones that never took effect. At each point required
  candidates are tried before unknown ones, so an unknown write is placed only where it is
  needed to explain what came after it.
- The linearized set is a bitset kept exactly but compactly: required operations are
  numbered in invocation order and the set is stored as ``(p, window)``, where every
  operation before ``p`` is linearized and ``window`` holds the bits from ``p`` on. The
  window spans the history's concurrency, not its length, so a 100k-operation history does
  not make every cache key 12 KB long. Unknown operations have their own bitset.

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
#: Call position of the sentinel ending the unknown-operations list: after everything.
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


def search(ops: Sequence[Operation], model: Model, initial: Hashable) -> Search:
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

    # Unknown (info) operations: head 0, op j = j+1, tail n_unknown+1 with call at the end.
    n_unk = len(unknown)
    itail = n_unk + 1
    icall = [0, *(op.call for op in unknown), _END]
    inxt = list(range(1, itail + 2))
    iprv = [max(k - 1, 0) for k in range(itail + 1)]
    # Interchangeable unknown ops (same footprint): only the earliest unplaced one is tried,
    # so the ones placed are always the earliest of their class. twin[j]: the previous one.
    twin = [-1] * n_unk
    latest: dict[Hashable, int] = {}
    for j, op in enumerate(unknown):
        footprint = model.footprint(op)
        if footprint is not None:
            twin[j] = latest.get(footprint, -1)
            latest[footprint] = j
    placed = bytearray(n_unk)

    state: Hashable = initial
    p = 0  # every required op numbered below p is linearized
    window = 0  # bit k: required op p+k is linearized
    imask = 0  # bit j: unknown op j is linearized
    count = 0  # required ops linearized
    steps = 0
    # A frame: (entry, state before, p, window, imask, limit); entry < 0 names an unknown op;
    # limit -1 marks a forced read (its configuration has no other child to try).
    stack: list[tuple[int, Hashable, int, int, int, int]] = []
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

    best = 0
    best_stack: list[tuple[int, Hashable, int, int, int, int]] = []
    common = 0  # stack[:common] == best_stack[:common]

    # Each configuration tries its candidates in three passes: reads (a legal one is placed
    # and nothing else is tried), then the other required calls, then unknown operations.
    entry = nxt[0]
    phase = _READS
    ientry = 0
    limit = 0
    while count < n_req:
        if phase != _UNKNOWN:
            if entry & 1:  # a call: try to linearize it here
                i = (entry - 1) >> 1
                if read_only[i] != (phase == _READS):
                    entry = nxt[entry]
                    continue
                if steps >= allowance:
                    allowance = yield steps
                steps += 1
                legal, new_state = step(state, required[i])
                if legal:
                    new_window = window | (1 << (i - p))
                    new_p = p
                    if i == p:
                        ones = ((new_window + 1) & ~new_window).bit_length() - 1
                        new_p += ones
                        new_window >>= ones
                    if seen((new_p, new_window, new_state), imask):
                        if phase == _READS:  # its only child was explored and failed
                            phase, ientry, limit = _UNKNOWN, itail, 0
                            continue
                    else:
                        stack.append((entry, state, p, window, imask, -1 if phase == _READS else 0))
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
                        continue
                entry = nxt[entry]
                continue
            # A return: nothing invoked after it may come first.
            if phase == _READS:
                entry = nxt[0]
                phase = _OTHERS
                continue
            limit = position[entry]
            ientry = inxt[0]
            phase = _UNKNOWN
        if icall[ientry] < limit:  # an unknown operation invoked before that return
            j = ientry - 1
            if twin[j] >= 0 and not placed[twin[j]]:
                ientry = inxt[ientry]
                continue
            if steps >= allowance:
                allowance = yield steps
            steps += 1
            legal, new_state = step(state, unknown[j])
            if legal:
                new_imask = imask | (1 << j)
                if not seen((p, window, new_state), new_imask):
                    stack.append((-ientry, state, p, window, imask, limit))
                    state, imask = new_state, new_imask
                    inxt[iprv[ientry]] = inxt[ientry]
                    iprv[inxt[ientry]] = iprv[ientry]
                    placed[j] = 1
                    entry = nxt[0]
                    phase = _READS
                    continue
            ientry = inxt[ientry]
            continue
        # Every candidate failed here: undo the last choice and try the next one.
        if not stack:
            return _failure(best_stack, required, unknown, model, initial, steps, configurations)
        last, state, p, window, imask, limit = stack.pop()
        common = min(common, len(stack))
        if last > 0:
            ret = last + 1
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[last]] = last
            prv[nxt[last]] = last
            count -= 1
            if limit < 0:  # a read was placed here: that configuration has failed too
                phase, ientry, limit = _UNKNOWN, itail, 0
            else:
                entry = nxt[last]
                phase = _OTHERS
        else:
            ientry = -last
            inxt[iprv[ientry]] = ientry
            iprv[inxt[ientry]] = ientry
            placed[ientry - 1] = 0
            ientry = inxt[ientry]
            phase = _UNKNOWN
    witness = tuple(_op_of(frame[0], required, unknown) for frame in stack)
    return Outcome(True, witness, state, None, steps, configurations)


def _op_of(entry: int, required: Sequence[Operation], unknown: Sequence[Operation]) -> Operation:
    return unknown[-entry - 1] if entry < 0 else required[(entry - 1) >> 1]


def _failure(
    best_stack: Sequence[tuple[int, Hashable, int, int, int, int]],
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
