"""`archlab llm serve`'s API through the official openai client, streaming and concurrent."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from archlab.llm.engine import smollm_engine
from archlab.llm.serve import EngineLoop, create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(smollm, tokenizer) -> Iterator[str]:  # type: ignore[no-untyped-def]
    import uvicorn

    engine = smollm_engine(smollm, tokenizer.eos_id, num_blocks=64, max_model_len=256)
    port = free_port()
    config = uvicorn.Config(
        create_app(EngineLoop(engine, tokenizer)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base, api_key="none", max_retries=0, timeout=60)


def test_completion_streamed_equals_whole(server: str) -> None:
    api = client(server)
    whole = api.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=6, temperature=0
    )
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 6
    assert "Paris" in whole.choices[0].text
    stream = api.completions.create(
        model="smollm2",
        prompt="The capital of France is",
        max_tokens=6,
        temperature=0,
        stream=True,
    )
    assert "".join(chunk.choices[0].text for chunk in stream) == whole.choices[0].text


def test_chat_streams_and_stops_on_a_stop_string(server: str) -> None:
    api = client(server)
    stream = api.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Count: 1, 2, 3"}],
        max_tokens=8,
        temperature=0,
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text
    stop = text.strip()[:2]
    stopped = api.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Count: 1, 2, 3"}],
        max_tokens=8,
        temperature=0,
        stop=[stop],
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert stop not in (stopped.choices[0].message.content or "")


def test_concurrent_requests_share_the_batch(server: str) -> None:
    prompts = ["Water boils at", "The sky is", "Cats are", "def add(a, b):"]

    async def all_at_once() -> list[str]:
        api = openai.AsyncOpenAI(base_url=server, api_key="none", max_retries=0, timeout=60)
        replies = await asyncio.gather(
            *(
                api.completions.create(model="m", prompt=p, max_tokens=4, temperature=0)
                for p in prompts
            )
        )
        return [r.choices[0].text for r in replies]

    together = asyncio.run(all_at_once())
    api = client(server)
    alone = [
        api.completions.create(model="m", prompt=p, max_tokens=4, temperature=0).choices[0].text
        for p in prompts
    ]
    assert together == alone
    metrics = httpx.get(server.removesuffix("/v1") + "/metrics").text
    assert "archlab_llm_kv_blocks_free 64" in metrics  # every block came back


def test_parallel_samples_with_temperature(server: str) -> None:
    reply = client(server).completions.create(
        model="m", prompt="Once upon a time", max_tokens=4, temperature=1.0, n=3
    )
    assert sorted(c.index for c in reply.choices) == [0, 1, 2]


def test_bad_requests_get_openai_errors(server: str) -> None:
    api = client(server)
    with pytest.raises(openai.BadRequestError, match="exceeds the context"):
        api.completions.create(model="m", prompt="word " * 300, max_tokens=4)
    with pytest.raises(openai.BadRequestError, match="KV blocks"):
        api.completions.create(model="m", prompt="Hi", max_tokens=200, n=16)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        api.completions.create(model="m", prompt="Hi", temperature=5)
    reply = httpx.post(server + "/completions", content=b"{not json")
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(server + "/nothing").status_code == 404
    # The server keeps serving.
    assert api.completions.create(model="m", prompt="Hi", max_tokens=1).choices
