"""Errors in OpenAI's format: `{"error": {"message", "type", "param", "code"}}` with the HTTP status
OpenAI uses, so the official client raises its usual exception classes (BadRequestError,
AuthenticationError, RateLimitError...). A malformed request is always a 4xx naming the field and the
fix; a 5xx means the gateway or every backend failed, never the caller's input."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["GatewayError", "bad_request", "error_body"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    502: "api_error",
    503: "api_error",
    504: "api_error",
}


@dataclass
class GatewayError(Exception):
    status: int
    message: str
    param: str | None = None
    code: str | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()

    def __str__(self) -> str:
        return self.message


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> GatewayError:
    return GatewayError(400, message, param, code)


def error_body(error: GatewayError) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "message": error.message,
                "type": _TYPES.get(error.status, "api_error"),
                "param": error.param,
                "code": error.code,
            }
        }
    )
