"""`mlplat llm`: build the platform's models, register an LLM, run a backend replica, run the gateway.

mlplat llm build                               tokenizer + tiny/small/large + MiniLM, cached
mlplat llm register chat-tiny --blueprint llm  fetch the source, measure it, register a version
mlplat llm backend models:/chat-tiny@champion  llama.cpp's server on the registered GGUF
mlplat llm gateway --config gateway.json --keys DIR
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    llm = subparsers.add_parser("llm", help="LLM serving: models, backends, the gateway (docs/llm.md)")
    commands = llm.add_subparsers(dest="llm_command", metavar="COMMAND", required=True)

    build = commands.add_parser("build", help="build the platform's own models (cached)")
    build.add_argument("--no-embedding", action="store_true", help="skip the MiniLM embedding model")
    build.set_defaults(handler=_build)

    reg = commands.add_parser("register", help="measure an LLM on llama.cpp and register a version")
    reg.add_argument("model", help="the LLM's name in the blueprint (tenants[].llm.models[].name)")
    reg.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    reg.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")
    reg.add_argument("--gguf", type=Path, default=None, help="register this file instead of the model's source")
    reg.set_defaults(handler=_register)

    backend = commands.add_parser("backend", help="run one llama.cpp replica of an LLM")
    backend.add_argument("source", help="models:/<name>@<alias>, builtin:<tiny|small|large|minilm>, or a .gguf path")
    backend.add_argument("--name", required=True, help="the model name clients (the gateway) send")
    backend.add_argument("--host", default="127.0.0.1")
    backend.add_argument("--port", type=int, default=8100)
    backend.add_argument("--context", type=int, default=2048, help="context length in tokens [2048]")
    backend.add_argument("--threads", type=int, default=1)
    backend.add_argument("--prompt-cache-mib", type=int, default=256, help="the prefix (KV) cache [256]")
    backend.add_argument("--embedding", action="store_true", help="serve /v1/embeddings (an embedding model)")
    backend.add_argument("--download-dir", type=Path, default=Path(".mlplat/llm/models"))
    backend.add_argument(
        "--fallback-source",
        default=None,
        help="served while the registry has no version at the alias yet (builtin:NAME or a .gguf path)",
    )
    backend.set_defaults(handler=_backend)

    gateway = commands.add_parser("gateway", help="run the OpenAI-compatible gateway")
    gateway.add_argument("--config", type=Path, required=True, help="the gateway's JSON configuration")
    gateway.add_argument("--keys", type=Path, required=True, help="a directory with one API key file per tenant")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8110)
    gateway.add_argument("--tokenizer", default=None, help="tokenizer.json for exact prompt token counts")
    gateway.add_argument("--replicas", type=int, default=1, help="gateway replicas: budgets are split among them")
    gateway.set_defaults(handler=_gateway)


def _build(args: argparse.Namespace) -> int:
    from services.llm.build import build_models

    built = build_models(embedding=not args.no_embedding)
    print(f"models in {built.directory}")
    for name, path in {**built.models, **({"minilm": built.embedding} if built.embedding else {})}.items():
        print(f"  {name:<8} {path.stat().st_size / 2**20:8.1f} MiB  {path}")
    return 0


def resolve_source(source: str, download_dir: Path) -> Path:
    """A backend's GGUF from `models:/...` (the registry), `builtin:NAME` or a file path."""
    if source.startswith("models:/"):
        from services.llm.registry import download_gguf

        return download_gguf(source, download_dir)
    if source.startswith("builtin:"):
        from services.llm.build import build_models

        name = source.removeprefix("builtin:")
        built = build_models(embedding=name == "minilm")
        if name not in (*built.models, "minilm"):
            raise CliError(f"{source}: no such builtin model; use one of {', '.join([*built.models, 'minilm'])}")
        return built.gguf(name)
    path = Path(source)
    if not path.is_file():
        raise CliError(f"{source}: not a file, a models:/ URI or builtin:NAME")
    return path


def _backend(args: argparse.Namespace) -> int:
    from services.llm.engine import backend_command

    try:
        gguf = resolve_source(args.source, args.download_dir)
    except Exception as exc:  # the registry is unreachable, or has nothing at the alias yet
        if not (args.fallback_source and args.source.startswith("models:/")):
            raise
        print(f"mlplat llm backend: {args.source} unavailable ({exc}); serving {args.fallback_source} until then")
        gguf = resolve_source(args.fallback_source, args.download_dir)
    command = backend_command(
        gguf,
        args.name,
        host=args.host,
        port=args.port,
        context=args.context,
        threads=args.threads,
        prompt_cache_mib=args.prompt_cache_mib,
        embedding=args.embedding,
    )
    os.execv(command[0], command)  # the replica is llama.cpp's server itself: signals reach it directly
    return 0  # pragma: no cover


def _gateway(args: argparse.Namespace) -> int:
    from services.llm.gateway.server import serve

    try:
        serve(args.config, args.keys, args.host, args.port, tokenizer=args.tokenizer, replicas=args.replicas)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return 0


def _register(args: argparse.Namespace) -> int:
    from blueprints.schema.llm import llm_models
    from services.deploy.selection import selected_blueprint
    from services.llm.lifecycle import register_from_blueprint

    _, blueprint = selected_blueprint(args.blueprint)
    found = llm_models(blueprint.tenants).get(args.model)
    if found is None:
        known = ", ".join(sorted(llm_models(blueprint.tenants))) or "none"
        raise CliError(f"no LLM {args.model!r} in blueprint {blueprint.metadata.name!r} (its LLMs: {known})")
    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    tenant = blueprint.tenants[found[0]].name
    registered, metrics = register_from_blueprint(tenant, found[2], gguf=args.gguf)
    print(f"registered {registered.name} version {registered.version} (run {registered.run_id})")
    for key, value in metrics.items():
        print(f"  {key:<30} {value:.4g}")
    print(f"next: mlplat promote {registered.name} {registered.version} --to champion")
    return 0
