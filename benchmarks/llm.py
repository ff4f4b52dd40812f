# ruff: noqa: E501  (the report's lines are long f-strings; they read best whole)
"""LLM serving benchmark: the platform's gateway against LiteLLM's proxy, and what each cache and route buys.

    make bench                      # or: .venv/bin/python benchmarks/llm.py [--only overhead,prefix]

One run, peers side by side, on this machine (every server on loopback):
1. overhead: our gateway and LiteLLM's proxy (one worker each) in front of the same stub backend
   (llm_stub_backend.py), with wrk at concurrency 8 and 64, on a cached answer (both gateways' own
   exact caches) and on a backend answer (caches off). Overhead = p99 through the gateway minus p99
   straight to the backend; a cached answer's overhead is its whole latency.
2. prefix: time to first token with prefix-aware routing against round-robin, over 2 replicas of the
   large model, for two applications each with its own system prompt of about 1k tokens, their
   requests interleaved in a seeded random order, one at a time (so the figure is the cache's, not a
   queue's). Each replica's engine keeps the KV of the prompt it last served and reuses its longest
   common prefix (llama.cpp's prefix reuse; no RAM cache of other states, `prefix_slots` 1): with
   affinity each application's prompt stays on one replica; round-robin sends it wherever.
3. semantic: hit latency of the pgvector semantic cache, and precision and recall of its hits at the
   configured threshold on the labelled set (services/llm/semantic_pairs.py).
4. cost: cost per 1k requests of cost-aware routing (tiny, small, large) against always the large
   model, on a mixed workload (short questions, quality hints, prompts too long for the tiny model),
   with the quality held: every answer passes the route's check at or above its quality hint.
5. budgets: a tenant with a 2000 tokens-per-minute budget under 32 concurrent callers: tokens
   admitted against the limit.
6. failover: a replica of two SIGKILLed under load (chat, chat streams, completion streams): failed
   requests.
LiteLLM 1.110.2 is installed on first use into .mlplat/bench/litellm-venv (its pins are not the
platform's). Figures and the reasons behind them: benchmarks/README.md and ADR 0022.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.llm.build import build_models  # noqa: E402
from services.llm.corpus import corpus  # noqa: E402
from services.llm.gateway.config import Deployment, GatewayConfig, RouteConfig, TenantConfig  # noqa: E402
from services.llm.local import LocalProcess, pgvector_database, start_backend, start_gateway  # noqa: E402
from services.llm.semantic_pairs import INTENTS, labelled_pairs  # noqa: E402
from services.registry.postgres import free_port  # noqa: E402

LITELLM_VERSION = "1.110.2"
LITELLM_VENV = ROOT / ".mlplat" / "bench" / "litellm-venv"
# litellm[proxy] 1.110.2 requires `litellm-proxy==1.110.2`, which is not on PyPI (the proxy's code ships
# inside litellm itself): the proxy extra's other requirements are installed by name instead.
LITELLM_PROXY_DEPS = (
    "gunicorn>=23.0.0,<24.0", "uvicorn>=0.33.0,<1.0", "uvloop>=0.22.1,<1.0", "fastapi>=0.136.3,<1.0",
    "starlette>=1.0.1,<2.0", "backoff>=2.2.1,<3.0", "rq>=2.7.0,<3.0", "orjson>=3.12.0,<4.0",
    "apscheduler>=3.11.2,<4.0", "fastapi-sso>=0.19.0,<1.0", "pyjwt>=2.13.0,<3.0", "python-multipart>=0.0.27,<1.0",
    "cryptography>=49.0.0,<51.0", "pynacl>=1.6.2,<2.0", "websockets>=15.0.1,<16.0", "litellm-enterprise==0.1.83",
    "restrictedpython>=8.5,<9.0", "rich>=13.9.4,<14.0", "polars>=1.38.1,<2.0", "expression>=5.6.0,<6.0",
    "backports-zstd>=1.0.0,<2.0", "semver>=3.0.4,<4", "mcp>=2.3.0,<3", "tomlkit>=0.13.3,<1.0", "hiredis>=3.5.0,<4.0",
    "soundfile>=0.12.1,<1.0", "azure-identity>=1.25.2,<2.0", "azure-storage-blob>=12.28.0,<13.0", "boto3>=1.43.117,<2.0",
    "inquirerpy>=0.3.4,<1.0", "granian>=2.7.4,<3.0",
)  # fmt: skip
KEY = "sk-bench-tenant"
PRICES = {"tiny": (0.0001, 0.0002), "small": (0.0005, 0.001), "large": (0.002, 0.004)}  # blueprints/llm.yaml
QUALITY = {"tiny": "basic", "small": "standard", "large": "high"}
CONTEXT = {"tiny": 2048, "small": 4096, "large": 4096}
_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def log(message: str) -> None:
    print(message, flush=True)


def ensure_litellm() -> Path:
    binary = LITELLM_VENV / "bin" / "litellm"
    if binary.exists():
        return binary
    log(f"installing LiteLLM {LITELLM_VERSION} into {LITELLM_VENV} (first run only)...")
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, f"litellm=={LITELLM_VERSION}", *LITELLM_PROXY_DEPS], check=True)
    return binary


def wrk(url: str, body: dict, concurrency: int, seconds: int, auth: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(body, handle)
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "benchmarks" / "wrk_llm.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BODY_FILE": handle.name, "AUTH": auth},
        check=False,
    )
    os.unlink(handle.name)
    out = done.stdout
    if "Requests/sec" not in out:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": -1}
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {q: float(v) * scale[u] for q, v, u in _LATENCY.findall(out)}
    errors = int(re.search(r"NON2XX (\d+)", out).group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(g) for g in sockets.groups()) if sockets else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "errors": errors}


def gateway_config(deployments: list[Deployment], routes: list[RouteConfig], **settings) -> GatewayConfig:
    tenant = TenantConfig(
        "bench", tuple(r.name for r in routes), settings.pop("tpm", 10**9), settings.pop("spd", 10**9)
    )
    values = {"max_tokens": 512, "max_input_chars": 200_000, "max_messages": 64, "max_body_bytes": 4 * 2**20}
    return GatewayConfig(
        deployments={d.name: d for d in deployments},
        routes={r.name: r for r in routes},
        tenants={"bench": tenant},
        **{**values, **settings},
    )


def deployment(name: str, urls: list[str], size: str, **extra) -> Deployment:
    price = PRICES[size]
    return Deployment(name, tuple(urls), CONTEXT[size], QUALITY[size], price[0], price[1], name, **extra)


def route(name: str, models: list[str], **extra) -> RouteConfig:
    return RouteConfig(name, tuple(models), extra.get("min_quality", "basic"), extra.get("min_chars", 1), None, 120.0)


# --- 1. overhead ---------------------------------------------------------------------------------


def litellm_proxy(binary: Path, backend: str, port: int, workdir: Path, *, cache: bool) -> LocalProcess:
    config = {
        "model_list": [
            {
                "model_name": "chat",
                "litellm_params": {"model": "openai/stub", "api_base": f"{backend}/v1", "api_key": "sk-stub"},
            }
        ],
        "general_settings": {"master_key": KEY},
        "litellm_settings": {"cache": True, "cache_params": {"type": "local"}} if cache else {},
    }
    path = workdir / f"litellm-{port}.yaml"
    path.write_text(json.dumps(config))
    command = [str(binary), "--config", str(path), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    proc = LocalProcess(
        f"litellm-{'cached' if cache else 'backend'}",
        command,
        f"http://127.0.0.1:{port}",
        "/health/liveliness",
        workdir / f"litellm-{port}.log",
    )
    return proc.start(timeout=240)


def overhead(workdir: Path, seconds: int) -> dict:
    binary = ensure_litellm()
    stub_port = free_port()
    stub = LocalProcess(
        "stub",
        [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "benchmarks"), "llm_stub_backend:app", "--port", str(stub_port),
         "--http", "httptools", "--loop", "uvloop", "--log-level", "warning", "--no-access-log"],
        f"http://127.0.0.1:{stub_port}",
        "/v1/models",
        workdir / "stub.log",
    ).start()  # fmt: skip
    stub_deployment = Deployment("stub", (stub.url,), 8192, "basic", 0.0, 0.0, "stub")
    body = {
        "model": "chat",
        "messages": [{"role": "user", "content": "Does the gateway route every request?"}],
        "max_tokens": 8,
    }
    procs = [stub]
    results: dict = {}
    try:
        for cached in (True, False):
            config = gateway_config([stub_deployment], [route("chat", ["stub"])], exact_cache=cached)
            ours = start_gateway(config, {"bench": KEY}, free_port(), workdir / f"gateway-{cached}")
            theirs = litellm_proxy(binary, stub.url, free_port(), workdir, cache=cached)
            procs += [ours, theirs]
            kind = "cached" if cached else "backend"
            for concurrency in (1, 8, 64) if cached else (8, 64):
                targets = {"mlplat gateway": ours.url, "LiteLLM proxy": theirs.url}
                if not cached:
                    targets["backend direct"] = stub.url
                for url in targets.values():
                    wrk(f"{url}/v1/chat/completions", body, concurrency, 2, KEY)  # warm-up (and fill the caches)
                # three interleaved rounds, the median of each figure: other load on the machine moves single runs
                rounds = {
                    name: [wrk(f"{url}/v1/chat/completions", body, concurrency, seconds, KEY) for _ in range(1)]
                    for name, url in targets.items()
                }
                for _ in range(2):
                    for name, url in targets.items():
                        rounds[name].append(wrk(f"{url}/v1/chat/completions", body, concurrency, seconds, KEY))
                for name, runs in rounds.items():
                    result = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
                    result["errors"] = sum(r["errors"] for r in runs)
                    results[(kind, concurrency, name)] = result
                    log(f"  {kind:<8} c={concurrency:<3} {name:<15} {result['rps']:8.0f} req/s  p50 {result['p50']:7.2f} ms  "
                        f"p99 {result['p99']:7.2f} ms  errors {result['errors']}")  # fmt: skip
            ours.stop()
            theirs.stop()
    finally:
        for proc in procs:
            proc.stop()
    summary = {}
    for kind in ("cached", "backend"):
        for concurrency in (8, 64):
            base = 0.0 if kind == "cached" else results[("backend", concurrency, "backend direct")]["p99"]
            mine = results[(kind, concurrency, "mlplat gateway")]["p99"] - base
            peer = results[(kind, concurrency, "LiteLLM proxy")]["p99"] - base
            summary[f"{kind} c={concurrency}"] = {
                "mlplat_p99_overhead_ms": mine,
                "litellm_p99_overhead_ms": peer,
                "ratio": mine / peer,
            }
    in_process = cache_hit_in_process()
    return {
        "runs": {f"{k[0]} c={k[1]} {k[2]}": v for k, v in results.items()},
        "overhead": summary,
        "in_process": in_process,
    }


def cache_hit_in_process(hits: int = 20000) -> dict:
    """The gateway's own time for an exact-cache hit: the ASGI app called in this process, no socket and no
    load generator, so the machine's scheduling of other processes is out of the figure (wrk's p99 is not)."""
    from services.llm.gateway.app import GatewayApp
    from services.llm.gateway.auth import ApiKeys
    from services.llm.gateway.exact_cache import request_key
    from services.llm.gateway.requests import parse_request

    config = gateway_config(
        [Deployment("stub", ("http://127.0.0.1:9",), 8192, "basic", 0.0, 0.0, "stub")], [route("chat", ["stub"])]
    )
    app = GatewayApp(config, ApiKeys({"bench": KEY}))
    body = json.dumps(
        {
            "model": "chat",
            "messages": [{"role": "user", "content": "Does the gateway route every request?"}],
            "max_tokens": 8,
        }
    ).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"authorization", f"Bearer {KEY}".encode())],
    }

    async def run() -> list[float]:
        await app.startup()
        parsed = parse_request("chat", body, config)
        app.dispatcher.exact.put(
            request_key("bench", "chat", parsed.body), {"id": "x", "choices": [{"message": {"content": "ok"}}]}
        )

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            pass

        times = []
        for _ in range(hits):
            started = time.perf_counter()
            await app(scope, receive, send)
            times.append(time.perf_counter() - started)
        await app.shutdown()
        return times

    times = asyncio.run(run())
    result = {q: 1000 * float(np.percentile(times, p)) for q, p in (("p50_ms", 50), ("p99_ms", 99), ("p999_ms", 99.9))}
    log(
        f"  exact-cache hit inside the gateway ({hits} calls): p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms, p99.9 {result['p999_ms']:.3f} ms"
    )
    return result


# --- 2. prefix-aware routing ---------------------------------------------------------------------


def system_prompts(count: int, tokens: int, tokenizer: Path) -> list[str]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    prompts = []
    for seed in range(count):
        text = corpus(400, seed=1000 + seed)
        ids = tok.encode(text).ids[:tokens]
        prompts.append(f"You are assistant number {seed}. " + tok.decode(ids))
    return prompts


async def ttft(client: httpx.AsyncClient, url: str, system: str, question: str) -> float:
    body = {"model": "chat", "stream": True, "max_tokens": 2, "temperature": 0.0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}  # fmt: skip
    started = time.perf_counter()
    async with client.stream(
        "POST", f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if '"content"' in line:
                return time.perf_counter() - started
    raise RuntimeError("the stream had no content")


async def _ttfts(url: str, prompts: list[str], order: list[int]) -> list[float]:
    async with httpx.AsyncClient(timeout=120) as client:
        return [
            await ttft(client, url, prompts[p], f"Question {i}: does the cache hold it?") for i, p in enumerate(order)
        ]


def prefix(workdir: Path, models, requests: int) -> dict:
    prompts = system_prompts(2, 1000, models.tokenizer)
    rng = random.Random(7)
    order = [rng.randrange(len(prompts)) for _ in range(requests)]
    results = {}
    for aware in (True, False):
        label = "prefix-aware" if aware else "round-robin"
        backends = [
            start_backend("builtin:large", "large", free_port(), workdir / "logs", context=2048, prompt_cache_mib=0)
            for _ in range(2)
        ]
        try:
            config = gateway_config(
                [deployment("large", [b.url for b in backends], "large", prefix_slots=1)],
                [route("chat", ["large"])],
                exact_cache=False,
                prefix_routing=aware,
            )
            gateway = start_gateway(config, {"bench": KEY}, free_port(), workdir / f"gateway-prefix-{aware}")
            times = asyncio.run(_ttfts(gateway.url, prompts, order))
            gateway.stop()
        finally:
            for backend in backends:
                backend.stop()
        firsts = {order.index(p) for p in set(order)}  # each prompt's first request is a miss either way
        warm = [t for i, t in enumerate(times) if i not in firsts]
        results[label + " times_ms"] = [round(1000 * t) for t in times]
        results[label] = {"mean_ms": 1000 * statistics.mean(warm), "p50_ms": 1000 * statistics.median(warm),
                          "p90_ms": 1000 * float(np.percentile(warm, 90)), "requests": len(warm)}  # fmt: skip
        r = results[label]
        log(
            f"  {label:<13} TTFT mean {r['mean_ms']:7.1f} ms  p50 {r['p50_ms']:7.1f} ms  p90 {r['p90_ms']:7.1f} ms  ({r['requests']} requests)"
        )
    results["speedup_mean"] = results["round-robin"]["mean_ms"] / results["prefix-aware"]["mean_ms"]
    results["speedup_p50"] = results["round-robin"]["p50_ms"] / results["prefix-aware"]["p50_ms"]
    return results


# --- 3. semantic cache ---------------------------------------------------------------------------


def semantic(workdir: Path, threshold: float, hits: int) -> dict:
    embed = start_backend("builtin:minilm", "minilm", free_port(), workdir / "logs", context=512, embedding=True)
    tiny = start_backend("builtin:tiny", "tiny", free_port(), workdir / "logs")
    try:
        with pgvector_database() as dsn:
            config = gateway_config(
                [deployment("tiny", [tiny.url], "tiny")],
                [route("chat", ["tiny"])],
                exact_cache=False,
                semantic_cache=True,
                semantic_threshold=threshold,
                embeddings=Deployment("minilm", (embed.url,), 512, "basic", 0.0, 0.0, "minilm"),
            )
            gateway = start_gateway(config, {"bench": KEY}, free_port(), workdir / "gateway-semantic", dsn=dsn)
            try:
                return _semantic_measure(gateway.url, threshold, hits)
            finally:
                gateway.stop()
    finally:
        embed.stop()
        tiny.stop()


def _semantic_measure(url: str, threshold: float, hits: int) -> dict:
    headers = {"authorization": f"Bearer {KEY}"}
    client = httpx.Client(timeout=60)
    texts = sorted({t for intent in INTENTS for t in intent})
    response = client.post(f"{url}/v1/embeddings", json={"model": "minilm", "input": texts}, headers=headers).json()
    vectors = {
        t: np.array(d["embedding"]) / np.linalg.norm(d["embedding"])
        for t, d in zip(texts, response["data"], strict=True)
    }
    pairs = labelled_pairs()
    similarity = np.array([vectors[a] @ vectors[b] for a, b, _ in pairs])
    same = np.array([label for *_, label in pairs])
    hit = similarity >= threshold
    tp, fp = int((hit & same).sum()), int((hit & ~same).sum())
    quality = {"pairs": len(pairs), "near_duplicates": int(same.sum()), "hits": tp + fp, "false_hits": fp,
               "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / int(same.sum()),
               "hardest_negative": float(similarity[~same].max())}  # fmt: skip
    for threshold_probe in (0.8, 0.9):
        probe = similarity >= threshold_probe
        quality[f"precision_at_{threshold_probe}"] = float((probe & same).sum() / max(1, probe.sum()))
        quality[f"recall_at_{threshold_probe}"] = float((probe & same).sum() / same.sum())
    questions = [intent[0] for intent in INTENTS]
    for question in questions:  # fill the cache
        client.post(
            f"{url}/v1/chat/completions",
            json={"model": "chat", "max_tokens": 8, "messages": [{"role": "user", "content": question}]},
            headers=headers,
        )
    latencies, served = [], 0
    for i in range(hits):
        question = questions[i % len(questions)]
        started = time.perf_counter()
        r = client.post(
            f"{url}/v1/chat/completions",
            json={"model": "chat", "max_tokens": 8, "messages": [{"role": "user", "content": question}]},
            headers=headers,
        )
        latencies.append(time.perf_counter() - started)
        served += r.headers.get("x-mlplat-cache") == "semantic"
    quality.update({"hit_p50_ms": 1000 * statistics.median(latencies), "hit_p99_ms": 1000 * float(np.percentile(latencies, 99)),
                    "hits_served": served, "hit_requests": hits})  # fmt: skip
    log(f"  labelled set: {quality['pairs']} pairs ({quality['near_duplicates']} near-duplicates); at threshold {threshold}: "
        f"precision {quality['precision']:.4f}, recall {quality['recall']:.3f}, false hits {fp}; hardest different pair {quality['hardest_negative']:.3f}")  # fmt: skip
    log(
        f"  semantic hit latency: p50 {quality['hit_p50_ms']:.2f} ms, p99 {quality['hit_p99_ms']:.2f} ms ({served}/{hits} served from the cache)"
    )
    return quality


# --- 4. cost-aware routing -----------------------------------------------------------------------


def mixed_workload(models, size: int) -> list[dict]:
    """Short questions (most), questions asking for quality, and prompts too long for the tiny model."""
    rng = random.Random(3)
    long_text = " ".join(corpus(400, seed=77).split()[:1900])  # about 2300 tokens: over tiny's 2048
    work = []
    for i in range(size):
        roll = rng.random()
        if roll < 0.6:
            work.append({"content": f"Question {i}: does the gateway route the request?", "quality": None})
        elif roll < 0.85:
            work.append({"content": f"Question {i}: explain the error budget.", "quality": "standard"})
        else:
            work.append({"content": f"{long_text}\nQuestion {i}: summarise the above.", "quality": None})
    return work


def cost(workdir: Path, models, size: int) -> dict:
    backends = {
        s: start_backend(f"builtin:{s}", s, free_port(), workdir / "logs", context=4096)
        for s in ("tiny", "small", "large")
    }
    try:
        deployments = [deployment(s, [b.url], s) for s, b in backends.items()]
        config = gateway_config(
            deployments,
            [route("cost-aware", ["tiny", "small", "large"]), route("largest", ["large"])],
            exact_cache=False,
        )
        gateway = start_gateway(
            config, {"bench": KEY}, free_port(), workdir / "gateway-cost", tokenizer=models.tokenizer
        )
        work = mixed_workload(models, size)
        results = {}
        client = httpx.Client(timeout=300)
        for name in ("cost-aware", "largest"):
            spent, passed, served = 0.0, 0, {}
            for item in work:
                body = {
                    "model": name,
                    "max_tokens": 16,
                    "temperature": 0.0,
                    "messages": [{"role": "user", "content": item["content"]}],
                }
                if item["quality"]:
                    body["metadata"] = {"quality": item["quality"]}
                answer = client.post(
                    f"{gateway.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
                ).json()
                model, usage = answer["model"], answer["usage"]
                price = PRICES[model]
                spent += (usage["prompt_tokens"] * price[0] + usage["completion_tokens"] * price[1]) / 1000
                floor = ("basic", "standard", "high").index(item["quality"] or "basic")
                text = answer["choices"][0]["message"]["content"] or ""
                passed += bool(text.strip()) and ("basic", "standard", "high").index(QUALITY[model]) >= floor
                served[model] = served.get(model, 0) + 1
            results[name] = {
                "per_1k_requests": 1000 * spent / len(work),
                "quality_held": passed / len(work),
                "served": served,
            }
            log(f"  {name:<11} {results[name]['per_1k_requests']:.4f} USD per 1k requests; answers passing the check at or "
                f"above their quality hint: {passed}/{len(work)}; served by {served}")  # fmt: skip
        gateway.stop()
    finally:
        for backend in backends.values():
            backend.stop()
    results["saving"] = 1 - results["cost-aware"]["per_1k_requests"] / results["largest"]["per_1k_requests"]
    return results


# --- 5. budgets ----------------------------------------------------------------------------------


def budgets(workdir: Path, models, requests: int, limit: int = 2000) -> dict:
    replicas = [start_backend("builtin:tiny", "tiny", free_port(), workdir / "logs") for _ in range(2)]
    try:
        config = gateway_config(
            [deployment("tiny", [r.url for r in replicas], "tiny")],
            [route("chat", ["tiny"])],
            exact_cache=False,
            tpm=limit,
        )
        gateway = start_gateway(
            config, {"bench": KEY}, free_port(), workdir / "gateway-budget", tokenizer=models.tokenizer
        )

        async def one(client: httpx.AsyncClient, i: int) -> tuple[int, int]:
            body = {
                "model": "chat",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"Budget question {i}?"}],
            }
            response = await client.post(
                f"{gateway.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
            )
            return response.status_code, (
                response.json()["usage"]["total_tokens"] if response.status_code == 200 else 0
            )

        async def load() -> list[tuple[int, int]]:
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=32)) as client:
                sem = asyncio.Semaphore(32)

                async def bounded(i: int):
                    async with sem:
                        return await one(client, i)

                return await asyncio.gather(*(bounded(i) for i in range(requests)))

        outcomes = asyncio.run(load())
        gateway.stop()
    finally:
        for replica in replicas:
            replica.stop()
    used = sum(tokens for _, tokens in outcomes)
    largest = max((tokens for _, tokens in outcomes), default=0)
    result = {"limit": limit, "tokens_admitted": used, "largest_request": largest, "over_by": max(0, used - limit),
              "ok": sum(s == 200 for s, _ in outcomes), "refused_429": sum(s == 429 for s, _ in outcomes),
              "other": sum(s not in (200, 429) for s, _ in outcomes)}  # fmt: skip
    log(f"  limit {limit} tokens/min; {requests} requests at concurrency 32: {result['ok']} answered using {used} tokens "
        f"(over by {result['over_by']}, one request is at most {largest}), {result['refused_429']} refused with 429, {result['other']} other")  # fmt: skip
    return result


# --- 6. failover ---------------------------------------------------------------------------------


def failover(workdir: Path, seconds: float) -> dict:
    replicas = [start_backend("builtin:tiny", "tiny", free_port(), workdir / "logs") for _ in range(2)]
    try:
        config = gateway_config(
            [deployment("tiny", [r.url for r in replicas], "tiny")],
            [route("chat", ["tiny"])],
            exact_cache=False,
            breaker_failures=1,
        )
        gateway = start_gateway(config, {"bench": KEY}, free_port(), workdir / "gateway-failover")
        counts = asyncio.run(_failover_load(gateway.url, replicas[0], seconds))
        metrics = httpx.get(f"{gateway.url}/metrics").text
        counts["fallbacks"] = {"recovered": int(sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                                                    if line.startswith("mlplat_llm_fallbacks_total{")))}  # fmt: skip
        gateway.stop()
    finally:
        for replica in replicas:
            replica.stop()
    recovered = counts.pop("fallbacks")["recovered"]
    log("  " + "; ".join(f"{kind}: {c['failed']} failed of {c['sent']}" for kind, c in counts.items()))
    log(f"  backend failures the gateway recovered from (another replica, or a stream replayed): {recovered}")
    counts["recovered"] = {"sent": recovered, "failed": 0}
    return counts


async def _failover_load(url: str, victim: LocalProcess, seconds: float) -> dict:
    headers = {"authorization": f"Bearer {KEY}"}
    counts = {kind: {"sent": 0, "failed": 0} for kind in ("chat", "chat stream", "completion stream")}
    deadline = time.monotonic() + seconds

    async def call(client: httpx.AsyncClient, kind: str, i: int) -> bool:
        if kind == "chat":
            body = {"model": "chat", "max_tokens": 24, "messages": [{"role": "user", "content": f"Failover {i}?"}]}
            response = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            return response.status_code == 200 and bool(response.json()["choices"])
        path = "/v1/chat/completions" if kind == "chat stream" else "/v1/completions"
        body = {"model": "chat", "max_tokens": 24, "stream": True}
        body |= (
            {"messages": [{"role": "user", "content": f"Failover {i}?"}]}
            if kind == "chat stream"
            else {"prompt": f"Failover {i}"}
        )
        async with client.stream("POST", f"{url}{path}", json=body, headers=headers) as response:
            lines = [line async for line in response.aiter_lines()]
        return response.status_code == 200 and "data: [DONE]" in lines and not any('"error"' in line for line in lines)

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            kind = ("chat", "chat stream", "completion stream")[(n + i) % 3]
            counts[kind]["sent"] += 1
            try:
                ok = await call(client, kind, i)
            except httpx.HTTPError:
                ok = False
            counts[kind]["failed"] += not ok
            i += 1

    async def killer() -> None:
        await asyncio.sleep(seconds / 3)
        victim.kill()

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(killer(), *(worker(client, n) for n in range(8)))
    return counts


# --- the run -------------------------------------------------------------------------------------

SCENARIOS = ("overhead", "prefix", "semantic", "cost", "budgets", "failover")


def summary(results: dict, threshold: float) -> None:
    log("\nAgainst the targets (issue 20):")
    if "overhead" in results:
        for case, row in results["overhead"]["overhead"].items():
            ok = row["ratio"] <= 1 / 3
            log(f"  gateway overhead p99, {case:<12}: {row['mlplat_p99_overhead_ms']:7.2f} ms vs LiteLLM {row['litellm_p99_overhead_ms']:7.2f} ms "
                f"= {row['ratio']:.3f} of LiteLLM's (target <= 0.333): {'met' if ok else 'NOT met'}")  # fmt: skip
        for concurrency in (1, 8):
            hit = results["overhead"]["runs"][f"cached c={concurrency} mlplat gateway"]["p99"]
            log(
                f"  cache hit p99 at concurrency {concurrency}: {hit:.2f} ms (target <= 2 ms): {'met' if hit <= 2 else 'NOT met'}"
            )
    if "prefix" in results:
        p = results["prefix"]
        log(f"  prefix-aware TTFT: {p['speedup_mean']:.1f}x better on the mean, {p['speedup_p50']:.1f}x on the median than round-robin "
            f"(target >= 3x): {'met' if min(p['speedup_mean'], p['speedup_p50']) >= 3 else 'NOT met'}")  # fmt: skip
    if "semantic" in results:
        s = results["semantic"]
        log(f"  semantic cache hit precision at {threshold}: {s['precision']:.4f} (target >= 0.99): "
            f"{'met' if s['precision'] >= 0.99 else 'NOT met'}; recall {s['recall']:.3f}")  # fmt: skip
    if "cost" in results:
        c = results["cost"]
        log(f"  cost per 1k requests: cost-aware {c['cost-aware']['per_1k_requests']:.4f} vs largest {c['largest']['per_1k_requests']:.4f} "
            f"({100 * c['saving']:.0f} % less), quality held {c['cost-aware']['quality_held']:.0%} vs {c['largest']['quality_held']:.0%}")  # fmt: skip
    if "budgets" in results:
        b = results["budgets"]
        ok = b["over_by"] <= b["largest_request"]
        log(
            f"  budgets: over the limit by {b['over_by']} tokens, one request is at most {b['largest_request']}: {'met' if ok else 'NOT met'}"
        )
    if "failover" in results:
        failed = sum(c["failed"] for c in results["failover"].values())
        log(f"  backend killed mid-load: {failed} failed requests (target 0): {'met' if failed == 0 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--seconds", type=int, default=6, help="wrk seconds per overhead run [6]")
    parser.add_argument(
        "--threshold", type=float, default=0.95, help="the semantic cache's threshold [0.95, blueprints/llm.yaml]"
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".mlplat" / "bench" / "llm.json")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    log(f"LLM benchmark on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    models = build_models()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlplat-llm-bench-") as folder:
        workdir = Path(folder)
        steps = {
            "overhead": lambda: overhead(workdir, args.seconds),
            "prefix": lambda: prefix(workdir, models, 28),
            "semantic": lambda: semantic(workdir, args.threshold, 50),
            "cost": lambda: cost(workdir, models, 40),
            "budgets": lambda: budgets(workdir, models, 300),
            "failover": lambda: failover(workdir, 9.0),
        }
        for name in chosen:
            log(f"\n== {name}")
            results[name] = steps[name]()
    summary(results, args.threshold)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    log(f"\nfigures written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
