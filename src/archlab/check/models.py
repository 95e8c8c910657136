"""Sequential specifications the linearizability checker tests histories against (codex 5.1).

A :class:`Model` is a deterministic sequential object: an initial state and a step function
``step(state, op) -> (legal, next_state)``. The checker searches for an order of the
history's operations, consistent with real time, in which every step is legal. States must be
hashable (the search memoises ``(linearized set, state)`` pairs), so a model keeps them as
immutable values: numbers, strings, tuples, frozensets.

Which completed operations take part in the search is the model's call too
(:meth:`Model.included`): by default an ``ok`` operation must take effect, an ``info`` one may
take effect at any time after its invocation or never, and a ``fail`` one did not take effect.
The register models refine this: an ``info`` read constrains nothing and is dropped, and a
``fail`` compare-and-set is a completed operation whose compare failed (etcd reports it so).

Built-in models: ``register`` (read, write), ``cas-register`` (read, write, cas) and ``kv``
(a cas-register per key, which also takes the get / put / append operations of 6.824 and
Porcupine key-value histories; P-compositional, so the checker splits its history by key). Other
chapters add theirs by subclassing :class:`Model` and calling :func:`register_model`::

    class Counter(Model):
        name = "counter"
        def init(self, initial): return initial or 0
        def step(self, state, op):
            if op.f == "add": return True, state + op.value
            return op.output == state, state

    register_model(Counter())
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any

from archlab.check.history import Operation
from archlab.errors import ConfigError, UnknownNameError


class Model(ABC):
    """A sequential specification: initial state, and a step that says if an op is legal.

    Subclasses set :attr:`name` and implement :meth:`init` and :meth:`step`; the other methods
    have defaults that fit most models.
    """

    #: The name ``get_model`` and ``--model`` know it by.
    name: str = ""
    #: One line for ``--help`` and reports.
    description: str = ""

    @abstractmethod
    def init(self, initial: Any) -> Hashable:
        """The state before any operation, given the user's ``--initial`` value (or None)."""

    @abstractmethod
    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        """Whether ``op`` may take effect in ``state``, and the state after it.

        ``op.status`` is ``ok`` (``op.output`` is what the client was told), ``info`` (the
        outcome is unknown: the step should assume it succeeded, since "never took effect" is
        tried by the checker anyway) or ``fail`` (only for operations :meth:`included` keeps).
        """

    def included(self, op: Operation) -> bool:
        """Whether ``op`` takes part in the search (``fail`` ones, by default, do not)."""
        return op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        """Whether ``op`` leaves every state it is legal in unchanged (a read).

        The search uses it as a partial-order reduction: a read-only operation that can take
        effect now is placed now, and the alternatives of placing something else first are
        not explored (moving a read earlier, to a point where it is legal, never makes the rest
        of an order illegal). Say True only when it holds for every state, or the checker may
        wrongly report a linearizable history as not.
        """
        return False

    def footprint(self, op: Operation) -> Hashable | None:
        """A key equal for operations whose ``step`` is the same function, or None.

        The search treats unknown (``info``) operations with equal footprints as
        interchangeable: of several timed-out ``write 3``, only the earliest still unplaced
        one is tried at each point, which keeps a history full of timeouts tractable. None
        (the default) makes every operation its own class.
        """
        return None

    def validate(self, op: Operation) -> str | None:
        """What is malformed about ``op`` for this model (unknown ``f``, bad value), or None."""
        return None

    def partition(self, ops: Sequence[Operation]) -> list[tuple[Hashable, list[Operation]]]:
        """Independent sub-histories, checked separately (P-compositionality).

        The default is one partition holding everything; a model that is a product of
        independent objects (``kv``) splits by object, which makes the search exponentially
        cheaper and is exact: a history is linearizable iff every partition is.
        """
        return [(None, list(ops))]

    def describe(self, op: Operation) -> str:
        """A short human rendering of an operation: ``write 3``, ``read -> 3``."""
        out = "" if op.status != "ok" else f" -> {_show(op.output)}"
        arg = "" if op.value is None else f" {_show(op.value)}"
        tail = "" if op.status == "ok" else f" ({op.status})"
        return f"{op.f}{arg}{out}{tail}"

    def describe_state(self, state: Hashable) -> str:
        return _show(state)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def same(a: Any, b: Any) -> bool:
    """JSON equality: like ``==`` but ``true`` is not ``1`` and ``false`` is not ``0``."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


class Register(Model):
    """A single read/write register: a read returns the last value written."""

    name = "register"
    description = "a read/write register: read returns the last write (f: read, write)"
    ops: tuple[str, ...] = ("read", "write")

    def init(self, initial: Any) -> Hashable:
        return initial  # type: ignore[no-any-return]

    def included(self, op: Operation) -> bool:
        if op.f == "read":
            return op.status == "ok"  # an unknown read constrains nothing; a failed one did nothing
        return op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        return op.f == "read"

    def footprint(self, op: Operation) -> Hashable | None:
        return (op.f, op.status, op.output if op.f == "read" else op.value)

    def validate(self, op: Operation) -> str | None:
        if op.f not in self.ops:
            return (
                f"the {self.name} model has no operation {op.f!r} (expected {', '.join(self.ops)})"
            )
        return None

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        if op.f == "read":
            return same(state, op.output), state
        return True, op.value

    def partition(self, ops: Sequence[Operation]) -> list[tuple[Hashable, list[Operation]]]:
        keys = list(dict.fromkeys(op.key for op in ops))
        if len(keys) > 1:
            shown = ", ".join(_show(k) for k in keys[:3]) + (" ..." if len(keys) > 3 else "")
            raise ConfigError(
                f"the {self.name} model is one object, but the history names {len(keys)} keys "
                f"({shown}): use the kv model to check each key"
            )
        return [(keys[0] if keys else None, list(ops))]

    def describe(self, op: Operation) -> str:
        if op.f == "read":
            return "read -> " + (_show(op.output) if op.status == "ok" else f"? ({op.status})")
        tail = "" if op.status == "ok" else f" ({op.status})"
        return f"{op.f} {_show(op.value)}{tail}"


class CasRegister(Register):
    """A register with compare-and-set: ``cas [expected, new]``.

    A ``fail`` cas completed and its compare failed: it is legal only where the register did
    not hold ``expected``, and changes nothing. An ``info`` cas either succeeded (legal where
    the register held ``expected``) or had no effect, which the search covers by never placing
    it.
    """

    name = "cas-register"
    description = "a register with compare-and-set (f: read, write, cas [expected, new])"
    ops: tuple[str, ...] = ("read", "write", "cas")

    def included(self, op: Operation) -> bool:
        if op.f == "cas":
            return True
        return super().included(op)

    def read_only(self, op: Operation) -> bool:
        return op.f == "read" or (op.f == "cas" and op.status == "fail")

    def validate(self, op: Operation) -> str | None:
        problem = super().validate(op)
        if problem is None and op.f == "cas":
            value = op.value
            if not isinstance(value, tuple) or len(value) != 2:
                return f"a cas takes [expected, new] as its value, got {_show(value)}"
        return problem

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        if op.f == "cas":
            expected, new = op.value
            if op.status == "fail":
                return not same(state, expected), state
            if same(state, expected):
                return True, new
            return False, state
        return super().step(state, op)

    def describe(self, op: Operation) -> str:
        if op.f == "cas":
            expected, new = op.value
            result = {"ok": "", "fail": " -> compare failed", "info": " (info)"}[op.status]
            return f"cas {_show(expected)}→{_show(new)}{result}"
        return super().describe(op)


class KeyValue(CasRegister):
    """Independent cas-registers, one per ``key``: checked key by key.

    It also speaks the get / put / append vocabulary of the key-value histories of MIT 6.824
    and Porcupine's test data: ``put v`` is a write, ``get`` a read, ``append s`` adds the
    string ``s`` to the end of the key's value, and a key never written holds the empty
    string for ``get`` and ``append`` (``read`` of it returns the ``--initial`` value, null
    by default).
    """

    name = "kv"
    description = (
        "a map of independent cas-registers, one per key (f: read, write, cas; "
        "or get, put, append as in the 6.824 / Porcupine key-value histories)"
    )
    ops: tuple[str, ...] = ("read", "write", "cas", "get", "put", "append")
    _READS = ("read", "get")

    def included(self, op: Operation) -> bool:
        if op.f == "get":
            return op.status == "ok"
        return super().included(op)

    def read_only(self, op: Operation) -> bool:
        return op.f == "get" or super().read_only(op)

    def footprint(self, op: Operation) -> Hashable | None:
        return (op.f, op.status, op.output if op.f in self._READS else op.value)

    def validate(self, op: Operation) -> str | None:
        problem = super().validate(op)
        if problem is None and op.f == "append" and not isinstance(op.value, str):
            return f"an append takes the string to add as its value, got {_show(op.value)}"
        return problem

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        if op.f == "get":
            return same("" if state is None else state, op.output), state
        if op.f == "put":
            return True, op.value
        if op.f == "append":
            if state is not None and not isinstance(state, str):
                return False, state
            return True, ("" if state is None else state) + op.value
        return super().step(state, op)

    def describe(self, op: Operation) -> str:
        if op.f == "get":
            return "get -> " + (_show(op.output) if op.status == "ok" else f"? ({op.status})")
        if op.f in ("put", "append"):
            tail = "" if op.status == "ok" else f" ({op.status})"
            return f"{op.f} {_show(op.value)}{tail}"
        return super().describe(op)

    def partition(self, ops: Sequence[Operation]) -> list[tuple[Hashable, list[Operation]]]:
        groups: dict[Hashable, list[Operation]] = {}
        for op in ops:
            groups.setdefault(op.key, []).append(op)
        return list(groups.items())


_MODELS: dict[str, Model] = {}


def register_model(model: Model) -> Model:
    """Make ``model`` known to :func:`get_model` (and so to ``--model``) by its name."""
    if not model.name:
        raise ValueError(f"{type(model).__name__} has no name")
    existing = _MODELS.get(model.name)
    if existing is not None and type(existing) is not type(model):
        raise ValueError(f"model {model.name!r} is registered twice")
    _MODELS[model.name] = model
    return model


def get_model(name: str | Model) -> Model:
    """The model called ``name`` (a :class:`Model` is returned as is)."""
    if isinstance(name, Model):
        return name
    try:
        return _MODELS[name]
    except KeyError:
        raise UnknownNameError("model", name, sorted(_MODELS)) from None


def model_names() -> list[str]:
    return sorted(_MODELS)


for _model in (Register(), CasRegister(), KeyValue()):
    register_model(_model)
