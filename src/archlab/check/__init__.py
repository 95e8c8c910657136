"""Checkers for histories: linearizability and transactional isolation (codex 5.1).

:mod:`archlab.check.history` is the shared history format every writer (simulator, runtime,
engines under test) and every checker use. :func:`check_linearizable` (with the models of
:mod:`archlab.check.models`) checks single-object histories.
"""

from archlab.check.linearizability import (
    KeyResult,
    LinearizabilityResult,
    check_linearizable,
)
from archlab.check.models import Model, get_model, model_names, register_model

__all__ = [
    "KeyResult",
    "LinearizabilityResult",
    "Model",
    "check_linearizable",
    "get_model",
    "model_names",
    "register_model",
]
