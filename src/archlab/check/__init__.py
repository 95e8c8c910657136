"""Checkers for histories: linearizability and transactional isolation (codex 5.1).

:mod:`archlab.check.history` is the shared history format every writer (simulator, runtime,
engines under test) and every checker use. :func:`check_linearizable` (with the models of
:mod:`archlab.check.models`) checks single-object histories; :func:`check_isolation` checks
list-append and rw-register transaction histories against a consistency model, Elle-style
(version orders in :mod:`~archlab.check.listappend` and :mod:`~archlab.check.rwregister`,
the cycle search in :mod:`~archlab.check.cycles`, lost updates in
:mod:`~archlab.check.lostupdate`).
"""

from archlab.check.anomalies import Anomaly
from archlab.check.isolation import IsolationResult, check_isolation
from archlab.check.linearizability import (
    KeyResult,
    LinearizabilityResult,
    check_linearizable,
)
from archlab.check.models import Model, get_model, model_names, register_model

__all__ = [
    "Anomaly",
    "IsolationResult",
    "KeyResult",
    "LinearizabilityResult",
    "Model",
    "check_isolation",
    "check_linearizable",
    "get_model",
    "model_names",
    "register_model",
]
