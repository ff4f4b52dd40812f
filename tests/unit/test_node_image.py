"""The kind node image builder's decisions, without Docker or a network: archives, the base image's edits to
kind's files, the manifests, the image list checked against kubeadm's, and the cache key.

The real build, and a cluster booted from it, run in `make test-kind` (tests/kind_node/).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from services.engine import toolchain
from services.engine.toolchain import ToolchainError
from services.images import node, node_archive, node_base, node_manifests, node_parts

PINS = toolchain.load_pins()
REFS = node_parts.node_refs(PINS, "3.10.1")
KIND_CONFIG = """version = 2
[plugins."io.containerd.grpc.v1.cri"]
  # use fixed sandbox image
  sandbox_image = "registry.k8s.io/pause:3.10"
  # restrict_oom_score_adj needs to be true when running inside UserNS (rootless)
  restrict_oom_score_adj = false
"""
needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is not installed")


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_an_archive_names_its_layers_by_digest_and_tags_the_image(tmp_path):
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF pretend")
    layer = node_archive.layer_from_files({"/usr/local/bin/tool": (binary, 0o755)}, tmp_path / "layer.tar")
    spec = node_archive.ImageSpec("registry.k8s.io/tool:v1", (layer,), entrypoint=("/usr/local/bin/tool",))
    files = _members(node_archive.write_archive(spec, tmp_path / "image.tar"))
    [manifest] = json.loads(files["manifest.json"])
    config = json.loads(files[manifest["Config"]])
    layer_sha = hashlib.sha256(layer.read_bytes()).hexdigest()
    assert manifest["RepoTags"] == ["registry.k8s.io/tool:v1"]
    assert manifest["Layers"] == [f"{layer_sha}/layer.tar"]
    assert config["rootfs"]["diff_ids"] == [f"sha256:{layer_sha}"]
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/tool"]
    assert manifest["Config"] == f"{hashlib.sha256(files[manifest['Config']]).hexdigest()}.json"


def test_a_files_layer_is_owned_by_root_has_its_folders_and_a_tmp_and_is_reproducible(tmp_path):
    source = tmp_path / "etcd"
    source.write_bytes(b"binary")
    first = node_archive.layer_from_files({"/usr/local/bin/etcd": (source, 0o755)}, tmp_path / "a.tar")
    second = node_archive.layer_from_files({"/usr/local/bin/etcd": (source, 0o755)}, tmp_path / "b.tar")
    with tarfile.open(first) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"tmp", "usr", "usr/local", "usr/local/bin", "usr/local/bin/etcd"}
    assert members["tmp"].mode == 0o1777 and members["usr/local/bin/etcd"].mode == 0o755
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert first.read_bytes() == second.read_bytes()  # the same binary is the same digest: stored once


def test_the_containerd_config_uses_the_pause_built_here_and_writes_cni_config_from_the_pod_cidr():
    config = node_base.containerd_config(KIND_CONFIG, "registry.k8s.io/pause:3.10.1")
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in config
    assert 'pause:3.10"' not in config
    assert f'[plugins."io.containerd.grpc.v1.cri".cni]\n  conf_template = "{node_base.CNI_TEMPLATE_PATH}"' in config


def test_containerd_never_asks_for_a_lower_oom_score_than_its_own():
    config = node_base.containerd_config(KIND_CONFIG, "registry.k8s.io/pause:3.10.1")
    assert "restrict_oom_score_adj = true" in config and "restrict_oom_score_adj = false" not in config


@pytest.mark.parametrize("line", [node_base.KIND_SANDBOX, node_base.KIND_OOM])
def test_a_kind_config_without_a_line_the_build_edits_is_refused(line):
    with pytest.raises(ValueError, match="no longer says"):
        node_base.containerd_config(KIND_CONFIG.replace(line, ""), "registry.k8s.io/pause:3.10.1")


def test_the_cri_base_spec_runs_kinds_product_files_hook_and_drops_rlimits():
    default = {"process": {"rlimits": [{"type": "RLIMIT_NOFILE"}], "args": ["sh"]}, "hooks": {}}
    spec = node_base.cri_base_spec(default)
    assert spec["hooks"]["createContainer"] == [{"path": "/kind/bin/mount-product-files.sh"}]
    assert "rlimits" not in spec["process"] and spec["process"]["args"] == ["sh"]
    assert default["process"]["rlimits"]  # the input is not changed


@needs_go
def test_the_cni_template_renders_to_kindnets_network_for_the_nodes_pod_cidr(tmp_path):
    (tmp_path / "template").write_text(node_base.CNI_TEMPLATE)
    (tmp_path / "main.go").write_text(
        'package main\nimport ("os"; "text/template")\n'
        "type values struct { PodCIDR string; PodCIDRRanges []string; Routes []string }\n"
        'func main() { t := template.Must(template.ParseFiles("template"))\n'
        '  t.Execute(os.Stdout, values{"10.244.0.0/24", []string{"10.244.0.0/24"}, []string{"0.0.0.0/0"}}) }\n'
    )
    (tmp_path / "go.mod").write_text("module render\n\ngo 1.22\n")
    rendered = subprocess.run(
        ["go", "run", "."], cwd=tmp_path, capture_output=True, text=True, check=True, env={**_go_env(tmp_path)}
    )
    network = json.loads(rendered.stdout)
    ptp, portmap = network["plugins"]
    assert (ptp["type"], portmap["type"]) == ("ptp", "portmap")
    assert ptp["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    assert ptp["ipam"]["routes"] == [{"dst": "0.0.0.0/0"}]


def _go_env(tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local"}


GO_SOURCE = """package nodeimage

