"""Did every saga end all-or-nothing, exactly once? Judged from the services' ledgers (6.1).

After a run (and a settling period after the faults healed), :func:`saga_audit` reads what
every service durably applied: for each idempotency key ``<saga>/<step>``, how many times the
action was applied and how many times it was compensated. A correct saga implementation
leaves every saga in one of two states:

- **committed**: every step applied exactly once, none compensated;
- **compensated**: every step that was applied was compensated exactly once (a step never
  applied, or cancelled by a tombstone, counts as nothing).

What it reports as violations: a key applied (or compensated) more than once (a retry that
double-applied: the broken, non-idempotent variant), a saga left half-done, a saga the
orchestrator records as committed or compensated while the ledgers say otherwise, a saga
still unfinished after the faults healed, and money not conserved across the banks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from archlab.sim.process import Address
from archlab.sim.world import World
from archlab.txn.saga.bank import Bank


def _bank(world: World, address: Address) -> Bank | None:
    node = world.hosts[address].node
    bank = getattr(node, "bank", None)
    return bank if isinstance(bank, Bank) else None


def _declared_outcomes(world: World) -> tuple[dict[str, str], list[str]]:
    """What orchestrators (or choreography initiators) say ended how, and what is running."""
    outcomes: dict[str, str] = {}
    running: list[str] = []
    for host in world.hosts.values():
        node = host.node
        orchestrator = getattr(node, "orchestrator", None)
        if orchestrator is not None:
            outcomes.update(orchestrator.outcomes)
            running += sorted(orchestrator.sagas)
        elif isinstance(getattr(node, "outcomes", None), dict):
            outcomes.update(node.outcomes)  # type: ignore[union-attr]
    return outcomes, running


def saga_audit(  # noqa: PLR0912 - one branch per saga step state the audit checks
    world: World,
    banks: Iterable[Address],
    ledger: Address,
    expected_total: int,
    *,
    steps: int,
) -> dict[str, Any]:
    """The audit of a saga world (see the module docstring), as a JSON-able dict."""
    banks = tuple(banks)
    applied: Counter[str] = Counter()
    compensated: Counter[str] = Counter()
    total = 0
    overdrawn = 0
    violations: list[str] = []
    for address in (*banks, ledger):
        bank = _bank(world, address)
        if bank is None:
            violations.append(f"{address} is not running at the end: its ledger is unknown")
            continue
        applied.update(bank.applications)
        compensated.update(bank.compensations)
        overdrawn += bank.overdrawn
        if address in banks:
            total += sum(bank.balances.values())
    sagas = sorted({key.split("/", 1)[0] for key in (*applied, *compensated)})
    declared, running = _declared_outcomes(world)
    double = 0
    counts = {"committed": 0, "compensated": 0}
    for saga in sagas:
        keys = [f"{saga}/{i}" for i in range(steps)]
        for key in keys:
            if applied[key] > 1 or compensated[key] > 1:
                double += 1
                violations.append(
                    f"{key} was applied {applied[key]} time(s) and compensated "
                    f"{compensated[key]} time(s)"
                )
        net = [applied[k] - compensated[k] for k in keys]
        if all(n == 1 for n in net):
            state = "committed"
        elif all(n == 0 for n in net):
            state = "compensated"
        else:
            state = "half-done"
            done = [str(i) for i, n in enumerate(net) if n != 0]
            violations.append(f"saga {saga} ended half-done: step(s) {', '.join(done)} in effect")
        if state in counts:
            counts[state] += 1
        said = declared.get(saga)
        if said in ("committed", "compensated") and state not in (said, "half-done"):
            violations.append(f"saga {saga} is recorded as {said}, but its ledgers say {state}")
    for saga in running:
        violations.append(f"saga {saga} was still running after the faults healed")
    if total != expected_total:
        violations.append(f"the banks hold {total}, not the {expected_total} they started with")
    return {
        "violations": violations,
        "total": total,
        "expected_total": expected_total,
        "committed": counts["committed"],
        "compensated": counts["compensated"],
        "unfinished": len(running),
        "overdrawn": overdrawn,
        "double_applied": double,
    }
