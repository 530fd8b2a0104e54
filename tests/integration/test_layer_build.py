"""The CommonLayer builds for the Lambda runtime (CPython 3.12, arm64) from layers/common/requirements.txt.

Needs PyPI (CI has the package registries). `sam build` itself needs a python3.12 binary or Docker,
neither of which this machine has; devstack/layer.py performs its layer step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.layer import LAMBDA_UNZIPPED_LIMIT_BYTES, LAYER_SOURCE, build_layer, size_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layer(tmp_path_factory.mktemp("layer") / "CommonLayer") / "python"


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


def test_the_orchestrator_package_is_in_the_layer(layer: Path) -> None:
    assert (layer / "orchestrator" / "services" / "steps.py").is_file()
    assert not list((layer / "orchestrator").rglob("__pycache__"))


def test_compiled_extensions_are_built_for_cpython_312_on_arm64(layer: Path) -> None:
    extensions = [path for path in layer.rglob("*.so") if ".cpython-" in path.name]
    assert extensions, "expected compiled extensions (pydantic-core, cryptography, ...)"
    wrong = [path.name for path in extensions if "cpython-312-aarch64" not in path.name]
    assert not wrong, f"extensions for another runtime: {wrong}"


def test_the_layer_fits_lambdas_size_limit_with_room_for_the_functions(layer: Path) -> None:
    assert size_bytes(layer) < LAMBDA_UNZIPPED_LIMIT_BYTES * 0.8
