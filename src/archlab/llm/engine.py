"""Chapter 8.2: the serving engine, one scheduler iteration → one batched forward → sampling.

:class:`Engine` is sans-IO: :meth:`Engine.step` runs one iteration and returns the tokens it
produced, tagged with their request; a host (the HTTP server, the CLI, an experiment) calls it in
a loop. The model sits behind :class:`ModelRunner`: :class:`SmolLMRunner` runs the numpy SmolLM2
over a :class:`~archlab.llm.kv_cache.PagedKVCache` (and applies the allocator's copy-on-write and
swap movements to it); :class:`TokenCountingRunner` computes nothing, so the scheduler and the
allocator can be simulated at large scale, with the iteration's token counts as its cost.

``n`` parallel samples of one prompt prefill once; the other ``n − 1`` sequences are forks that
share the prompt's blocks copy-on-write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from archlab.errors import ArchlabError
from archlab.llm.blocks import BlockManager, Movements
from archlab.llm.kv_cache import Array, PagedKVCache
from archlab.llm.model import SequenceChunk, SmolLM
from archlab.llm.sampling import SamplingParams, sample
from archlab.llm.scheduler import ContinuousScheduler, SchedulerConfig, SequenceState, Status, Step
from archlab.randomness import RandomSource, seeded


class RequestError(ArchlabError):
    """A request the engine cannot serve (prompt too long, n beyond the pool...)."""


class ModelRunner(Protocol):
    vocab_size: int

    def apply(self, movements: Movements) -> None: ...

    def run(self, chunks: Sequence[SequenceChunk]) -> list[Array]: ...


class SmolLMRunner:
    """The real model over a paged cache of ``num_blocks`` blocks (and host swap space)."""

    def __init__(self, model: SmolLM, num_blocks: int, block_size: int = 16) -> None:
        self.model = model
        self.cache: PagedKVCache = model.new_cache(num_blocks, block_size)
        self.host: dict[int, tuple[list[Array], list[Array]]] = {}
        self.vocab_size = model.config.vocab_size

    def apply(self, movements: Movements) -> None:
        for block, slot in movements.swap_out:
            self.host[slot] = self.cache.read_block(block)
        for source, target in movements.copies:
            self.cache.copy_block(source, target)
        for slot, block in movements.swap_in:
            self.cache.write_block(block, self.host.pop(slot))

    def run(self, chunks: Sequence[SequenceChunk]) -> list[Array]:
        return self.model.forward(chunks, self.cache)


class TokenCountingRunner:
    """A stand-in model: the next token is the last one plus one; it counts what it is fed."""

    def __init__(self, vocab_size: int = 64) -> None:
        self.vocab_size = vocab_size
        self.forwards = 0
        self.tokens = 0
        self.copies = 0
        self.swaps = 0

    def apply(self, movements: Movements) -> None:
        self.copies += len(movements.copies)
        self.swaps += len(movements.swap_out) + len(movements.swap_in)

    def run(self, chunks: Sequence[SequenceChunk]) -> list[Array]:
        self.forwards += 1
        out = []
        for chunk in chunks:
            self.tokens += len(chunk.tokens)
            rows = len(chunk.tokens) if chunk.all_logits else 1
            logits = np.zeros((rows, self.vocab_size), dtype=np.float32)
            last = chunk.tokens[-rows:]
            logits[np.arange(rows), (np.asarray(last) + 1) % self.vocab_size] = 1.0
            out.append(logits)
        return out


@dataclass(frozen=True)
class TokenEvent:
    request_id: str
    index: int  # which of the request's n samples
    token: int
    finish_reason: str | None  # "stop" (end of sequence), "length", or None


@dataclass
class _Request:
    request_id: str
    params: SamplingParams
    seqs: list[SequenceState] = field(default_factory=list)


class Engine:
    """Requests in, tokens out, one iteration per :meth:`step`."""

    def __init__(
        self,
        runner: ModelRunner,
        scheduler: ContinuousScheduler,
        eos_id: int | None = None,
        max_model_len: int = 2048,
        rng: RandomSource | None = None,
    ) -> None:
        self.runner = runner
        self.scheduler = scheduler
        self.blocks: BlockManager = scheduler.blocks
        self.eos_id = eos_id
        self.max_model_len = max_model_len
        self.rng = rng or seeded(0)
        self._requests: dict[str, _Request] = {}
        self._owner: dict[int, tuple[_Request, int]] = {}
        self._next_seq = 0
        self._retired: list[int] = []  # sequences of completed requests, forgotten next step
        self.iterations = 0
        self.generated = 0

    def add_request(
        self, request_id: str, prompt: Sequence[int], params: SamplingParams, now: float = 0.0
    ) -> None:
        self.check_request(prompt, params)
        if request_id in self._requests:
            raise RequestError(f"request id {request_id!r} is already in use")
        request = _Request(request_id, params)
        seq = SequenceState(self._new_id(), list(prompt), params.max_tokens, arrival=now)
        seq.fork_blocks = (params.n - 1) * self._blocks_per_fork(len(prompt), params.max_tokens)
        request.seqs.append(seq)
        self._requests[request_id] = request
        self._owner[seq.seq_id] = (request, 0)
        self.scheduler.add(seq)

    def check_request(self, prompt: Sequence[int], params: SamplingParams) -> None:
        """Refuse what the engine could never serve, before it is queued."""
        if params.n < 1 or params.max_tokens < 1:
            raise RequestError("n and max_tokens must be at least 1")
        if not prompt:
            raise RequestError("the prompt is empty")
        if len(prompt) + params.max_tokens > self.max_model_len:
            raise RequestError(
                f"prompt ({len(prompt)} tokens) plus max_tokens ({params.max_tokens}) exceeds "
                f"the context of {self.max_model_len} tokens"
            )
        budget = self.scheduler.config.max_batched_tokens
        if not self.scheduler.config.chunked_prefill and len(prompt) > budget:
            raise RequestError(f"prompt ({len(prompt)} tokens) exceeds the batch of {budget}")
        need = self.blocks.blocks_needed(len(prompt) + params.max_tokens)
        need += (params.n - 1) * self._blocks_per_fork(len(prompt), params.max_tokens)
        if need > self.blocks.allocator.num_blocks:
            raise RequestError(
                f"n={params.n} samples of this length need {need} KV blocks; "
                f"the pool has {self.blocks.allocator.num_blocks}"
            )

    def _blocks_per_fork(self, prompt: int, max_tokens: int) -> int:
        """Private blocks a fork ends up with: every block its own tokens are written into."""
        size = self.blocks.block_size
        return (prompt + max_tokens - 1) // size - prompt // size + 1

    def _new_id(self) -> int:
        self._next_seq += 1
        return self._next_seq

    @property
    def has_work(self) -> bool:
        return self.scheduler.has_work

    def abort(self, request_id: str, now: float = 0.0) -> None:
        request = self._requests.pop(request_id, None)
        if request is None:
            return
        for seq in request.seqs:
            self._owner.pop(seq.seq_id, None)
            if seq.status is not Status.FINISHED:
                self.scheduler.finish(seq, now)

    def is_active(self, request_id: str) -> bool:
        return request_id in self._requests

    def stop(self, request_id: str, index: int, now: float = 0.0) -> None:
        """End one sample of a request early (a stop string matched in its text)."""
        request = self._requests.get(request_id)
        if request is None or index >= len(request.seqs):
            return
        seq = request.seqs[index]
        if seq.status is not Status.FINISHED:
            self.scheduler.finish(seq, now)
        complete = len(request.seqs) == request.params.n
        if complete and all(s.status is Status.FINISHED for s in request.seqs):
            self._requests.pop(request_id, None)
            self._retired.extend(s.seq_id for s in request.seqs)

    def step(self, now: float = 0.0) -> list[TokenEvent]:
        for seq_id in self._retired:
            self._owner.pop(seq_id, None)
        self._retired.clear()
        step: Step = self.scheduler.schedule()
        if not step.scheduled:
            return []
        self.iterations += 1
        self.runner.apply(step.movements)
        chunks = [
            SequenceChunk(item.tokens, item.start, self.blocks.tables[item.seq.seq_id])
            for item in step.scheduled
        ]
        logits = self.runner.run(chunks)
        sampled: dict[int, int] = {}
        forks: list[tuple[SequenceState, Array]] = []
        for item, rows in zip(step.scheduled, logits, strict=True):
            if not item.samples:
                continue
            request, _ = self._owner[item.seq.seq_id]
            sampled[item.seq.seq_id] = sample(rows[-1], request.params, self.rng)
            if not item.seq.output and request.params.n > len(request.seqs):
                forks.append((item.seq, rows[-1]))
        self.scheduler.complete(step, sampled, now)
        events = [self._event(seq_id, token, now) for seq_id, token in sampled.items()]
        for parent, row in forks:
            events.extend(self._fork(parent, row, now))
        self.generated += len(events)
        return events

    def _event(self, seq_id: int, token: int, now: float) -> TokenEvent:
        request, index = self._owner[seq_id]
        seq = request.seqs[index]
        reason = None
        if self.eos_id is not None and token == self.eos_id and not request.params.ignore_eos:
            reason = "stop"
            if seq.status is not Status.FINISHED:
                self.scheduler.finish(seq, now)
        elif seq.done:
            reason = "length"
        complete = len(request.seqs) == request.params.n
        if complete and all(s.status is Status.FINISHED for s in request.seqs):
            self._requests.pop(request.request_id, None)
            self._retired.extend(s.seq_id for s in request.seqs)
        return TokenEvent(request.request_id, index, token, reason)

    def _fork(
        self, parent: SequenceState, row: npt.NDArray[np.float32], now: float
    ) -> list[TokenEvent]:
        """The other n − 1 samples share the parent's prompt blocks, copy-on-write."""
        request, _ = self._owner[parent.seq_id]
        events = []
        while len(request.seqs) < request.params.n:
            child = SequenceState(
                self._new_id(), list(parent.prompt), parent.max_tokens, parent.arrival
            )
            child.computed = len(parent.prompt)
            child.first_token_at = now
            index = len(request.seqs)
            request.seqs.append(child)
            self._owner[child.seq_id] = (request, index)
            if parent.status is Status.FINISHED and parent.seq_id not in self.blocks.tables:
                # The parent already ended (max_tokens 1, or EOS): nothing left to share.
                child.computed = 0
                self.blocks.allocate(child.seq_id, child.prompt)
            else:
                self.blocks.fork(parent.seq_id, child.seq_id)
            token = sample(row, request.params, self.rng)
            child.output.append(token)
            child.status = Status.RUNNING
            self.scheduler.running.append(child)
            if child.done:
                self.scheduler.finish(child, now)
            events.append(self._event(child.seq_id, token, now))
        return events


def smollm_engine(
    model: SmolLM,
    eos_id: int | None,
    num_blocks: int = 512,
    block_size: int = 16,
    max_seqs: int = 16,
    max_batched_tokens: int = 512,
    max_model_len: int = 2048,
    rng: RandomSource | None = None,
) -> Engine:
    """The engine the server and the CLI run: chunked prefill, swap preemption."""
    blocks = BlockManager(num_blocks, block_size, num_host_blocks=num_blocks)
    config = SchedulerConfig(
        max_batched_tokens=max_batched_tokens, max_seqs=max_seqs, chunked_prefill=True
    )
    runner = SmolLMRunner(model, num_blocks, block_size)
    return Engine(runner, ContinuousScheduler(blocks, config), eos_id, max_model_len, rng)
