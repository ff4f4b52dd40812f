"""HTTP to the backends: llama.cpp's OpenAI-compatible server, or an external provider.

One pooled aiohttp session for every backend (keep-alive: no connection set-up per request). aiohttp,
not httpx: measured here against the stub backend from one event loop, httpx managed 554 requests/s at
concurrency 8 and 135 at 64, aiohttp 3697 and 3606 (ADR 0022); the gateway's overhead is mostly its
client. A call either returns the backend's JSON, or streams its server-sent events as parsed
chunks. Anything that is the backend's fault (refused connection, reset, timeout, a 5xx or 429, a
broken stream) raises `BackendError`, which the gateway answers by trying the next replica or model;
a 4xx for the caller's own request is passed back as it is.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
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
        self._max = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the running loop, on first use
            connector = aiohttp.TCPConnector(limit=self._max, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def _headers(deployment: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if deployment.key_env:
            headers["authorization"] = f"Bearer {os.environ.get(deployment.key_env, '')}"
        return headers

    @staticmethod
    def _check(status: int, body: bytes) -> None:
        if status >= 500 or status == 429:
            raise BackendError("status", f"{status} {body[:200]!r}")
        if status >= 400:
            raise ClientError(status, body)

    async def call(self, deployment: Deployment, url: str, path: str, body: dict[str, Any], timeout: float) -> dict:
        payload = orjson.dumps({**body, "model": deployment.engine_model})
        try:
            async with self._client().post(
                f"{url}{path}",
                data=payload,
                headers=self._headers(deployment),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                content = await response.read()
                status = response.status
        except TimeoutError:
            raise BackendError("timeout", f"{url}: no answer in {timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise BackendError("error", f"{url}: {type(exc).__name__} {exc}") from None
        self._check(status, content)
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise BackendError("error", f"{url}: the answer is not JSON") from None

    async def stream(
        self, deployment: Deployment, url: str, path: str, body: dict[str, Any], timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The backend's chunks, parsed; ends at `data: [DONE]`. Raises BackendError on any break.

        `timeout` bounds the connection and each wait for the next chunk, not the whole answer."""
        payload = orjson.dumps({**body, "model": deployment.engine_model, "stream": True})
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        try:
            response = await self._client().post(
                f"{url}{path}", data=payload, headers=self._headers(deployment), timeout=limits
            )
        except TimeoutError:
            raise BackendError("timeout", f"{url}: no answer in {timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise BackendError("error", f"{url}: {type(exc).__name__} {exc}") from None
        try:
            if response.status >= 400:
                self._check(response.status, await response.read())
            done = False
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                    break
                yield orjson.loads(data)
            if not done:
                raise BackendError("error", f"{url}: the stream ended without [DONE]")
        except TimeoutError:
            raise BackendError("timeout", f"{url}: the stream stalled for {timeout:g}s") from None
        except (aiohttp.ClientError, orjson.JSONDecodeError) as exc:
            raise BackendError("error", f"{url}: the stream broke ({type(exc).__name__})") from None
        finally:
            response.release()  # an unread rest closes the connection instead of returning it to the pool
