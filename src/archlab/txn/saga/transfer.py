"""Money transfers three ways: an orchestrated saga, a choreographed saga, two-phase commit.

The domain (codex 6.1's running example): ``banks`` account services each hold
``accounts_per_bank`` accounts (``b<bank>.<n>``), the last ``closed`` of them closed; a
ledger service caps what each account may send (``allowance:<account>``). A transfer of
``amount`` from ``src`` to ``dst`` (at another bank) is three local transactions:

1. debit ``src`` at its bank (refused: insufficient funds);
2. credit ``dst`` at its bank (refused: the account is closed);
3. debit ``src``'s allowance at the ledger (refused: over the limit), the *later step that
   fails* once an account has sent enough.

:class:`TransferSetup` fixes the layout and opening balances; :func:`transfer_world` builds the
simulated world for one design, with clients sending transfers and, if ``observer``, client 0
reading every balance over and over (its reads are the history's ``audit`` operations). The
money in the banks must be the same at the end as at the start, whatever happened; what an
observer sees in between is the design's isolation. The world's audit reports both
(:mod:`archlab.txn.saga.audit`, :mod:`archlab.txn.twopc.audit`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.check.history import Event
from archlab.randomness import RandomSource
from archlab.sim.client import Completion, Redirect, StubFactory
from archlab.sim.disk import Disk
from archlab.sim.latency import Distribution, Uniform
from archlab.sim.network import LinkConfig
from archlab.sim.process import Address, Op
from archlab.sim.world import World
from archlab.txn.saga.audit import saga_audit
from archlab.txn.saga.bank import CLOSED, BankConfig
from archlab.txn.saga.choreography import ChoreographyConfig, allowance, choreography_factory
from archlab.txn.saga.messages import Accepted, Balances, Rejected, SagaOutcome
from archlab.txn.saga.nodes import orchestrated_factory
from archlab.txn.saga.orchestrator import OrchestratorConfig, SagaStep
from archlab.txn.store import StoreConfig, StoreNode, TxnStub, store_factory
from archlab.txn.twopc import data
from archlab.txn.twopc.audit import atomicity_violations, audit_logs, outcome_counts
from archlab.txn.twopc.coordinator import CoordinatorConfig
from archlab.txn.twopc.participant import ParticipantConfig, load
from archlab.txn.world import SettlingWorld

Design = Literal["orchestration", "choreography", "2pc"]
DESIGNS: tuple[Design, ...] = ("orchestration", "choreography", "2pc")


@dataclass(frozen=True)
class TransferSetup:
    """The banks, their accounts and the rules (see the module docstring)."""

    banks: int = 2
    accounts_per_bank: int = 4
    closed: int = 1
    opening: int = 100
    allowance: int = 120
    amounts: tuple[int, int] = (10, 50)
    idempotent: bool = True
    observer: bool = True
    reply_on_accept: bool = False
    orchestrator: OrchestratorConfig = field(default_factory=OrchestratorConfig)
    coordinator: CoordinatorConfig = field(default_factory=CoordinatorConfig)
    participant: ParticipantConfig = field(default_factory=ParticipantConfig)

    def accounts(self, bank: int) -> list[str]:
        return [f"b{bank}.{n}" for n in range(self.accounts_per_bank)]

    def is_closed(self, account: str) -> bool:
        return int(account.rsplit(".", 1)[1]) >= self.accounts_per_bank - self.closed

    @property
    def open_accounts(self) -> list[str]:
        return [a for b in range(self.banks) for a in self.accounts(b) if not self.is_closed(a)]

    @property
    def total(self) -> int:
        """The money in the banks: conserved by every correct design."""
        return self.opening * len(self.open_accounts)

    def bank_of(self, account: str) -> int:
        return int(account[1:].split(".", 1)[0])

    # -- server layouts -----------------------------------------------------------------

    def servers(self, design: Design) -> tuple[Address, ...]:
        extra = 2 if design in ("orchestration", "2pc") else 1
        return tuple(f"n{i}" for i in range(self.banks + extra))

    def bank_addresses(self, design: Design) -> tuple[Address, ...]:
        first = 1 if design == "orchestration" else 0
        return tuple(f"n{first + b}" for b in range(self.banks))

    def ledger_address(self, design: Design) -> Address:
        return f"n{self.banks + (1 if design == 'orchestration' else 0)}"

    def owner(self, design: Design, account: str) -> Address:
        if account.startswith("allowance:"):
            return self.ledger_address(design)
        return self.bank_addresses(design)[self.bank_of(account)]

    def opening_balances(self, design: Design) -> dict[Address, dict[str, int]]:
        books: dict[Address, dict[str, int]] = {}
        for bank, address in enumerate(self.bank_addresses(design)):
            books[address] = {
                a: CLOSED if self.is_closed(a) else self.opening for a in self.accounts(bank)
            }
        books[self.ledger_address(design)] = {
            allowance(a): self.allowance for a in self.open_accounts
        }
        return books

    def plan(self, design: Design, op: Op) -> list[SagaStep]:
        """The three local transactions of a transfer (see the module docstring)."""
        if op.f != "transfer":
            raise ValueError(f"a transfer saga cannot run {op.f!r}")
        src, dst, amount = op.value
        return [
            SagaStep(self.owner(design, src), "debit", src, amount),
            SagaStep(self.owner(design, dst), "credit", dst, amount),
            SagaStep(self.ledger_address(design), "debit", allowance(src), amount),
        ]


# -- workload and client stubs -------------------------------------------------------------


@dataclass
class TransferWorkload:
    """Transfers between accounts of different banks; client 0 observes, if ``observer``."""

    setup: TransferSetup
    design: Design

    def next_op(self, rng: RandomSource, process: int) -> Op:
        setup = self.setup
        if setup.observer and process == 0:
            if self.design == "2pc":
                accounts = [a for b in range(setup.banks) for a in setup.accounts(b)]
                return Op("txn", None, tuple(("r", a, None) for a in accounts))
            return Op("audit", None, None)
        banks = rng.sample(range(setup.banks), 2)
        src = rng.choice([a for a in setup.accounts(banks[0]) if not setup.is_closed(a)])
        dst = rng.choice(setup.accounts(banks[1]))
        amount = rng.randint(*setup.amounts)
        if self.design == "2pc":
            micro = (("add", src, -amount), ("add", dst, amount), ("add", allowance(src), -amount))
            return Op("txn", None, micro)
        return Op("transfer", None, (src, dst, amount))


class SagaStub:
    """Transfers go to ``route(op)``; a saga's end is ``ok`` (committed) or ``fail``."""

    def __init__(self, route: Any, proxy: Address) -> None:
        self._route = route
        self.proxy = proxy

    def route(self, op: Op) -> Address:
        if op.f == "audit":
            return self.proxy
        address: Address = self._route(op)
        return address

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        if isinstance(result, Balances):
            return Completion("ok", result.balances)
        if isinstance(result, Accepted):
            return Completion("ok", op.value)
        if isinstance(result, SagaOutcome) and result.outcome == "committed":
            return Completion("ok", op.value)
        if isinstance(result, SagaOutcome | Rejected):
            return Completion("fail", op.value)
        return Redirect(None, 0.01)

    def timed_out(self, op: Op, target: Address) -> None:
        pass


