"""Chapter 8.2: SmolLM2's byte-level BPE tokenizer, rebuilt from the vocabulary in the GGUF file.

The file embeds the token strings, their types and the merge list (``tokenizer.ggml.*``); the
``tokenizers`` library runs the BPE. The pre-tokenizer is the one SmolLM2 was trained with
(``tokenizer.ggml.pre = smollm``): every digit is split on its own, then GPT-2's byte-level
regex split, with no prefix space. Control tokens (``<|im_start|>``, ``<|endoftext|>``...) are
registered as special so they are matched whole and never split. The chat template embedded in
the file is rendered with Jinja2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from archlab.errors import InputFormatError
from archlab.llm.gguf_weights import find_model_file, open_reader

CONTROL_TOKEN = 3


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


class Tokenizer:
    """Encode text to token ids and decode ids to text, as the model was trained."""

    def __init__(self, backend: Any, eos_id: int, bos_id: int, chat_template: str | None) -> None:
        self._backend = backend
        self.eos_id = eos_id
        self.bos_id = bos_id
        self.chat_template = chat_template
        self.vocab_size: int = backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return list(self._backend.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        return str(self._backend.decode(ids, skip_special_tokens=skip_special))

    def token_text(self, token_id: int) -> str:
        return self.decode([token_id], skip_special=False)

    def render_chat(self, messages: list[ChatMessage]) -> str:
        """The prompt text for a conversation, ending where the assistant's answer begins."""
        if self.chat_template is None:
            text = "".join(f"{m.role}: {m.content}\n" for m in messages)
            return text + "assistant: "
        import jinja2

        env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
        template = env.from_string(self.chat_template)
        return template.render(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
        )


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def load_tokenizer(path: Path | None = None) -> Tokenizer:
    """The tokenizer embedded in the model file, built once per process."""
    return _load_tokenizer((path or find_model_file()).resolve())


@lru_cache(maxsize=2)
def _load_tokenizer(path: Path) -> Tokenizer:
    from tokenizers import AddedToken, Regex, Tokenizer as Backend, decoders, models, pre_tokenizers

    reader = open_reader(path)
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise InputFormatError(path, "only byte-level BPE (gpt2) tokenizers are supported")
    tokens: list[str] = _field(reader, "tokenizer.ggml.tokens")
    types: list[int] = _field(reader, "tokenizer.ggml.token_type")
    merges: list[str] = _field(reader, "tokenizer.ggml.merges")
    vocab = {token: index for index, token in enumerate(tokens)}
    pairs = [(left, right) for left, _, right in (m.partition(" ") for m in merges)]
    backend = Backend(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    specials = [t for t, kind in zip(tokens, types, strict=True) if kind == CONTROL_TOKEN]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return Tokenizer(
        backend,
        eos_id=int(_field(reader, "tokenizer.ggml.eos_token_id")),
        bos_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        chat_template=_field(reader, "tokenizer.chat_template"),
    )
