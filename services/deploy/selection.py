"""Which blueprint a command works on: the one named with --blueprint, else the one the Pulumi stack selects.

Every command that needs a blueprint (up, down, status, demo, cost, features, train) asks here, so
standalone, the clusters and the tools around them always agree on the platform they mean.
"""

from __future__ import annotations

from pathlib import Path

from services.deploy.target import DEFAULT_ROOT, DeployError, Deployment

__all__ = ["PROJECT_ROOT", "deployment", "selected_blueprint", "stack_blueprint"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FALLBACK = "multi-tenant"  # when the stack file names none


def stack_blueprint(stack: str = "dev") -> str:
    """The blueprint the Pulumi stack selects, so standalone and the cluster run the same platform."""
    import yaml

    path = PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    if path.is_file():
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config", {})
        if config.get("mlops-platform:blueprint"):
            return str(config["mlops-platform:blueprint"])
    return FALLBACK


def selected_blueprint(name: str | None, stack: str = "dev"):
    """(name, Blueprint) for a command's --blueprint, defaulting to the stack's; a bad one is a DeployError
    whose message names the file, the field and the fix."""
    from blueprints import BlueprintError, load

    name = name or stack_blueprint(stack)
    try:
        return name, load(name, base=PROJECT_ROOT)
    except BlueprintError as exc:
        raise DeployError(str(exc), code=2) from None


def deployment(name: str | None, stack: str = "dev", root: Path = DEFAULT_ROOT) -> Deployment:
    """The Deployment a command's --blueprint, --stack and --root describe."""
    resolved, blueprint = selected_blueprint(name, stack)
    return Deployment(resolved, blueprint, stack=stack, root=root, explicit=name is not None)