def _stubs(setup: TransferSetup, design: Design) -> StubFactory:
    if design == "2pc":
        coordinator = setup.servers(design)[-1]
        return lambda servers, rng: TxnStub((coordinator,), rng)
    if design == "orchestration":
        return lambda servers, rng: SagaStub(lambda op: "n0", "n0")
    ledger = setup.ledger_address(design)
    return lambda servers, rng: SagaStub(lambda op: setup.owner(design, op.value[0]), ledger)


# -- worlds ------------------------------------------------------------------------------


def transfer_world(
    seed: int,
    setup: TransferSetup,
    design: Design,
    *,
    clients: int = 4,
    ops: int = 100,
    settle: float = 2.0,
    latency: Distribution | None = None,
    **world_kwargs: Any,
) -> SettlingWorld:
    """The transfer domain under ``design``, audited at the end (see the module docstring)."""
    banks = setup.bank_addresses(design)
    ledger = setup.ledger_address(design)
    books = setup.opening_balances(design)
    bootstrap = None
    if design == "orchestration":
        factory = orchestrated_factory(
            "n0",
            lambda op: setup.plan(design, op),
            _orchestrator_config(setup),
            {a: BankConfig(books[a], setup.idempotent) for a in (*banks, ledger)},
            banks,
        )
    elif design == "choreography":
        factory = choreography_factory(
            ChoreographyConfig(
                owner=lambda account: setup.owner(design, account),
                ledger=ledger,
                banks=banks,
                accounts=books,
                idempotent=setup.idempotent,
            )
        )
    else:
        coordinator = setup.servers(design)[-1]
        store = StoreConfig(
            shards=(*banks, ledger),
            coordinators=(coordinator,),
            placement=lambda key: setup.owner(design, str(key)),
            participant=setup.participant,
            coordinator=setup.coordinator,
        )
        factory = store_factory(store)

        def bootstrap(address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
            if address in books:
                load(
                    disk, {a: data.CLOSED if b == CLOSED else b for a, b in books[address].items()}
                )

    def audit(world: World) -> dict[str, Any]:
        return _audit(world, setup, design)

    return SettlingWorld(
        seed=seed,
        node_factory=factory,
        stub_factory=_stubs(setup, design),
        workload=TransferWorkload(setup, design),
        nodes=len(setup.servers(design)),
        clients=clients,
        ops=ops,
        link=LinkConfig(latency=latency or Uniform(0.001, 0.005)),
        bootstrap=bootstrap,
        settle=settle,
        audit=audit,
        **world_kwargs,
    )


def _orchestrator_config(setup: TransferSetup) -> OrchestratorConfig:
    base = setup.orchestrator
    if setup.reply_on_accept == base.reply_on_accept:
        return base
    return OrchestratorConfig(base.retry, base.max_retry, base.max_attempts, setup.reply_on_accept)


def _audit(world: World, setup: TransferSetup, design: Design) -> dict[str, Any]:
    if design != "2pc":
        return saga_audit(
            world, setup.bank_addresses(design), setup.ledger_address(design), setup.total, steps=3
        )
    banks = setup.bank_addresses(design)
    ledger = setup.ledger_address(design)
    coordinator = setup.servers(design)[-1]
    disks = {a: h.disk for a, h in world.hosts.items()}
    logs = audit_logs(disks, (*banks, ledger), (coordinator,))
    total = 0
    for address in banks:
        node = world.hosts[address].node
        if isinstance(node, StoreNode) and node.participant is not None:
            versions = node.participant.versions
            total += sum(v for k in versions.all_keys() if isinstance(v := versions.latest(k), int))
    counts = outcome_counts(logs)
    return {
        "violations": atomicity_violations(logs),
        "total": total,
        "expected_total": setup.total,
        "committed": counts["committed"],
        "compensated": counts["aborted"],
        "unfinished": counts["in_doubt"],
        "overdrawn": 0,
        "double_applied": 0,
    }


# -- what the observer saw -----------------------------------------------------------------


def observed_totals(history: Sequence[Event], setup: TransferSetup) -> list[tuple[float, int]]:
    """(time, money seen in the banks) for each completed observation in the history."""
    seen: list[tuple[float, int]] = []
    for event in history:
        if event.type != "ok" or event.process != 0:
            continue
        if event.f == "audit":
            balances: Mapping[Hashable, Any] = dict(event.value)
        elif event.f == "txn":
            balances = {k: v for _, k, v in event.value}
        else:
            continue
        money = sum(
            v for k, v in balances.items() if isinstance(v, int) and not str(k).startswith("allow")
        )
        seen.append((event.time or 0.0, money))
    return seen
