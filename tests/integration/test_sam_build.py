"""What `sam build` builds (make test runs `make sam-build` into build/sam first): every function of
template.yaml with its handler, and the CommonLayer for the Lambda runtime (CPython 3.12, arm64)
from layers/common/requirements.txt, within Lambda's size limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.layer import LAMBDA_UNZIPPED_LIMIT_BYTES, LAYER_SOURCE, size_bytes
from devstack.template import PROJECT_ROOT, load_template

pytestmark = pytest.mark.integration

BUILD_DIR = PROJECT_ROOT / "build" / "sam"


class _AnyTag(yaml.SafeLoader):
    """Reads the built template's CloudFormation tags (!Ref, !Sub, ...) as plain values."""


_AnyTag.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def built() -> Path:
    if not (BUILD_DIR / "template.yaml").is_file():
        pytest.fail("build/sam is missing: run `make sam-build` (make test does) before these tests")
    return BUILD_DIR


@pytest.fixture(scope="module")
def layer(built: Path) -> Path:
    return built / "CommonLayer" / "python"


def test_every_function_is_built_with_its_handler(built: Path) -> None:
    template: dict[str, Any] = yaml.load((built / "template.yaml").read_text(), Loader=_AnyTag)
    resources = template["Resources"]
    for name, spec in load_template().functions.items():
        properties = resources[name]["Properties"]
        assert properties["CodeUri"] == name, name
        module = spec.handler.rpartition(".")[0]
        assert (built / name / f"{module}.py").is_file(), name
    assert resources["CommonLayer"]["Properties"]["ContentUri"] == "CommonLayer"


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (LAYER_SOURCE / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower().replace("-", "_")] = version
    return pins


def test_every_pinned_requirement_is_in_the_layer_at_its_version(layer: Path) -> None:
    installed = dict(
        path.name.removesuffix(".dist-info").lower().rsplit("-", 1) for path in layer.glob("*.dist-info")
    )
    for name, version in _requirements().items():
        assert installed.get(name) == version, f"{name}=={version} missing from the layer"


def test_the_orchestrator_package_is_in_the_layer_as_in_the_source(layer: Path) -> None:
    source = {p.relative_to(LAYER_SOURCE).as_posix() for p in (LAYER_SOURCE / "orchestrator").rglob("*.py")}
    packaged = {p.relative_to(layer).as_posix() for p in (layer / "orchestrator").rglob("*.py")}
    assert packaged == source


def test_bytecode_in_the_layer_is_for_the_runtime_and_used_as_shipped(layer: Path) -> None:
    """The layer's .pyc files (compiled when the build machine has a CPython 3.12, see
    layers/common/Makefile) are CPython 3.12's, unchecked-hash (used whatever the files' times after
    unzipping), and cover every module of the orchestrator; none of the host's stray into it."""
    compiled = list(layer.rglob("*.pyc"))
    assert all(path.name.endswith(".cpython-312.pyc") for path in compiled), "bytecode of another Python"
    if not compiled:
        pytest.skip("built without a CPython 3.12: the layer ships no .pyc (cold starts compile it)")
    flags = {int.from_bytes(path.read_bytes()[4:8], "little") for path in compiled}
    assert flags == {0b01}, "expected unchecked-hash .pyc files only (PEP 552: flags 0b01)"
    for source in (layer / "orchestrator").rglob("*.py"):
        assert (source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc").is_file(), source


def test_compiled_extensions_are_built_for_cpython_312_on_arm64(layer: Path) -> None:
    extensions = [path for path in layer.rglob("*.so") if ".cpython-" in path.name]
    assert extensions, "expected compiled extensions (pydantic-core, cryptography, ...)"
    wrong = [path.name for path in extensions if "cpython-312-aarch64" not in path.name]
    assert not wrong, f"extensions for another runtime: {wrong}"


def test_the_layer_fits_lambdas_size_limit_with_room_for_the_functions(layer: Path) -> None:
    assert size_bytes(layer) < LAMBDA_UNZIPPED_LIMIT_BYTES * 0.8
