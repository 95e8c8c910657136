"""Chapter 8.2: the OpenAI completions API's request and response shapes, without any I/O.

:func:`parse_completion` and :func:`parse_chat` validate a JSON body into a :class:`ApiRequest`
(or raise :class:`ApiError`, which renders as OpenAI's error object with a 4xx status);
:class:`TextStream` turns one sample's tokens into text deltas, holding back bytes of an
unfinished UTF-8 character and text that could be the start of a stop string, and reports when a
stop string appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archlab.llm.sampling import SamplingParams
from archlab.llm.tokenizer import ChatMessage, Tokenizer

MAX_N = 16


class ApiError(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": None,
            }
        }


@dataclass(frozen=True)
class ApiRequest:
    prompt: str
    params: SamplingParams
    stream: bool
    model: str
    chat: bool


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(f"{name} must be a number", name)
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low:g} and {high:g}", name)
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"{name} must be an integer", name)
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low} and {high}", name)
    return value


def _params(body: dict[str, Any], default_max: int) -> tuple[SamplingParams, bool]:
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 4:
        stops = tuple(stop)
    else:
        raise ApiError("stop must be a string or a list of up to 4 strings", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError("stream must be a boolean", "stream")
    params = SamplingParams(
        max_tokens=_integer(body, "max_tokens", default_max, 1, 1 << 20),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        n=_integer(body, "n", 1, 1, MAX_N),
        stop=tuple(s for s in stops if s),
    )
    return params, stream


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object")
    return body


def parse_completion(body: Any) -> ApiRequest:
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise ApiError("prompt must be a non-empty string", "prompt")
    params, stream = _params(body, default_max=16)
    return ApiRequest(prompt, params, stream, str(body.get("model", "")), chat=False)


def parse_chat(body: Any, tokenizer: Tokenizer) -> ApiRequest:
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("messages must be a non-empty list", "messages")
    parsed = []
    for message in messages:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise ApiError("each message needs a string role and string content", "messages")
        parsed.append(ChatMessage(message["role"], message["content"]))
    params, stream = _params(body, default_max=256)
    prompt = tokenizer.render_chat(parsed)
    return ApiRequest(prompt, params, stream, str(body.get("model", "")), chat=True)


class TextStream:
    """Incremental detokenization of one sample, with stop strings."""

    def __init__(self, tokenizer: Tokenizer, stops: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.tokens: list[int] = []
        self.sent = 0  # characters of the text already emitted
        self.stopped = False

    def push(self, token: int, final: bool) -> str:
        """The new text this token makes safe to emit ('' if it must wait)."""
        if self.stopped:
            return ""
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens)
        for stop in self.stops:
            at = text.find(stop, max(0, self.sent - len(stop)))
            if at >= 0:
                self.stopped = True
                delta = text[self.sent : at]
                self.sent = at
                return delta
        if final:
            delta, self.sent = text[self.sent :], len(text)
            return delta
        if text.endswith("\ufffd"):
            return ""
        hold = max((len(s) - 1 for s in self.stops), default=0)
        safe = max(self.sent, len(text) - hold)
        delta, self.sent = text[self.sent : safe], safe
        return delta
