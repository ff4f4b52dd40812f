"""The toolchain builder's decisions: pins, cache key, recipes, replace rewriting, reuse, and failures.

No test here compiles anything: the Go module proxy is switched off (GOPROXY=off), so any attempt to
download would fail loudly, which is how the "never rebuilt" and "taken from PATH" tests prove that
nothing was fetched. The real builds run in `make toolchain` / `make test-engine`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.engine import toolchain

PINS = {
    "pulumi": toolchain.Pin("3.260.0"),
    "pulumi-kubernetes": toolchain.Pin("4.25.0", "v4.0.0-20260115033456-f47bc2d6f199"),
    "kubernetes": toolchain.Pin("1.35.8"),
    "etcd": toolchain.Pin("3.6.8"),
    "kwok": toolchain.Pin("0.8.0"),
    "prometheus": toolchain.Pin("3.5.0", "v0.305.0"),
    "kind": toolchain.Pin("0.33.0"),
    "containerd": toolchain.Pin("2.3.4"),
    "runc": toolchain.Pin("1.4.3"),
    "cri-tools": toolchain.Pin("1.36.0"),
    "cni-plugins": toolchain.Pin("1.9.1"),
    "coredns": toolchain.Pin("1.13.1"),
    "local-path-provisioner": toolchain.Pin("0.0.33"),
    "kube-router": toolchain.Pin("2.1.0"),
    "opa": toolchain.Pin("1.22.4"),
}
needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is not installed")


@pytest.fixture(autouse=True)
def offline_go(monkeypatch):
    monkeypatch.setenv("GOPROXY", "off")


def test_every_pin_has_a_recipe_and_every_recipe_is_in_a_group():
    pins = toolchain.load_pins()
    recipes = toolchain.components(pins)
    assert set(pins) <= set(recipes)
    assert set().union(*toolchain.GROUPS.values()) == set(recipes)


def test_kubernetes_pin_matches_the_kind_node_image():
    kind = (toolchain.ROOT / "infra" / "kind" / "cluster.yaml").read_text()
    assert f"kindest/node:v{toolchain.load_pins()['kubernetes'].version}@sha256:" in kind


def test_promtool_is_the_version_of_the_clusters_prometheus_image():
    from infra import images

    assert images.PROMETHEUS.endswith(f":v{toolchain.load_pins()['prometheus'].version}")


def test_pulumi_pins_match_the_python_packages_in_constraints():
    constraints = (toolchain.ROOT / "constraints.txt").read_text().splitlines()
    pins = toolchain.load_pins()
    assert f"pulumi=={pins['pulumi'].version}" in constraints
    assert f"pulumi_kubernetes=={pins['pulumi-kubernetes'].version}" in constraints


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[etcd]\nversion = "latest"\n', r"\[etcd\]\.version must be a release"),
        ('[etcd]\nversion = "3.6.8"\nmodule = "main"\n', r"\[etcd\]\.module must be a Go module version"),
        ('[etcd]\nversion = "3.6.8"\nbranch = "main"\n', r"\[etcd\] has unknown keys \['branch'\]"),
        ('etcd = "3.6.8"\n', r"etcd must be a table"),
        ("[etcd\n", r"not valid TOML"),
    ],
)
def test_a_bad_pin_file_is_refused_naming_the_table_and_the_fix(tmp_path, text, message):
    bad = tmp_path / "toolchain.toml"
    bad.write_text(text)
    with pytest.raises(toolchain.ToolchainError, match=message):
        toolchain.load_pins(bad)


def test_the_provider_is_built_from_the_module_version_and_stamped_with_the_release():
    recipe = toolchain.components(PINS)["pulumi-kubernetes"]
    assert recipe.version == "v4.0.0-20260115033456-f47bc2d6f199"
    assert "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=4.25.0" in recipe.ldflags
    assert recipe.env["VERSION"] == "4.25.0"  # what `go generate` writes into the embedded schema


def test_cache_key_changes_with_any_pin_and_not_with_order():
    assert toolchain.pins_hash(PINS) == toolchain.pins_hash(dict(reversed(list(PINS.items()))))
    assert toolchain.pins_hash(PINS) != toolchain.pins_hash({**PINS, "etcd": toolchain.Pin("3.6.9")})
    other_commit = toolchain.Pin("4.25.0", "v4.0.0-20260116000000-000000000000")
    assert toolchain.pins_hash(PINS) != toolchain.pins_hash({**PINS, "pulumi-kubernetes": other_commit})


def test_bin_dir_lives_in_the_user_cache_outside_the_repository(tmp_path):
    path = toolchain.bin_dir(PINS, environ={"XDG_CACHE_HOME": str(tmp_path)})
    assert path == tmp_path / "mlops-platform" / "toolchain" / toolchain.pins_hash(PINS) / "bin"


def test_kubernetes_binaries_are_stamped_like_an_upstream_release():
    recipe = toolchain.components(PINS)["kubernetes"]
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        assert f"-X {package}.gitVersion=v1.35.8" in recipe.ldflags
        assert f"-X {package}.gitMinor=35" in recipe.ldflags
    assert {b.name for b in recipe.binaries} >= {"kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def test_staging_modules_are_required_at_their_published_version():
    recipe = toolchain.components(PINS)["kubernetes"]
    assert recipe.published_version("k8s.io/api") == "v0.35.8"
    assert toolchain.components(PINS)["pulumi"].published_version("github.com/pulumi/pulumi/sdk/v3") == "v3.260.0"


def test_the_provider_recipe_generates_its_embedded_schema_before_building():
    recipe = toolchain.components(PINS)["pulumi-kubernetes"]
    assert ("go", "generate", "./cmd/pulumi-resource-kubernetes") in recipe.generate


def test_make_toolchain_builds_kind_and_kubectl_but_not_the_node_images_parts():
    chosen = {c.name for c in toolchain.select(toolchain.components(PINS), None)}
    assert {"kind", "kubernetes", "etcd", "pulumi"} <= chosen
    assert chosen.isdisjoint({"kubernetes-node", "runc", "containerd", "coredns", "kube-router", "agnhost"})


def test_the_node_binaries_come_from_the_same_kubernetes_module_and_version_as_the_control_plane():
    recipes = toolchain.components(PINS)
    control_plane, node = recipes["kubernetes"], recipes["kubernetes-node"]
    assert (
        (node.module, node.version) == (control_plane.module, control_plane.version) == ("k8s.io/kubernetes", "v1.35.8")
    )
    assert node.ldflags == control_plane.ldflags  # stamped v1.35.8 like a release
    assert node.published_version("k8s.io/api") == "v0.35.8"
    assert {b.name for b in node.binaries} == {"kubelet", "kubeadm", "kube-proxy"}
    assert all(not b.version_args for b in node.binaries)  # never a kubelet from PATH inside the node image


def test_runc_is_linked_static_with_seccomp_like_its_make_static():
    runc = toolchain.components(PINS)["runc"]
    command = toolchain._build_command(runc, " ".join(runc.ldflags), Path("/out"), ".")
    assert runc.env["CGO_ENABLED"] == "1"
    assert "-tags=seccomp,urfave_cli_no_docs,netgo,osusergo" in command
    assert "-buildmode=pie" in command
    assert "-extldflags -static-pie" in command[command.index("-o") - 1]
    assert runc.needs == (("libseccomp", "apt-get install gcc libseccomp-dev"),)


def test_containerd_leaves_out_the_snapshotters_kind_never_uses_and_reports_its_version():
    containerd = toolchain.components(PINS)["containerd"]
    command = toolchain._build_command(containerd, "", Path("/out"), "./cmd/containerd")
    assert "-tags=no_aufs,no_zfs,no_btrfs,no_devmapper" in command
    assert "-X github.com/containerd/containerd/v2/version.Version=v2.3.4" in containerd.ldflags
    assert {b.name for b in containerd.binaries} == {"containerd", "ctr", "containerd-shim-runc-v2"}


def test_a_build_without_tags_passes_no_tags_flag():
    command = toolchain._build_command(toolchain.components(PINS)["kind"], "-s -w", Path("/out"), ".")
    assert command == ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out", "."]


def test_a_missing_c_library_is_named_with_what_to_install_before_anything_compiles():
    recipe = toolchain.Component(
        "tool", "example.com/tool", "v1.0.0", (), needs=(("no-such-library-x", "apt-get install x-dev"),)
    )
    with pytest.raises(
        toolchain.ToolchainError, match="tool links the C library no-such-library-x.*apt-get install x-dev"
    ):
        toolchain._check_libraries([recipe])


def test_the_kind_pin_is_the_kind_the_cluster_config_names():
    kind = (toolchain.ROOT / "infra" / "kind" / "cluster.yaml").read_text()
    assert f"kind v{toolchain.load_pins()['kind'].version}" in kind


def test_opa_is_built_from_its_module_root_and_reused_from_path_only_at_the_pinned_version():
    recipe = toolchain.components(PINS)["opa"]
    assert (recipe.module, recipe.version) == ("github.com/open-policy-agent/opa", "v1.22.4")
    (opa,) = recipe.binaries
    assert (opa.package, opa.version_args, opa.version_text) == (".", ("version",), "Version: 1.22.4")
    assert recipe.ldflags == () and toolchain.select(toolchain.components(PINS), ["policy"]) == [recipe]


def test_groups_expand_and_unknown_names_list_the_choices():
    recipes = toolchain.components(PINS)
    assert [c.name for c in toolchain.select(recipes, ["control-plane"])] == ["etcd", "kubernetes", "kwok"]
    with pytest.raises(toolchain.ToolchainError, match="choose from: .*control-plane"):
        toolchain.select(recipes, ["kubelet"])


def test_only_local_directory_replacements_are_rewritten():
    go_mod = {
        "Replace": [
            {"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
            {"Old": {"Path": "github.com/pulumi/pulumi/sdk/v3"}, "New": {"Path": "../sdk"}},
            {
                "Old": {"Path": "github.com/atotto/clipboard"},
                "New": {"Path": "github.com/fork/clipboard", "Version": "v1"},
            },
        ]
    }
    assert toolchain.local_replacements(go_mod) == ["k8s.io/api", "github.com/pulumi/pulumi/sdk/v3"]


@needs_go
def test_local_replace_directives_are_pointed_at_published_versions(tmp_path):
    (tmp_path / "go.mod").write_text(
        "module example.com/tool\n\ngo 1.22\n\n"
        "require (\n\texample.com/lib v0.0.0\n\texample.com/fork v1.0.0\n)\n\n"
        "replace example.com/lib => ./staging/lib\n\n"
        "replace example.com/fork => example.com/upstream-fork v1.2.3\n\n"
        "replace example.com/forbidden => ./FORBIDDEN\n"
    )
    recipe = toolchain.Component("tool", "example.com/tool", "v1.0.0", (), published_version=lambda m: "v1.4.0")
    go = toolchain._Go(tmp_path / "cache", log=lambda line: None)
    replaced = toolchain._point_replacements_at_published(recipe, tmp_path, go, tmp_path / "log")
    edited = json.loads(subprocess.run(["go", "mod", "edit", "-json"], cwd=tmp_path, capture_output=True).stdout)
    assert replaced == ["example.com/lib", "example.com/forbidden"]
    assert {"Path": "example.com/lib", "Version": "v1.4.0"} in edited["Require"]
    assert [r["Old"]["Path"] for r in edited["Replace"]] == ["example.com/fork"]  # the fork stays
    assert "example.com/forbidden" not in {r["Path"] for r in edited["Require"]}


@needs_go
def test_without_a_published_version_a_replaced_module_keeps_the_version_go_mod_requires(tmp_path):
    (tmp_path / "go.mod").write_text(
        "module example.com/provider\n\ngo 1.22\n\nrequire example.com/sdk/v4 v4.24.0\n\n"
        "replace example.com/sdk/v4 => ../sdk\n"
    )
    recipe = toolchain.Component("provider", "example.com/provider", "v4.0.0", ())
    go = toolchain._Go(tmp_path / "cache", log=lambda line: None)
    assert toolchain._point_replacements_at_published(recipe, tmp_path, go, tmp_path / "log") == ["example.com/sdk/v4"]
    edited = json.loads(subprocess.run(["go", "mod", "edit", "-json"], cwd=tmp_path, capture_output=True).stdout)
    assert edited["Require"] == [{"Path": "example.com/sdk/v4", "Version": "v4.24.0"}]
    assert not edited.get("Replace")


@needs_go
def test_a_placeholder_requirement_without_a_published_version_is_refused(tmp_path):
    (tmp_path / "go.mod").write_text(
        "module example.com/tool\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ./lib\n"
    )
    recipe = toolchain.Component("tool", "example.com/tool", "v1.0.0", ())
    go = toolchain._Go(tmp_path / "cache", log=lambda line: None)
    with pytest.raises(toolchain.ToolchainError, match="requires example.com/lib v0.0.0"):
        toolchain._point_replacements_at_published(recipe, tmp_path, go, tmp_path / "log")


@needs_go
def test_a_module_the_proxy_cannot_serve_stops_the_build_with_one_line_naming_it(tmp_path):
    with pytest.raises(toolchain.ModuleUnavailable) as caught:
        toolchain.build(["kwok"], pins=PINS, cache=tmp_path, log=lambda line: None)
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot serve sigs.k8s.io/kwok@v0.8.0" in message


@needs_go
def test_reading_a_modules_files_from_a_refused_module_stops_with_one_line_naming_it(tmp_path):
    with pytest.raises(toolchain.ModuleUnavailable) as caught:
        toolchain.module_dir("kind", pins=PINS, cache=tmp_path, log=lambda line: None)
    assert "\n" not in str(caught.value)
    assert "cannot serve sigs.k8s.io/kind@v0.33.0" in str(caught.value)


def test_cached_binaries_are_never_rebuilt(tmp_path):
    bin_dir = tmp_path / toolchain.pins_hash(PINS) / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "kwok").write_text("#!/bin/sh\n")
    (bin_dir / toolchain.KWOK_STAGES).write_text("kind: Stage\n")
    results = toolchain.build(["kwok"], pins=PINS, cache=tmp_path, log=lambda line: None)
    assert [(r.binary, r.how) for r in results] == [("kwok", "cached")]


def test_changing_one_pin_reuses_every_other_component_from_the_store(tmp_path):
    store = tmp_path / "store" / "kwok@v0.8.0"
    store.mkdir(parents=True)
    (store / "kwok").write_text("#!/bin/sh\n")
    (store / toolchain.KWOK_STAGES).write_text("kind: Stage\n")
    changed = {**PINS, "etcd": toolchain.Pin("3.6.9")}  # another pin set: a new bin folder
    results = toolchain.build(["kwok"], pins=changed, cache=tmp_path, log=lambda line: None)
    assert [(r.binary, r.how) for r in results] == [("kwok", "cached")]
    assert (tmp_path / toolchain.pins_hash(changed) / "bin" / "kwok").resolve() == store / "kwok"


def test_a_binary_on_path_at_the_pinned_version_is_used_as_it_is(tmp_path, monkeypatch):
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "kwok").write_text("#!/bin/sh\necho 'kwok version v0.8.0 go1.26.0 (linux/amd64)'\n")
    (on_path / "kwok").chmod(0o755)
    monkeypatch.setenv("PATH", f"{on_path}:/usr/bin:/bin")
    store = tmp_path / "cache" / "store" / "kwok@v0.8.0"
    store.mkdir(parents=True)
    (store / toolchain.KWOK_STAGES).write_text("kind: Stage\n")  # the stages were copied before
    results = toolchain.build(["kwok"], pins=PINS, cache=tmp_path / "cache", log=lambda line: None)
    assert [(r.binary, r.how) for r in results] == [("kwok", "path")]
    assert (tmp_path / "cache" / toolchain.pins_hash(PINS) / "bin" / "kwok").resolve() == on_path / "kwok"


@needs_go
def test_a_binary_on_path_at_another_version_is_not_used(tmp_path, monkeypatch):
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "kwok").write_text("#!/bin/sh\necho 'kwok version v0.7.0'\n")
    (on_path / "kwok").chmod(0o755)
    monkeypatch.setenv("PATH", f"{on_path}:{Path(shutil.which('go')).parent}:/usr/bin:/bin")
    with pytest.raises(toolchain.ModuleUnavailable):  # it goes on to build, and the proxy is off
        toolchain.build(["kwok"], pins=PINS, cache=tmp_path / "cache", log=lambda line: None)


def test_without_go_on_path_the_build_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(toolchain.ToolchainError, match=r"building kwok needs the Go toolchain.*go\.dev/dl"):
        toolchain.build(["kwok"], pins=PINS, cache=tmp_path / "cache", log=lambda line: None)


def test_kwok_gets_the_releases_fast_stages_as_one_config_file(tmp_path, monkeypatch):
    module = tmp_path / "module"
    for number, path in enumerate(toolchain.KWOK_FAST_STAGES):
        (module / path).parent.mkdir(parents=True, exist_ok=True)
        (module / path).write_text(f"kind: Stage\nmetadata:\n  name: s{number}\n")
    store = tmp_path / "cache" / "store" / "kwok@v0.8.0"
    store.mkdir(parents=True)
    (store / "kwok").write_text("#!/bin/sh\n")  # built before: only the stages are missing
    monkeypatch.setattr(toolchain._Go, "download", lambda self, module_path, version: module)
    fake_go = tmp_path / "go-bin" / "go"  # nothing is compiled: any `go` on PATH passes the build's check
    fake_go.parent.mkdir()
    fake_go.write_text("#!/bin/sh\nexit 1\n")
    fake_go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_go.parent}:{os.environ['PATH']}")
    toolchain.build(["kwok"], pins=PINS, cache=tmp_path / "cache", log=lambda line: None)
    stages = tmp_path / "cache" / toolchain.pins_hash(PINS) / "bin" / toolchain.KWOK_STAGES
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(stages.read_text())]
    assert names == [f"s{n}" for n in range(len(toolchain.KWOK_FAST_STAGES))]


def test_the_provider_is_built_at_the_pinned_release_when_the_sdk_matches_it(tmp_path):
    go = toolchain._Go(tmp_path, lambda line: None)
    assert toolchain.provider_for_sdk(PINS, go, "4.25.0") == PINS
    assert toolchain.provider_for_sdk(PINS, go, None) == PINS  # no SDK installed: nothing to follow


def test_an_sdk_whose_provider_the_proxy_cannot_serve_stops_naming_both_versions_and_the_fix(tmp_path):
    go = toolchain._Go(tmp_path, lambda line: None)  # GOPROXY=off: the proxy serves nothing
    with pytest.raises(toolchain.ToolchainError) as caught:
        toolchain.provider_for_sdk(PINS, go, "4.34.2")
    message = str(caught.value)
    assert "installed pulumi-kubernetes SDK is 4.34.2" in message
    assert "pinned at 4.25.0" in message
    assert "pip install -c constraints.txt -e ." in message


def test_a_provider_linked_at_another_version_is_rebuilt_not_reused(tmp_path):
    old = tmp_path / "store" / "pulumi-kubernetes@v4.0.0-old" / "pulumi-resource-kubernetes"
    new = tmp_path / "store" / "pulumi-kubernetes@v4.34.2" / "pulumi-resource-kubernetes"
    old.parent.mkdir(parents=True)
    old.write_text("#!/bin/sh\n")
    link = tmp_path / "bin" / "pulumi-resource-kubernetes"
    link.parent.mkdir()
    link.symlink_to(old)
    assert toolchain._stale(link, new, tmp_path)
    assert not toolchain._stale(link, old, tmp_path)


def test_up_with_the_toolchains_pulumi_stops_before_a_download_that_cannot_succeed(tmp_path, monkeypatch):
    from infra import automation
    from services.deploy.pulumi_stack import check_provider
    from services.deploy.target import DeployError

    home = tmp_path / "pulumi-home"
    (home / "plugins" / "resource-kubernetes-v4.25.0").mkdir(parents=True)
    settings = automation.deploy_settings(
        "dev", kube_context="kind-mlops", pulumi=toolchain.PulumiInstall(tmp_path / "pulumi", home)
    )
    monkeypatch.setattr(toolchain, "installed_sdk_version", lambda: "4.25.0")
    check_provider(settings)  # the provider the SDK asks for is there
    monkeypatch.setattr(toolchain, "installed_sdk_version", lambda: "4.34.2")
    with pytest.raises(DeployError) as caught:
        check_provider(settings)
    assert "SDK installed here is 4.34.2" in str(caught.value) and "has provider 4.25.0" in str(caught.value)
    assert "make toolchain" in str(caught.value)
