"""The numpy SmolLM2 against transformers running the same GGUF weights in torch."""

from __future__ import annotations

import numpy as np
import pytest

from archlab.llm.gguf_weights import (
    dequantize_q4_1,
    dequantize_q8_0,
    find_model_file,
    open_reader,
)
from archlab.llm.model import SequenceChunk

PROMPTS = ["The capital of France is", "def fibonacci(n):"]
NEW_TOKENS = 8
#: float32 numpy vs float32 torch over 30 layers: measured max |Δlogit| ≈ 1e-4 on logits of
#: magnitude ~30; 2e-3 leaves room for BLAS differences and still catches any wrong layer.
LOGIT_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path = find_model_file()
    torch.set_num_threads(1)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    model.eval()
    return torch, model


def test_dequantization_matches_gguf_package() -> None:
    from gguf.quants import dequantize

    reader = open_reader(find_model_file())
    seen = set()
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if kind in seen or kind == "F32":
            continue
        seen.add(kind)
        ours = {"Q4_1": dequantize_q4_1, "Q8_0": dequantize_q8_0}[kind](
            np.asarray(tensor.data), int(tensor.shape[0])
        )
        assert np.array_equal(ours, dequantize(tensor.data, tensor.tensor_type)), tensor.name
    assert seen == {"Q4_1", "Q8_0"}


#: Token ids transformers' GGUF tokenizer gives for these texts (AutoTokenizer.from_pretrained
#: with gguf_file=..., add_special_tokens=False), recorded once: loading it takes ~10 s.
TRANSFORMERS_IDS = {
    "Hello, world! 12345 tokens": [19556, 28, 905, 17, 216, 33, 34, 35, 36, 37, 17837],
    "x=3.14159; y = x**2": [104, 45, 35, 30, 33, 36, 33, 37, 41, 43, 329, 446, 1792, 828, 34],
    "<|im_start|>user\nHi<|im_end|>\n": [1, 4093, 198, 26843, 2, 198],
}


def test_tokenizer_matches_transformers(tokenizer) -> None:  # type: ignore[no-untyped-def]
    for text, ids in TRANSFORMERS_IDS.items():
        assert tokenizer.encode(text) == ids
    assert tokenizer.decode(TRANSFORMERS_IDS["Hello, world! 12345 tokens"]) == (
        "Hello, world! 12345 tokens"
    )
    from archlab.llm.tokenizer import ChatMessage

    rendered = tokenizer.render_chat([ChatMessage("user", "What is 2+2?")])
    assert rendered.endswith("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")


def test_greedy_tokens_and_logits_match_transformers(smollm, tokenizer, reference) -> None:  # type: ignore[no-untyped-def]
    torch, model = reference
    for prompt in PROMPTS:
        ids = tokenizer.encode(prompt)
        with torch.no_grad():
            expected = model.generate(
                torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False
            )[0, len(ids) :].tolist()
            ref_logits = model(torch.tensor([ids])).logits[0].numpy()
        # Block size 4 and a scattered block table: K/V really come through the pages.
        cache = smollm.new_cache(num_blocks=16, block_size=4)
        table = [11, 3, 7, 0, 14, 9, 2, 5]
        logits = smollm.forward([SequenceChunk(ids, 0, table, all_logits=True)], cache)[0]
        assert np.abs(logits - ref_logits).max() < LOGIT_TOLERANCE
        generated, position = [int(logits[-1].argmax())], len(ids)
        while len(generated) < NEW_TOKENS:
            step = smollm.forward([SequenceChunk([generated[-1]], position, table)], cache)[0]
            generated.append(int(step[-1].argmax()))
            position += 1
        assert generated == expected, (prompt, tokenizer.decode(generated))
