"""Where the kind path's images come from: pulled from their registries, or built here and mirrored.

A machine that can pull gets kind's pinned node image and the third-party images from their registries,
and only the platform's own image is built and loaded into the node (`kind load`), as kind's quick start
does. A machine that cannot (an air-gapped network, or this project's test machines, which reach package
registries only) gets everything built here and served from a local registry, the way kind's
local-registry guide runs one:

1. the node image, built from source (services/images/node.py, docs/kind-node.md);
2. every image the blueprint's manifests name, built from its upstream source or Debian's packages
   (services/images/, docs/air-gapped.md) and pushed under the mirror `localhost:5001`, where the
   registry container `kind-registry` serves them;
3. after the cluster exists: the registry joins the `kind` network, each node's containerd learns that
   `localhost:5001` is served by `http://kind-registry:5000` (a hosts.toml, read because the cluster
   config sets containerd's `config_path`), and the ConfigMap `local-registry-hosting` tells tools so;
4. the stack deploys with `imageMirror: localhost:5001`: every pod pulls the same path and tag from it.

The decision is one question, asked once: can the pinned node image be pulled (or is it already here)?
An image that can be neither pulled nor built (Grafana: the Go module proxy refuses its module) is
left out of the deployment if it is not loaded locally, and said so.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from services.deploy.commands import CommandFailed, Runner

__all__ = ["ImageSupply", "Supply", "REGISTRY_HOSTING", "content_tag"]

Log = Callable[[str], None]

# KEP-1755: how tools learn about a cluster's local registry (kind's guide creates the same ConfigMap).
REGISTRY_HOSTING = """apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:{port}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
"""


def content_tag(run: Runner, ref: str) -> str:
    """A tag naming the image's content: `0.1.0` becomes `0.1.0-<12 hex of its image id>`.

    The platform's image changes with every code change, its release tag does not, and a node that
    already holds `mlops-platform/platform:0.1.0` never pulls it again (imagePullPolicy IfNotPresent):
    the pods would keep running the old code. A tag that changes with the content rolls them out."""
    code, output = run(["docker", "image", "inspect", "--format", "{{.Id}}", ref])
    if code != 0:
        raise CommandFailed(["docker", "image", "inspect", ref], output, "the image must have been built first")
    tag = ref.rpartition(":")[2]
    return f"{tag}-{output.strip().removeprefix('sha256:')[:12]}"


@dataclass(frozen=True)
class Supply:
    """What `kind create cluster` and `pulumi up` are given."""

    node_image: str | None = None  # `--image`; None: the one the cluster config pins
    mirror: str | None = None  # the stack's imageMirror; None: pods pull from the images' registries
    platform_tag: str | None = None  # the platform image's content tag (see content_tag)
    left_out: dict[str, str] = field(default_factory=dict)  # component -> why its image is missing


@dataclass
class ImageSupply:
    blueprint_name: str
    run: Runner
    log: Log = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    kind: str = "kind"
    kubectl: str = "kubectl"

    def can_pull(self) -> bool:
        """The pinned node image is here, or its registry answers a pull."""
        from infra.versions import node_image

        ref = node_image()
        if self.run(["docker", "image", "inspect", ref])[0] == 0:
            return True
        code, output = self.run(["docker", "pull", ref])
        if code != 0:
            self.log(f"images: cannot pull {ref} ({output.strip().splitlines()[-1] if output.strip() else code})")
        return code == 0

    def build_here(self) -> Supply:
        """Build the node image and every image the blueprint needs, and push them to the local registry."""
        from services.images import build, docker
        from services.images.needs import blueprint_needs
        from services.images.node import build_node_image
        from services.images.registry import LOCAL_MIRROR
        from services.images.trust import BuildTrust

        self.log(
            "images: no registry answers, so everything is built here (cached after the first time) and served "
            f"from a local registry at {LOCAL_MIRROR} (docs/air-gapped.md)"
        )
        node = build_node_image(log=self.log).ref
        needs = blueprint_needs(self.blueprint_name)
        builder = build.Builder(BuildTrust.from_option(None), log=self.log)
        deployed = [image for image in needs.images if image.name not in ("kind-node",)]
        builder.resolve_modules([image for image in deployed if image.built_here])
        left_out: dict[str, str] = {}
        platform_tag = None
        for image in deployed:
            if image.name == "platform":
                outcome = builder.build(image)
                platform_tag = content_tag(self.run, outcome.ref)
                tagged = f"{outcome.ref.rpartition(':')[0]}:{platform_tag}"
                self.run(["docker", "tag", outcome.ref, tagged])
                builder.push(build.Outcome(image.name, tagged, outcome.result), LOCAL_MIRROR)
            elif image.built_here:
                builder.push(builder.build(image), LOCAL_MIRROR)
            elif docker.image_id(image.ref):  # loaded by hand (`docker load`): serve it too
                builder.push(build.Outcome(image.name, image.ref, "loaded"), LOCAL_MIRROR)
            else:
                left_out[image.name] = image.not_built
                self.log(f"images: {image.name} is left out of this deployment: {image.not_built}")
        return Supply(node_image=node, mirror=LOCAL_MIRROR, platform_tag=platform_tag, left_out=left_out)

    def point_nodes_at_registry(self, cluster: str) -> None:
        """Tell each node's containerd where `localhost:5001` is, join the registry to kind's network."""
        from services.images import registry

        registry.connect_to_kind(self.log)
        nodes = self._must(
            [self.kind, "get", "nodes", "--name", cluster], "check the cluster: `kind get nodes`"
        ).split()
        folder = f"/etc/containerd/certs.d/{registry.LOCAL_MIRROR}"
        hosts = f'[host."http://{registry.CONTAINER}:5000"]\n'
        for node in nodes:
            self._must(["docker", "exec", node, "mkdir", "-p", folder], f"check the node: `docker exec {node} ls /`")
            self._must(
                ["docker", "exec", node, "sh", "-c", f"printf '%s' '{hosts}' > {folder}/hosts.toml"],
                f"check the node: `docker exec {node} ls {folder}`",
            )
        self.log(f"images: the nodes pull {registry.LOCAL_MIRROR}/... from {registry.CONTAINER}:5000")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
            manifest.write(REGISTRY_HOSTING.format(port=registry.HOST_PORT))
            manifest.flush()
            self._must(
                [self.kubectl, "--context", f"kind-{cluster}", "apply", "-f", manifest.name],
                "the cluster's API server must answer: `kubectl --context kind-mlops get nodes`",
            )

    def _must(self, command: list[str], advice: str) -> str:
        code, output = self.run(command)
        if code != 0:
            raise CommandFailed(command, output, advice)
        return output
