"""The build recipes agree with the pins: a bump in infra/images.py without its recipe fails here."""

from __future__ import annotations

import re

import pytest

from services.images.build import FILES, platform_context_files
from services.images.catalog import BASES, DOCKERFILES, images_for
from services.images.go_program import GoBinary, GoProgram
from services.images.programs import PROGRAMS

BUILT = [image for image in images_for() if image.built_here]


@pytest.mark.parametrize("image", BUILT, ids=lambda image: image.name)
def test_every_built_image_has_its_dockerfile_files_and_base(image):
    assert (DOCKERFILES / image.dockerfile).is_file()
    for name in image.files:
        assert (FILES / name).is_file(), name
    assert image.base in {base.name for base in BASES}


@pytest.mark.parametrize("image", [i for i in BUILT if i.program], ids=lambda image: image.name)
def test_a_go_built_image_ships_the_version_its_reference_names(image):
    tag_version = image.ref.rsplit(":", 1)[1].removeprefix("v").removesuffix("-static")  # OPA's -static variant
    program = PROGRAMS[image.program]
    assert image.version == tag_version
    if image.name != "opa":  # OPA's release writes its version in its source (v1/version), not by stamps
        assert any(f"={tag_version}" in flag or f"=v{tag_version}" in flag for flag in program.ldflags), program.ldflags
    if image.name != "prometheus":  # Prometheus 3.5.0 is published as the Go module v0.305.0
        assert program.version == f"v{tag_version}"


def test_every_dockerfile_copies_only_what_its_context_gets():
    for image in [*BUILT, *BASES]:
        if image.name == "platform" or not image.dockerfile:  # services/Dockerfile; debootstrap roots
            continue
        text = (DOCKERFILES / image.dockerfile).read_text()
        copied = {
            part
            for line in text.splitlines()
            if line.startswith("COPY") and "--from=" not in line
            for part in re.sub(r"--chown=\S+", "", line).split()[1:-1]
        }
        program = PROGRAMS.get(getattr(image, "program", ""))
        context = {*image.files, *(name for _, name in getattr(image, "module_files", ()))}
        context |= {binary.name for binary in program.binaries} if program else set()
        assert copied <= context, f"{image.name}: {sorted(copied - context)} is copied but not in the context"


def test_a_program_is_stored_under_a_new_key_when_its_recipe_changes():
    base = GoProgram("example.com/tool", "v1.0.0", (GoBinary("tool", "."),), ldflags=("-X a.Version=1.0.0",))
    assert (
        base.key() == GoProgram("example.com/tool", "v1.0.0", (GoBinary("tool", "."),), ("-X a.Version=1.0.0",)).key()
    )
    assert base.key() != GoProgram("example.com/tool", "v1.0.1", base.binaries, base.ldflags).key()
    assert base.key() != GoProgram(base.module, base.version, base.binaries, base.ldflags, tags=("netgo",)).key()
    assert base.store().name.endswith(base.key())


def test_the_platform_image_inputs_are_the_sources_it_copies_without_bytecode():
    files = platform_context_files()
    assert any(path.name == "constraints.txt" for path in files)
    assert any(path.parts[-2:] == ("model_server", "app.py") for path in files)
    assert not any("__pycache__" in path.parts or path.suffix == ".pyc" for path in files)


def test_a_refused_module_stops_the_build_before_any_compile_with_one_line_naming_it(monkeypatch, tmp_path):
    from services.images import go_program
    from services.images.go_program import ModuleUnavailable

    class FakeGo:
        def download(self, module, version):
            if module == "example.com/refused":
                raise ModuleUnavailable(f"the Go module proxy cannot serve {module}@{version}: 403 Forbidden")
            return tmp_path

    monkeypatch.setattr(go_program, "_go", lambda log, env: FakeGo())
    monkeypatch.setattr(go_program, "images_cache", lambda: tmp_path)
    programs = [
        GoProgram("example.com/served", "v1.0.0", (GoBinary("served", "."),)),
        GoProgram("example.com/refused", "v2.0.0", (GoBinary("refused", "."),)),
    ]
    with pytest.raises(ModuleUnavailable) as refused:
        go_program.resolve(programs, log=lambda line: None)
    assert str(refused.value).splitlines() == [
        "the Go module proxy cannot serve example.com/refused@v2.0.0: 403 Forbidden"
    ]


def test_prometheus_is_built_from_the_module_the_toolchains_promtool_comes_from():
    from services.engine import toolchain

    assert PROGRAMS["prometheus"].version == toolchain.load_pins()["prometheus"].module_version