const storageProvisionerImage = "docker.io/kindest/local-path-provisioner:v1"
const storageHelperImage = "docker.io/kindest/local-path-helper:v1"

const defaultStorageManifest = `
kind: Pod
metadata:
  name: provisioner
spec:
  containers:
  - image: ` + storageProvisionerImage + `
    args: [--helper-image, ` + storageHelperImage + `]
`
"""


def test_kinds_storage_manifest_is_read_from_its_go_source_with_the_images_built_here(tmp_path):
    source = tmp_path / node_manifests.STORAGE_SOURCE
    source.parent.mkdir(parents=True)
    source.write_text(GO_SOURCE)
    pod = yaml.safe_load(node_manifests.storage_manifest(tmp_path, "ours/provisioner:v2", "ours/helper:v3"))
    assert pod["spec"]["containers"][0]["image"] == "ours/provisioner:v2"
    assert pod["spec"]["containers"][0]["args"] == ["--helper-image", "ours/helper:v3"]


def test_a_constant_the_build_has_no_replacement_for_is_an_error():
    with pytest.raises(ValueError, match="uses storageHelperImage, which has no replacement"):
        node_manifests.go_string_constant(GO_SOURCE, "defaultStorageManifest", {"storageProvisionerImage": "x"})


def test_the_cni_manifest_runs_kube_routers_firewall_only_on_every_node():
    documents = list(yaml.safe_load_all(node_manifests.cni_manifest(REFS.kube_router)))
    [daemonset] = [d for d in documents if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "mlops-platform/kube-router:v2.1.0"
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(container["args"])
    assert pod["hostNetwork"] and pod["tolerations"] == [{"operator": "Exists"}]
    [role] = [d for d in documents if d["kind"] == "ClusterRole"]
    assert {"get", "list", "watch"} == {verb for rule in role["rules"] for verb in rule["verbs"]}  # read-only


KUBEADM_LIST = [
    "registry.k8s.io/kube-apiserver:v1.35.8",
    "registry.k8s.io/kube-controller-manager:v1.35.8",
    "registry.k8s.io/kube-scheduler:v1.35.8",
    "registry.k8s.io/kube-proxy:v1.35.8",
    "registry.k8s.io/coredns/coredns:v1.13.1",
    "registry.k8s.io/pause:3.10.1",
    "registry.k8s.io/etcd:3.6.6-0",
]


def test_the_node_needs_kubeadms_images_the_sandbox_image_the_cni_and_the_storage():
    required = node_parts.required_images(KUBEADM_LIST, REFS)
    assert required[:6] == [image for image in KUBEADM_LIST if "pause" not in image]
    assert required[6:] == [REFS.pause, REFS.kube_router, REFS.provisioner, REFS.helper]


def test_kubeadm_asking_for_another_etcd_than_the_pinned_one_names_both():
    listed = [image.replace("3.6.6-0", "3.6.7-0") for image in KUBEADM_LIST]
    with pytest.raises(
        ToolchainError, match=r"deploys registry.k8s.io/etcd:3.6.7-0.*\['registry.k8s.io/etcd:3.6.6-0'\]"
    ):
        node_parts.required_images(listed, REFS)


def test_the_pause_version_is_the_one_kubernetes_build_pause_makefile_builds(tmp_path):
    (tmp_path / "build" / "pause").mkdir(parents=True)
    (tmp_path / "build" / "pause" / "Makefile").write_text("REGISTRY ?= x\n\nTAG ?= 3.10.1\nREV = $(shell git)\n")
    assert node_parts.pause_version(tmp_path) == "3.10.1"


def test_the_cache_key_follows_the_node_pins_and_nothing_else():
    key = node.node_inputs(PINS)
    assert node.node_inputs(dict(reversed(list(PINS.items())))) == key
    assert node.node_inputs({**PINS, "runc": toolchain.Pin("1.4.4")}) != key
    assert node.node_inputs({**PINS, "pulumi": toolchain.Pin("3.999.0")}) == key  # not part of the node


def test_an_image_whose_label_matches_the_inputs_is_returned_without_building(monkeypatch, tmp_path):
    monkeypatch.setattr(node, "_label", lambda ref: node.node_inputs(PINS))
    monkeypatch.setattr(toolchain, "build", lambda *a, **k: pytest.fail("nothing may be built"))
    image = node.build_node_image(pins=PINS, cache=tmp_path, log=lambda line: None)
    assert (image.ref, image.how) == ("mlops-platform/kind-node:v1.35.8", "cached")


def test_the_base_image_keeps_kinds_metadata_and_carries_its_inputs():
    changes = node_base.base_image_changes("abc123")
    assert 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' in changes
    assert "ENV container=docker" in changes
    assert f"LABEL {node.INPUTS_LABEL}=abc123" in changes


def test_every_pin_but_the_engine_only_ones_is_part_of_the_node_images_cache_key():
    engine_only = {"pulumi", "pulumi-kubernetes", "kwok", "prometheus", "opa"}
    assert set(node.NODE_PINS) == set(toolchain.load_pins()) - engine_only


def test_a_new_kube_router_rebuilds_the_node_image_but_not_its_base():
    changed = {**PINS, "kube-router": toolchain.Pin("2.2.0")}
    assert node.node_inputs(changed) != node.node_inputs(PINS)
    assert node.base_inputs(changed) == node.base_inputs(PINS)
    assert node.base_inputs({**PINS, "containerd": toolchain.Pin("2.3.5")}) != node.base_inputs(PINS)
