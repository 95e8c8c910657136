"""Deterministic simulation with fault injection: where distributed protocols are tested.

Codex 5.1-5.3 and 6.1 (and every replicated mechanism after them) run their sans-IO protocol
cores here: thousands of seeds a minute, every fault injectable, every failing seed replayable
from one command. The pieces, one module each:

=====================  ===================================================================
``kernel``             virtual time, the event queue, named seeded random streams
``trace``              what happened, as JSON Lines (byte-identical for a seed)
``latency``            constant / uniform / lognormal delays
``network``            links with latency, loss, duplication, reordering; partitions
``disk``, ``records``  a disk with explicit fsync and torn writes; checksummed logs/state
``clock``              node clocks with offset and drift
``process``            the sans-IO contract: ``Node`` inputs, effects out
``host``               runs a ``Node``: crash, durable / volatile restart, pause
``client``             client processes recording a history (timeouts are ``info``)
``workload``           operation generators (register, list-append, rw-register)
``nemesis``            declarative fault schedules
``world``              a cluster + clients + nemesis, run once -> ``RunResult``
``scenario``           the registry behind ``archlab sim <name>``; reproduction commands
``sweep``              seeds over worker processes
``register``           the primary-backup register (correct and broken)
``scenarios``          ``archlab sim register``
``weakstores``         deliberately weak stores for the 5.1 experiments
``brokensnapshots``    snapshot-isolation stores with the lost-update and long-fork flaws
``experiments``        the 5.1 claims; ``benchmarks``: ``archlab bench sim``; ``cli``
=====================  ===================================================================

Import what you need from the modules; the most used names are re-exported here.
"""

from archlab.sim.client import ClientStub, Completion, Redirect
from archlab.sim.clock import NodeClock
from archlab.sim.disk import Disk
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant, LogNormal, Uniform
from archlab.sim.nemesis import FaultPlan, NemesisSpec
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import (
    Apply,
    CancelTimer,
    Effect,
    Node,
    NodeEnv,
    Note,
    Op,
    Reply,
    Request,
    Send,
    SetTimer,
    Sync,
)
from archlab.sim.records import RecordLog, read_state, write_state
from archlab.sim.scenario import RunConfig, Scenario, ScenarioOption, register_scenario
from archlab.sim.world import RunResult, World

__all__ = [
    "Apply",
    "CancelTimer",
    "ClientStub",
    "Completion",
    "Constant",
    "Disk",
    "Effect",
    "FaultPlan",
    "Host",
    "LinkConfig",
    "LogNormal",
    "NemesisSpec",
    "Network",
    "Node",
    "NodeClock",
    "NodeEnv",
    "Note",
    "Op",
    "RecordLog",
    "Redirect",
    "Reply",
    "Request",
    "RunConfig",
    "RunResult",
    "Scenario",
    "ScenarioOption",
    "Send",
    "SetTimer",
    "Simulation",
    "Sync",
    "Uniform",
    "World",
    "read_state",
    "register_scenario",
    "write_state",
]
