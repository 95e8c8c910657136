"""Chapter 8.2: iteration-level (continuous) batching, and static batching as the baseline.

Sans-IO: :meth:`ContinuousScheduler.schedule` is called once per model iteration and returns the
tokens each sequence contributes to that iteration's forward pass; the caller runs the model,
then reports the sampled tokens (:meth:`complete`). Orca's insight is the granularity: a
sequence joins the batch at the next iteration after it arrives and leaves at the iteration it
finishes, instead of the whole batch waiting for its longest member.

Policy (vLLM's): running sequences first, oldest first, one decode token each (or their next
prefill chunk); when the KV pool cannot hold the next token, the *newest* running sequence is
preempted, by swapping its blocks to host memory if there is room there, else by freeing them
and recomputing later. Then swapped sequences come back in (oldest first) unless something was
just preempted; then waiting requests are admitted first come, first served while the token
budget (``max_batched_tokens``), the sequence cap (``max_seqs``) and free blocks allow. With
``chunked_prefill`` a long prompt is split across iterations to fit the budget, so decodes are
not stalled behind it.

:class:`StaticScheduler` forms a batch only when the previous one has completely finished.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from archlab.llm.blocks import BlockManager, Movements


class Status(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    SWAPPED = "swapped"
    FINISHED = "finished"


@dataclass
class SequenceState:
    """One generated sequence: its prompt, its output so far, and how much is cached."""

    seq_id: int
    prompt: list[int]
    max_tokens: int
    arrival: float = 0.0
    output: list[int] = field(default_factory=list)
    computed: int = 0  # leading tokens whose K/V are in the cache
    status: Status = Status.WAITING
    preemptions: int = 0
    fork_blocks: int = 0  # blocks its parallel samples (forks) will need beyond its own
    first_token_at: float | None = None
    finished_at: float | None = None

    @property
    def tokens(self) -> list[int]:
        return self.prompt + self.output

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.output)

    @property
    def done(self) -> bool:
        return len(self.output) >= self.max_tokens


@dataclass(frozen=True)
class Scheduled:
    """``count`` tokens of ``seq`` starting at position ``start`` go into this iteration."""

    seq: SequenceState
    start: int
    count: int

    @property
    def samples(self) -> bool:
        """Whether this chunk reaches the end of the known tokens, so a token is sampled."""
        return self.start + self.count == self.seq.length

    @property
    def tokens(self) -> list[int]:
        return self.seq.tokens[self.start : self.start + self.count]


@dataclass
class Step:
    scheduled: list[Scheduled]
    movements: Movements
    preempted: list[int] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        return sum(s.count for s in self.scheduled)


@dataclass(frozen=True)
class SchedulerConfig:
    max_batched_tokens: int = 2048
    max_seqs: int = 64
    chunked_prefill: bool = False
    preemption: str = "swap"  # or "recompute"


class ContinuousScheduler:
    """Waiting, running and swapped queues over a :class:`BlockManager`."""

    def __init__(self, blocks: BlockManager, config: SchedulerConfig | None = None) -> None:
        self.blocks = blocks
        self.config = config or SchedulerConfig()
        self.waiting: deque[SequenceState] = deque()
        self.running: list[SequenceState] = []
        self.swapped: deque[SequenceState] = deque()
        self.preemptions = 0

    def add(self, seq: SequenceState) -> None:
        self.waiting.append(seq)

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self.swapped)

    def schedule(self) -> Step:
        budget = self.config.max_batched_tokens
        scheduled: list[Scheduled] = []
        preempted: list[int] = []
        index = 0
        while index < len(self.running) and budget > 0:
            seq = self.running[index]
            count = self._chunk(seq, budget)
            need = self.blocks.blocks_to_grow(seq.seq_id, seq.computed + count, seq.computed)
            while need > self.blocks.allocator.num_free and self.running[-1] is not seq:
                preempted.append(self._preempt(self.running.pop()))
            if need > self.blocks.allocator.num_free:
                preempted.append(self._preempt(self.running.pop()))
                break
            self.blocks.ensure_slots(seq.seq_id, seq.computed + count, seq.computed)
            scheduled.append(Scheduled(seq, seq.computed, count))
            budget -= count
            index += 1
        if not preempted:
            budget = self._swap_in(scheduled, budget)
        if not preempted and not self.swapped:
            self._admit(scheduled, budget)
        return Step(scheduled, self.blocks.take_movements(), preempted)

    def _chunk(self, seq: SequenceState, budget: int) -> int:
        remaining = seq.length - seq.computed
        return min(remaining, budget) if self.config.chunked_prefill else remaining

    def _swap_in(self, scheduled: list[Scheduled], budget: int) -> int:
        while self.swapped and budget > 0 and len(self.running) < self.config.max_seqs:
            seq = self.swapped[0]
            if not self.blocks.can_swap_in(seq.seq_id):
                break
            self.blocks.swap_in(seq.seq_id)
            if self.blocks.blocks_to_grow(seq.seq_id, seq.length, seq.computed) > (
                self.blocks.allocator.num_free
            ):
                self.blocks.swap_out(seq.seq_id)  # undo: it cannot grow by its next token
                break
            self.swapped.popleft()
            count = self._chunk(seq, budget)
            self.blocks.ensure_slots(seq.seq_id, seq.computed + count, seq.computed)
            seq.status = Status.RUNNING
            self.running.append(seq)
            scheduled.append(Scheduled(seq, seq.computed, count))
            budget -= count
        return budget

    def _admit(self, scheduled: list[Scheduled], budget: int) -> None:
        while self.waiting and len(self.running) < self.config.max_seqs and budget > 0:
            seq = self.waiting[0]
            if not self.config.chunked_prefill and seq.length > budget:
                break
            if not self.blocks.can_allocate(seq.length):
                break
            self.waiting.popleft()
            seq.computed = self.blocks.allocate(seq.seq_id, seq.tokens)
            count = self._chunk(seq, budget)
            seq.status = Status.RUNNING
            self.running.append(seq)
            scheduled.append(Scheduled(seq, seq.computed, count))
            budget -= count

    def _preempt(self, seq: SequenceState) -> int:
        seq.preemptions += 1
        self.preemptions += 1
        if self.config.preemption == "swap" and self.blocks.can_swap_out(seq.seq_id):
            self.blocks.swap_out(seq.seq_id)
            seq.status = Status.SWAPPED
            self.swapped.append(seq)
        else:
            self.blocks.free(seq.seq_id)
            seq.computed = 0
            seq.status = Status.WAITING
            self.waiting.appendleft(seq)
        return seq.seq_id

    def complete(
        self, step: Step, sampled: dict[int, int], now: float = 0.0
    ) -> list[SequenceState]:
        """Record an iteration's results (the token sampled per sequence); return finished ones."""
        finished: list[SequenceState] = []
        for item in step.scheduled:
            seq = item.seq
            if seq.status is not Status.RUNNING:
                continue
            seq.computed = item.start + item.count
            self.blocks.mark_computed(seq.seq_id, seq.tokens, seq.computed)
            if item.seq.seq_id in sampled:
                seq.output.append(sampled[seq.seq_id])
                if seq.first_token_at is None:
                    seq.first_token_at = now
            if seq.done:
                self.finish(seq, now)
                finished.append(seq)
        return finished

    def finish(self, seq: SequenceState, now: float = 0.0) -> None:
        """End a sequence (its last token, a stop string, or a cancelled request)."""
        seq.status = Status.FINISHED
        seq.finished_at = now
        self.blocks.free(seq.seq_id)
        for queue in (self.running, self.waiting, self.swapped):
            if seq in queue:
                queue.remove(seq)


