"""Run the gateway: uvicorn with httptools and uvloop, one process (the budget ledger and the exact
cache live in it; ADR 0022 says why one process per replica, and how budgets split across replicas)."""

from __future__ import annotations

import logging
from pathlib import Path

from services.llm.gateway.app import GatewayApp
from services.llm.gateway.auth import load_keys
from services.llm.gateway.config import GatewayConfig

__all__ = ["serve", "build_app"]


def build_app(
    config_path: Path | str, keys_dir: Path | str, *, tokenizer: str | None = None, replicas: int = 1
) -> GatewayApp:
    config = GatewayConfig.from_file(config_path)
    keys = load_keys(keys_dir, sorted(config.tenants))
    return GatewayApp(config, keys, tokenizer=tokenizer, ledger_share=1.0 / replicas)


def serve(
    config_path: Path | str,
    keys_dir: Path | str,
    host: str,
    port: int,
    *,
    tokenizer: str | None = None,
    replicas: int = 1,
) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(config_path, keys_dir, tokenizer=tokenizer, replicas=replicas)
    uvicorn.run(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        proxy_headers=False,
        server_header=False,
    )
