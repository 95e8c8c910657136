"""Chapter 8.2: ``archlab llm serve``, an OpenAI-compatible HTTP API over the batching engine.

One asyncio task owns the :class:`~archlab.llm.engine.Engine`: it takes new requests from a
queue between iterations, runs each iteration in a worker thread (the numpy forward pass
releases the GIL in BLAS), and hands every produced token to the waiting request's queue. So
concurrent HTTP requests share each batched forward pass, and a request joins the batch at the
next iteration (continuous batching). Endpoints: ``POST /v1/completions``,
``POST /v1/chat/completions`` (both with ``stream``: server-sent events ending in
``data: [DONE]``), ``GET /v1/models``, ``GET /metrics`` (Prometheus text: sequences running and
waiting, KV blocks used and free, tokens per second). Bad requests get OpenAI's error object with
a 4xx status; the batch carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from archlab.llm.api import ApiError, ApiRequest, TextStream, parse_chat, parse_completion
from archlab.llm.engine import Engine, RequestError, TokenEvent
from archlab.llm.tokenizer import Tokenizer

MODEL_NAME = "SmolLM2-135M-Instruct"


@dataclass
class _Pending:
    request_id: str
    prompt: list[int]
    api: ApiRequest
    events: asyncio.Queue[TokenEvent | None] = field(default_factory=asyncio.Queue)


class EngineLoop:
    """The single task that drives the engine; requests talk to it through queues."""

    def __init__(self, engine: Engine, tokenizer: Tokenizer) -> None:
        self.engine = engine
        self.tokenizer = tokenizer
        self._incoming: list[_Pending] = []
        self._cancelled: list[str] = []
        self._stops: list[tuple[str, int]] = []
        self._live: dict[str, _Pending] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.started = time.monotonic()
        self.tokens_total = 0
        self._recent: list[tuple[float, int]] = []

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def submit(self, api: ApiRequest) -> _Pending:
        prompt = self.tokenizer.encode(api.prompt)
        try:
            self.engine.check_request(prompt, api.params)
        except RequestError as exc:
            raise ApiError(str(exc), "prompt" if "prompt" in str(exc) else "n") from exc
        pending = _Pending(uuid.uuid4().hex, prompt, api)
        self._incoming.append(pending)
        self._wake.set()
        return pending

    def cancel(self, request_id: str) -> None:
        self._cancelled.append(request_id)
        self._wake.set()

    def stop_sample(self, request_id: str, index: int) -> None:
        """A stop string ended one sample: free its sequence at the next iteration boundary."""
        self._stops.append((request_id, index))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            for new in self._incoming:
                self.engine.add_request(new.request_id, new.prompt, new.api.params)
                self._live[new.request_id] = new
            self._incoming.clear()
            for request_id in self._cancelled:
                self.engine.abort(request_id)
                self._live.pop(request_id, None)
            self._cancelled.clear()
            for request_id, index in self._stops:
                self.engine.stop(request_id, index)
            self._stops.clear()
            if not self.engine.has_work:
                self._wake.clear()
                await self._wake.wait()
                continue
            events = await asyncio.to_thread(self.engine.step)
            now = time.monotonic()
            self.tokens_total += len(events)
            self._recent.append((now, len(events)))
            self._recent = [(t, n) for t, n in self._recent if now - t <= 10.0]
            for event in events:
                live = self._live.get(event.request_id)
                if live is not None:
                    live.events.put_nowait(event)
            for request_id, live in list(self._live.items()):
                if not self.engine.is_active(request_id):
                    live.events.put_nowait(None)  # after its last token: the request is over
                    del self._live[request_id]

    def metrics(self) -> str:
        scheduler, allocator = self.engine.scheduler, self.engine.blocks.allocator
        window = [n for t, n in self._recent if time.monotonic() - t <= 10.0]
        lines = {
            "archlab_llm_running_sequences": len(scheduler.running),
            "archlab_llm_waiting_sequences": len(scheduler.waiting),
            "archlab_llm_swapped_sequences": len(scheduler.swapped),
            "archlab_llm_kv_blocks_used": allocator.num_used,
            "archlab_llm_kv_blocks_free": allocator.num_free,
            "archlab_llm_prefix_cache_hits_total": allocator.cache_hits,
            "archlab_llm_preemptions_total": scheduler.preemptions,
            "archlab_llm_generated_tokens_total": self.tokens_total,
            "archlab_llm_tokens_per_second": round(sum(window) / 10.0, 3),
        }
        return "".join(f"{name} {value}\n" for name, value in lines.items())


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(f"the request body is not valid JSON: {exc}") from exc


def create_app(loop: EngineLoop) -> Starlette:  # noqa: PLR0915 - one closure per endpoint
    async def completions(request: Request) -> Response:
        try:
            api = parse_completion(await _body(request))
            pending = loop.submit(api)
        except ApiError as exc:
            return _error(exc)
        return await _respond(pending)

    async def chat(request: Request) -> Response:
        try:
            api = parse_chat(await _body(request), loop.tokenizer)
            pending = loop.submit(api)
        except ApiError as exc:
            return _error(exc)
        return await _respond(pending)

    async def _respond(pending: _Pending) -> Response:
        if pending.api.stream:
            return StreamingResponse(_sse(pending), media_type="text/event-stream")
        texts = [""] * pending.api.params.n
        reasons: list[str | None] = [None] * pending.api.params.n
        async for index, delta, reason in _deltas(pending):
            texts[index] += delta
            reasons[index] = reason or reasons[index]
        choices = [
            _choice(pending.api, i, texts[i], reasons[i], stream=False) for i in range(len(texts))
        ]
        usage = {
            "prompt_tokens": len(pending.prompt),
            "completion_tokens": pending_tokens.pop(pending.request_id, 0),
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse(_envelope(pending, choices) | {"usage": usage})

    pending_tokens: dict[str, int] = {}

    async def _deltas(pending: _Pending) -> AsyncIterator[tuple[int, str, str | None]]:
        n = pending.api.params.n
        streams = [TextStream(loop.tokenizer, pending.api.params.stop) for _ in range(n)]
        done = [False] * n
        try:
            while not all(done):
                event = await pending.events.get()
                if event is None:
                    break
                pending_tokens[pending.request_id] = pending_tokens.get(pending.request_id, 0) + 1
                stream = streams[event.index]
                if done[event.index]:
                    continue
                final = event.finish_reason is not None
                delta = stream.push(event.token, final)
                reason = event.finish_reason
                if stream.stopped:
                    reason = "stop"
                    loop.stop_sample(pending.request_id, event.index)
                if event.finish_reason == "stop" and event.token == loop.engine.eos_id:
                    delta = delta.removesuffix(loop.tokenizer.token_text(event.token))
                done[event.index] = reason is not None
                yield event.index, delta, reason
        finally:
            if not all(done):
                loop.cancel(pending.request_id)

    async def _sse(pending: _Pending) -> AsyncIterator[str]:
        async for index, delta, reason in _deltas(pending):
            chunk = _envelope(pending, [_choice(pending.api, index, delta, reason, stream=True)])
            yield f"data: {json.dumps(chunk)}\n\n"
        pending_tokens.pop(pending.request_id, None)
        yield "data: [DONE]\n\n"

    async def models(request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "archlab"}],
            }
        )

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(loop.metrics())

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(ApiError(f"no route {request.url.path}", status=404))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop.start()
        try:
            yield
        finally:
            await loop.stop()

    return Starlette(
        routes=[
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models),
            Route("/metrics", metrics),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )


def _choice(
    api: ApiRequest, index: int, text: str, reason: str | None, stream: bool
) -> dict[str, Any]:
    if not api.chat:
        return {"index": index, "text": text, "logprobs": None, "finish_reason": reason}
    key = "delta" if stream else "message"
    return {"index": index, key: {"role": "assistant", "content": text}, "finish_reason": reason}


def _envelope(pending: _Pending, choices: list[dict[str, Any]]) -> dict[str, Any]:
    chat = pending.api.chat
    kind = "chat.completion" if chat else "text_completion"
    if chat and pending.api.stream:
        kind = "chat.completion.chunk"
    return {
        "id": ("chatcmpl-" if chat else "cmpl-") + pending.request_id,
        "object": kind,
        "created": int(time.time()),
        "model": pending.api.model or MODEL_NAME,
        "choices": choices,
    }
