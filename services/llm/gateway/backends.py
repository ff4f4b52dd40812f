"""HTTP to the backends: llama.cpp's OpenAI-compatible server, or an external provider.

One pooled async client for every backend (keep-alive: no connection set-up per request). A call
either returns the backend's JSON, or streams its server-sent events as parsed chunks. Anything that
is the backend's fault (refused connection, reset, timeout, a 5xx or 429, a broken stream) raises
`BackendError`, which the gateway answers by trying the next replica or model; a 4xx for the
caller's own request is passed back as it is.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from services.llm.gateway.config import Deployment

__all__ = ["BackendError", "ClientError", "Backends"]


class BackendError(Exception):
    """The backend failed (not the request): try another replica or model."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # error | timeout | status


class ClientError(Exception):
    """The backend refused the request itself (a 4xx): the caller gets it back."""

    def __init__(self, status: int, body: bytes):
        super().__init__(f"backend answered {status}")
        self.status, self.body = status, body


class Backends:
    def __init__(self, max_connections: int = 256):
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(limits=limits, timeout=None, http2=False)

    async def close(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _headers(deployment: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if deployment.key_env:
            headers["authorization"] = f"Bearer {os.environ.get(deployment.key_env, '')}"
        return headers

    @staticmethod
    def _check(response: httpx.Response, body: bytes) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise BackendError("status", f"{response.status_code} {body[:200]!r}")
        if response.status_code >= 400:
            raise ClientError(response.status_code, body)

    async def call(self, deployment: Deployment, url: str, path: str, body: dict[str, Any], timeout: float) -> dict:
        payload = orjson.dumps({**body, "model": deployment.engine_model})
        try:
            response = await self._client.post(
                f"{url}{path}", content=payload, headers=self._headers(deployment), timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise BackendError("timeout", f"{url}: no answer in {timeout:g}s ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise BackendError("error", f"{url}: {type(exc).__name__} {exc}") from None
        self._check(response, response.content)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise BackendError("error", f"{url}: the answer is not JSON") from None

    async def stream(
        self, deployment: Deployment, url: str, path: str, body: dict[str, Any], timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The backend's chunks, parsed; ends at `data: [DONE]`. Raises BackendError on any break."""
        payload = orjson.dumps({**body, "model": deployment.engine_model, "stream": True})
        request = self._client.build_request(
            "POST", f"{url}{path}", content=payload, headers=self._headers(deployment), timeout=timeout
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise BackendError("timeout", f"{url}: no answer in {timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise BackendError("error", f"{url}: {type(exc).__name__} {exc}") from None
        try:
            if response.status_code >= 400:
                self._check(response, await response.aread())
            done = False
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                yield orjson.loads(data)
            if not done:
                raise BackendError("error", f"{url}: the stream ended without [DONE]")
        except httpx.TimeoutException:
            raise BackendError("timeout", f"{url}: the stream stalled for {timeout:g}s") from None
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            raise BackendError("error", f"{url}: the stream broke ({type(exc).__name__})") from None
        finally:
            await response.aclose()
