"""`mlplat images`: the images a blueprint needs, and building them here for an air-gapped install.

`mlplat images list [--blueprint B]` prints every image the blueprint's manifests run plus the kind
path's (the local registry, the node image), and how each is built here. `mlplat images build` builds
those it can (from Go modules or Debian's packages, cached by their inputs) and pushes them to the
local registry, or to `--mirror`. Without --blueprint, both cover every shipped blueprint.
docs/air-gapped.md is the guide.
"""

from __future__ import annotations

import argparse
import time

from services.cli import CliError
from services.images.registry import LOCAL_MIRROR  # stdlib only: `mlplat --help` stays instant


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("images", help="list or build every image the platform needs (air-gapped installs)")
    commands = parser.add_subparsers(dest="images_command", metavar="{list,build}", required=True)
    listing = commands.add_parser("list", help="every image a blueprint needs, and how it is built here")
    listing.add_argument("--blueprint", help="shipped name or path [every shipped blueprint]")
    listing.set_defaults(handler=_list)
    build = commands.add_parser("build", help="build the images that cannot be pulled, and push them to a registry")
    build.add_argument("--blueprint", help="shipped name or path [every shipped blueprint]")
    build.add_argument("--only", help="comma-separated image names (see `mlplat images list`)")
    build.add_argument(
        "--push", action=argparse.BooleanOptionalAction, default=True, help="push to the mirror [--push]"
    )
    build.add_argument(
        "--mirror", default=LOCAL_MIRROR, help=f"registry to push to; {LOCAL_MIRROR} is started here [{LOCAL_MIRROR}]"
    )
    build.add_argument(
        "--ca-file", help="PEM of an extra CA for package downloads (a TLS-inspecting proxy) [$MLPLAT_BUILD_CA_FILE]"
    )
    build.add_argument("--rebuild", action="store_true", help="build again even when the inputs did not change")
    build.set_defaults(handler=_build)


def _needs(blueprint: str | None):
    """The images of one blueprint, or of every shipped one (deduplicated, in catalog order)."""
    from blueprints import SHIPPED, BlueprintError
    from services.images.needs import blueprint_needs

    names = [blueprint] if blueprint else list(SHIPPED)
    images, unknown = {}, set()
    for name in names:
        try:
            needs = blueprint_needs(name)
        except BlueprintError as exc:
            raise CliError(str(exc)) from None
        images.update({image.ref: image for image in needs.images})
        unknown.update(needs.unknown)
    if unknown:
        raise CliError(
            f"the manifests use images the catalog does not know: {', '.join(sorted(unknown))}; "
            "add them to services/images/catalog.py and docs/air-gapped.md"
        )
    return list(images.values())


def _list(args: argparse.Namespace) -> int:
    from services.images.catalog import BASES

    images = _needs(args.blueprint)
    width = max(len(image.name) for image in images)
    for image in images:
        mark = "built here" if image.built_here else "not built"
        print(f"{image.name:<{width}}  {image.ref}")
        print(f"{'':<{width}}    {mark}: {image.how} ({image.source})")
    print("\nbases, built here only to build the images above:")
    for base in BASES:
        print(f"{base.name:<{width}}  {base.ref} (plays {base.plays})")
    return 0


def _only(only: str | None) -> list[str] | None:
    """The --only names, checked against the catalog before anything slow runs."""
    from services.images.catalog import images_for

    if only is None:
        return None
    names = [name.strip() for name in only.split(",") if name.strip()]
    known = [image.name for image in images_for()]
    missing = [name for name in names if name not in known]
    if missing or not names:
        raise CliError(f"--only: no image named {', '.join(missing) or repr(only)}; choose from: {', '.join(known)}")
    return names


def _build(args: argparse.Namespace) -> int:
    from services.images import docker, go_program
    from services.images.build import Builder, BuildError
    from services.images.mirror import MirrorError, mirrored
    from services.images.registry import RegistryError
    from services.images.rootfs import RootfsError
    from services.images.trust import BuildTrust, TrustError

    only = _only(args.only)
    try:
        trust = BuildTrust.from_option(args.ca_file)
        if args.push:
            mirrored("docker.io/library/check:1", args.mirror)  # validates --mirror before any build
    except (TrustError, MirrorError) as exc:
        raise CliError(str(exc)) from None
    if docker.docker("info", check=False).returncode != 0:
        raise CliError("images: the Docker daemon is not reachable: start Docker, then check `docker info`", code=1)
    images = [image for image in _needs(args.blueprint) if only is None or image.name in only]
    if args.push and args.mirror == LOCAL_MIRROR and "registry" not in {image.name for image in images}:
        from services.images.catalog import LOCAL_REGISTRY

        images.insert(0, LOCAL_REGISTRY)  # the local mirror runs the registry built here: build it first
    builder = Builder(trust, rebuild=args.rebuild)
    started = time.monotonic()
    outcomes = []
    try:
        builder.resolve_modules([image for image in images if image.built_here])
        for image in images:
            outcomes.append(_one(builder, image, args))
    except go_program.ModuleUnavailable as exc:
        raise CliError(f"images: {exc}", code=1) from None
    except (BuildError, go_program.ToolchainError, RootfsError, RegistryError, docker.DockerError) as exc:
        raise CliError(f"images: {exc}", code=1) from None
    _report(outcomes, time.monotonic() - started)
    return 0


def _one(builder, image, args):
    """Build (or find cached) one image and push it; an image not built here is pushed if it was loaded."""
    from services.images import docker
    from services.images.build import Outcome

    if image.built_here:
        outcome = builder.build(image)
    elif docker.image_id(image.ref) and "@" not in image.ref:
        outcome = Outcome(image.name, image.ref, "loaded (docker load)")
    else:
        return Outcome(image.name, image.ref, f"not built: {image.not_built}")
    return builder.push(outcome, args.mirror) if args.push else outcome


def _report(outcomes, seconds: float) -> None:
    width = max(len(outcome.name) for outcome in outcomes)
    for outcome in outcomes:
        timing = f" in {outcome.seconds:.0f}s" if outcome.result == "built" else ""
        size = f", {outcome.size / 2**20:.0f} MiB" if outcome.size else ""
        note = f", {outcome.note}" if outcome.note else ""
        pushed = f" -> {outcome.pushed}" if outcome.pushed else ""
        print(f"{outcome.name:<{width}}  {outcome.result}{timing}{size}{note}: {outcome.ref}{pushed}")
    print(f"done in {seconds:.0f}s")
