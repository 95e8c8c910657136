"""`archlab llm generate`: text out, and a one-line error with exit 2 for bad input."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.lab.test_cli import assert_one_line_error


def test_generate_continues_a_prompt(smollm, tokenizer) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(["llm", "generate", "The capital of France is", "--max-tokens", "3"])
    assert result.exit_code == 0, result
    assert "Paris" in result.stdout


def test_a_prompt_beyond_the_context_is_a_one_line_error(smollm, tokenizer) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(["llm", "generate", "word " * 2100, "--max-tokens", "4"])
    assert_one_line_error(result, "exceeds the context")


def test_help_has_examples() -> None:
    result = run_cli(["llm", "--help"])
    assert result.exit_code == 0
    assert "archlab llm serve" in result.stdout


def test_a_file_that_is_not_a_model_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a gguf file at all" * 10)
    result = run_cli(["llm", "generate", "hi", "--model", str(bogus)])
    assert_one_line_error(result, "model.gguf")
