"""The API layer without a server: request validation and incremental text with stop strings."""

from __future__ import annotations

import pytest

from archlab.llm.api import ApiError, TextStream, parse_completion


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "hi", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "hi", "n": 17}, "n"),
        ({"prompt": "hi", "top_p": 1.5}, "top_p"),
        ({"prompt": "hi", "stop": 3}, "stop"),
        ({"prompt": "hi", "stream": "yes"}, "stream"),
        ({"prompt": "hi", "temperature": True}, "temperature"),
    ],
)
def test_malformed_requests_name_the_parameter(body: object, param: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        parse_completion(body)
    assert caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


def test_defaults() -> None:
    request = parse_completion({"prompt": ["hello"], "stop": "\n"})
    assert request.params.max_tokens == 16
    assert request.params.stop == ("\n",)
    assert request.prompt == "hello"


def test_a_stop_string_split_across_tokens_is_never_emitted(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("one two three STOP four")
    stream = TextStream(tokenizer, ("STOP",))
    text = "".join(stream.push(t, final=i == len(ids) - 1) for i, t in enumerate(ids))
    assert stream.stopped
    assert text == "one two three "


def test_text_without_stops_comes_out_whole(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("Grüße, 日本語 😀!")
    stream = TextStream(tokenizer, ())
    text = "".join(stream.push(t, final=i == len(ids) - 1) for i, t in enumerate(ids))
    assert text == "Grüße, 日本語 😀!"