class StaticScheduler(ContinuousScheduler):
    """Request-level batching: a new batch starts only when the whole previous one finished."""

    def schedule(self) -> Step:
        if self.running:
            scheduled = []
            for seq in self.running:
                if seq.done:
                    continue  # its batch slot idles until the longest member finishes
                count = seq.length - seq.computed
                self.blocks.ensure_slots(seq.seq_id, seq.computed + count, seq.computed)
                scheduled.append(Scheduled(seq, seq.computed, count))
            return Step(scheduled, self.blocks.take_movements())
        scheduled_new: list[Scheduled] = []
        budget = self.config.max_batched_tokens
        forks = 0  # blocks kept free for the batch's forks, which grow after admission
        while self.waiting and len(self.running) < self.config.max_seqs:
            seq = self.waiting[0]
            # The batch must run to its end without preemption: reserve every block up front.
            reserve = forks + seq.fork_blocks
            if seq.length > budget or not self.blocks.can_allocate(
                seq.length + seq.max_tokens, reserve=reserve
            ):
                break
            forks = reserve
            self.waiting.popleft()
            seq.computed = self.blocks.allocate(seq.seq_id, seq.tokens)
            self.blocks.ensure_slots(seq.seq_id, seq.length + seq.max_tokens, seq.length)
            seq.status = Status.RUNNING
            self.running.append(seq)
            scheduled_new.append(Scheduled(seq, seq.computed, seq.length - seq.computed))
            budget -= seq.length
        return Step(scheduled_new, self.blocks.take_movements())

    def complete(
        self, step: Step, sampled: dict[int, int], now: float = 0.0
    ) -> list[SequenceState]:
        finished: list[SequenceState] = []
        for item in step.scheduled:
            seq = item.seq
            if seq.status is not Status.RUNNING:
                continue
            seq.computed = item.start + item.count
            if seq.seq_id in sampled and not seq.done:
                seq.output.append(sampled[seq.seq_id])
                if seq.first_token_at is None:
                    seq.first_token_at = now
            if seq.done and seq.finished_at is None:
                seq.finished_at = now
                finished.append(seq)
        if all(s.done for s in self.running):
            for seq in list(self.running):
                seq.status = Status.FINISHED
                self.blocks.free(seq.seq_id)
            self.running.clear()
        return finished
