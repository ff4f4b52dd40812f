"""The gate's MLflow webhook receiver: evaluates new versions and guards aliases.

MLflow (3.3+, SQL backends only, SQLite included) POSTs registry events to `/webhooks/mlflow`, signed
with HMAC-SHA256 over "<delivery id>.<timestamp>.<body>" (header `X-MLflow-Signature: v1,<base64>`).
The receiver rejects unsigned, wrongly signed, replayed (same delivery id) and stale (over 5 minutes)
deliveries with 401, answers valid ones at once (202) and handles them on a worker thread:

- `model_version.created`: evaluate the new version against the rules for `champion` (recorded as
  `platform.mlops/evaluation*` tags and an audit entry; nothing moves: promotion stays explicit);
- `model_version_alias.created`: the **alias guard**. An alias may only point at a version whose
  recorded decision passed for that alias. Otherwise the guard moves it back to the last version the
  gate promoted for it (from the audit log), or deletes it when there is none, and audits the event.

MLflow refuses to deliver to private addresses and to plain http unless its server runs with
MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true and MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https: the receiver is an
internal service, so the platform's MLflow servers set both.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.evaluate import evaluate, passed
from services.promotion_gate.rules import RuleSet

__all__ = [
    "signature",
    "verify",
    "secret_from_env",
    "WebhookReceiver",
    "register_webhooks",
    "EVENTS",
    "MAX_AGE_SECONDS",
    "SECRET_ENV",
    "SECRET_FILE_ENV",
]

SECRET_ENV = "MLPLAT_WEBHOOK_SECRET"  # the signing secret itself (the cluster's Secret)
SECRET_FILE_ENV = "MLPLAT_WEBHOOK_SECRET_FILE"  # or a file holding it, created on first use (standalone)

log = logging.getLogger("mlplat.gate")
MAX_AGE_SECONDS = 300
EVENTS = ("model_version.created", "model_version_alias.created")


def secret_from_env() -> str:
    """The secret MLflow signs deliveries with, shared by the gate and whoever registers its webhook:
    $MLPLAT_WEBHOOK_SECRET, else the file $MLPLAT_WEBHOOK_SECRET_FILE names; "" when neither is set."""
    import os
    from pathlib import Path

    from services.local_secrets import read_or_create

    secret = os.environ.get(SECRET_ENV, "")
    path = os.environ.get(SECRET_FILE_ENV)
    if not secret and path:
        secret = read_or_create(Path(path))[0]
    return secret


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """None when the delivery is authentic and fresh, else the reason to reject it."""
    delivery, stamp, given = (
        headers.get(h, "") for h in ("x-mlflow-delivery-id", "x-mlflow-timestamp", "x-mlflow-signature")
    )
    if not (delivery and stamp and given):
        return "missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature"
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > MAX_AGE_SECONDS:
        return "stale or invalid timestamp (replay protection: at most 5 minutes old)"
    if not hmac.compare_digest(given, signature(secret, delivery, stamp, body)):
        return "signature mismatch"
    return None


class WebhookReceiver:
    """An ASGI app; `close()` stops its worker thread."""

    def __init__(self, mlflow_client, rules: RuleSet, audit: AuditLog, secret: str):
        if not secret:
            raise ValueError("a webhook secret is required (MLPLAT_WEBHOOK_SECRET)")
        self.client, self.rules, self.audit, self.secret = mlflow_client, rules, audit, secret
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.handled = 0  # events processed (for tests and /healthz)
        self._worker = threading.Thread(target=self._work, name="gate-webhooks", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._events.put(None)
        self._worker.join(timeout=10)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            await _reply(send, 200, {"ok": True, "handled": self.handled})
            return
        if scope["method"] != "POST" or scope["path"] != "/webhooks/mlflow":
            await _reply(send, 404, {"error": f"no such endpoint: {scope['method']} {scope['path']}"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > 1_000_000:
                await _reply(send, 413, {"error": "webhook body over 1 MB"})
                return
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = verify(self.secret, headers, body)
        delivery = headers.get("x-mlflow-delivery-id", "")
        if problem is None and delivery in self._seen:
            problem = "delivery id already seen (replay)"
        if problem:
            log.warning("rejected webhook delivery %r: %s", delivery, problem)
            await _reply(send, 401, {"error": problem})
            return
        self._seen[delivery] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            await _reply(send, 400, {"error": "body is not JSON"})
            return
        self._events.put(event)
        await _reply(send, 202, {"accepted": f"{event.get('entity')}.{event.get('action')}"})

    def _work(self) -> None:
        while (event := self._events.get()) is not None:
            try:
                self.handle(event)
            except Exception:
                log.exception("handling webhook event %s failed", event)
            finally:
                self.handled += 1

    def handle(self, event: dict[str, Any]) -> None:
        kind = f"{event.get('entity')}.{event.get('action')}"
        data = event.get("data") or {}
        if kind == "model_version.created":
            self._evaluate(data["name"], str(data["version"]))
        elif kind == "model_version_alias.created":
            self._guard(data["name"], data["alias"], str(data["version"]))

    def _evaluate(self, model: str, version: str) -> None:
        facts = registry.gather_facts(self.client, model, version, "champion")
        verdicts = evaluate(self.rules, facts)
        outcome = "pass" if passed(verdicts) else "fail"
        with self.audit.locked():
            self.audit.append(
                {
                    "time": _now(),
                    "actor": "webhook",
                    "event": "evaluation",
                    "model": model,
                    "version": version,
                    "alias": "champion",
                    "decision": outcome,
                    "rules_version": self.rules.version,
                    "results": [{"rule": v.rule, "passed": v.passed, "evidence": v.evidence} for v in verdicts],
                }
            )
        self.client.set_model_version_tag(model, version, f"{registry.TAG}evaluation", outcome)
        self.client.set_model_version_tag(model, version, f"{registry.TAG}evaluation-rules", self.rules.version)

    def _guard(self, model: str, alias: str, version: str) -> None:
        tags = self.client.get_model_version(model, version).tags or {}
        if tags.get(f"{registry.TAG}decision") == "pass" and tags.get(f"{registry.TAG}decision-alias") == alias:
            return  # moved by the gate (or to a version the gate passed for this alias)
        with self.audit.locked():
            previous = [
                e
                for e in self.audit.entries()
                if e.get("model") == model
                and e.get("alias") == alias
                and e.get("decision") == "pass"
                and e.get("event", "promotion") == "promotion"
                and e.get("version") != version
            ]
            if previous:
                restored = previous[-1]["version"]
                registry.move_alias(self.client, model, alias, restored)
                action = f"moved back to version {restored}"
            else:
                self.client.delete_registered_model_alias(model, alias)
                restored, action = None, "deleted (no version ever passed for it)"
            self.audit.append(
                {
                    "time": _now(),
                    "actor": "alias-guard",
                    "event": "alias-guard",
                    "model": model,
                    "alias": alias,
                    "version": version,
                    "decision": "reverted",
                    "restored": restored,
                    "reason": "no passing decision for this alias",
                }
            )
        log.warning(
            "alias guard: %s@%s pointed at version %s without a passing decision; %s", model, alias, version, action
        )


def register_webhooks(mlflow_client, url: str, secret: str, name: str = "mlops-platform-gate"):
    """Create (or replace) the gate's webhook in MLflow for the events it handles."""
    for hook in mlflow_client.list_webhooks():
        if hook.name == name:
            mlflow_client.delete_webhook(hook.webhook_id)
    return mlflow_client.create_webhook(
        name=name, url=url, events=list(EVENTS), secret=secret, description="promotion gate: evaluation and alias guard"
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def _reply(send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
