"""Guardrails: a request body is parsed and checked before anything costs money.

Every check failing is a 4xx in OpenAI's error format naming the parameter and the fix: a body over
the size limit is 413; malformed JSON, a missing or mistyped field, `max_tokens` over the platform's
cap, too many messages or too much input text are 400. Arguments OpenAI defines that the platform
does not serve (`tools`, `n` > 1, `logprobs`...) are refused by name rather than silently dropped, and
an unknown argument is refused as OpenAI refuses it. What passes is forwarded as is, with
`max_tokens` always set (the cap when the caller gave none), so no backend generates unbounded text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.llm.gateway.config import GatewayConfig
from services.llm.gateway.errors import GatewayError, bad_request

__all__ = ["ParsedRequest", "parse_request", "ROLES"]

ROLES = frozenset({"system", "developer", "user", "assistant"})
_COMMON = {"model", "stream", "stream_options", "temperature", "top_p", "max_tokens", "stop", "seed", "user"}
_ALLOWED = {
    "chat": _COMMON | {"messages", "max_completion_tokens", "metadata", "frequency_penalty", "presence_penalty", "n"},
    "completions": _COMMON | {"prompt", "metadata", "frequency_penalty", "presence_penalty", "n", "echo"},
    "embeddings": {"model", "input", "encoding_format", "user", "dimensions"},
}
_UNSERVED = {
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "response_format",
    "logit_bias",
    "best_of",
    "suffix",
    "audio",
    "modalities",
    "prediction",
    "parallel_tool_calls",
}


@dataclass(frozen=True)
class ParsedRequest:
    endpoint: str  # chat | completions | embeddings
    route: str
    body: dict[str, Any]  # what is forwarded (max_tokens set)
    stream: bool
    include_usage: bool
    max_tokens: int
    text: str  # all input text, for token counts and the input limit
    system: str | None  # the system prompt, the prefix-routing key
    quality: str | None


def _number(body: dict, name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
    ):
        raise bad_request(f"{name} must be a number from {low:g} to {high:g}, got {value!r}", name)


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise bad_request(f"{where} must be a string or a list of text parts", where)


def _messages(body: dict, config: GatewayConfig) -> tuple[str, str | None]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list of {role, content}", "messages")
    if len(messages) > config.max_messages:
        raise bad_request(f"{len(messages)} messages: at most {config.max_messages} per request", "messages")
    texts, system = [], None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad_request(f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}", f"messages[{i}].role")
        text = _content_text(message.get("content"), f"messages[{i}].content")
        if message["role"] in ("system", "developer") and system is None and i == 0:
            system = text
        texts.append(text)
    return "\n".join(texts), system


def _embedding_input(body: dict) -> str:
    value = body.get("input")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(x, str) and x for x in items):
        raise bad_request("input must be a non-empty string or a list of non-empty strings", "input")
    if len(items) > 256:
        raise bad_request(f"input has {len(items)} items: at most 256 per request", "input")
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise bad_request("encoding_format must be float or base64", "encoding_format")
    return "\n".join(items)


def _max_tokens(endpoint: str, body: dict, config: GatewayConfig) -> int:
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    value = body.pop("max_completion_tokens", None) if name == "max_completion_tokens" else body.get("max_tokens")
    if value is None:
        return config.max_tokens if endpoint == "chat" else min(16, config.max_tokens)  # OpenAI's defaults
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(f"{name} must be a positive whole number, got {value!r}", name)
    if value > config.max_tokens:
        raise bad_request(
            f"{name} {value} is over this platform's cap of {config.max_tokens}: ask for at most {config.max_tokens}",
            name,
            "max_tokens_over_cap",
        )
    return value


def parse_request(endpoint: str, raw: bytes, config: GatewayConfig) -> ParsedRequest:
    if len(raw) > config.max_body_bytes:
        raise GatewayError(
            413, f"the body is {len(raw)} bytes: at most {config.max_body_bytes}", None, "body_too_large"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON ({exc})", None, "invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object", None, "invalid_json")
    for name in body:
        if name in _UNSERVED:
            raise bad_request(f"{name} is not supported by this platform's models: remove it", name, "unsupported")
        if name not in _ALLOWED[endpoint]:
            raise bad_request(f"Unrecognized request argument supplied: {name}", name, "unknown_parameter")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad_request("model must name a route (GET /v1/models lists yours)", "model")
    if body.get("n", 1) != 1:
        raise bad_request("n must be 1: ask again for another answer", "n", "unsupported")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("stream must be true or false", "stream")
    options = body.get("stream_options")
    if options is not None and (not isinstance(options, dict) or not stream):
        raise bad_request("stream_options is only allowed with stream: true, as an object", "stream_options")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad_request("metadata must be an object of string values", "metadata")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "frequency_penalty", -2, 2)
    _number(body, "presence_penalty", -2, 2)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))
    ):
        raise bad_request("stop must be a string or a list of at most 4 strings", "stop")
    system = None
    if endpoint == "chat":
        text, system = _messages(body, config)
    elif endpoint == "completions":
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = body["prompt"] = prompt[0]
        if not isinstance(prompt, str):
            raise bad_request("prompt must be a string (one prompt per request)", "prompt")
        text = prompt
    else:
        text = _embedding_input(body)
    if len(text) > config.max_input_chars:
        raise bad_request(
            f"the input is {len(text)} characters: at most {config.max_input_chars} per request",
            "messages" if endpoint == "chat" else ("prompt" if endpoint == "completions" else "input"),
            "input_too_large",
        )
    max_tokens = 0
    if endpoint != "embeddings":
        max_tokens = _max_tokens(endpoint, body, config)
        body["max_tokens"] = max_tokens
    return ParsedRequest(
        endpoint=endpoint,
        route=body["model"],
        body=body,
        stream=stream,
        include_usage=bool((options or {}).get("include_usage")),
        max_tokens=max_tokens,
        text=text,
        system=system,
        quality=metadata.get("quality"),
    )
