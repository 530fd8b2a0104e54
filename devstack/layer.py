"""Build the CommonLayer the way `sam build` does for `BuildMethod: python3.12` on arm64: pip installs
layers/common/requirements.txt for CPython 3.12 / manylinux aarch64 (binary wheels only) into
`python/`, beside the `orchestrator` package.

`sam build` itself cannot run on a machine without a python3.12 binary (SAM checks for one) or
Docker (`--use-container`); this reproduces its layer step so CI proves the layer resolves, has
wheels for the Lambda runtime, and fits Lambda's size limit.

    .venv/bin/python -m devstack.layer [OUT_DIR]      # default: build/CommonLayer
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from devstack.template import PROJECT_ROOT

LAYER_SOURCE = PROJECT_ROOT / "layers" / "common"
DEFAULT_OUT = PROJECT_ROOT / "build" / "CommonLayer"
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024  # functions + layers, unzipped


def build_layer(out_dir: Path = DEFAULT_OUT) -> Path:
    """The layer's content directory (what SAM zips); returns `out_dir`."""
    target = out_dir / "python"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    target.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
            "--python-version", LAMBDA_PYTHON, "--only-binary=:all:", "--target", str(target),
            "-r", str(LAYER_SOURCE / "requirements.txt"),
            "-c", str(PROJECT_ROOT / "constraints.txt"),
        ],
        check=True,
    )  # fmt: skip
    shutil.copytree(
        LAYER_SOURCE / "orchestrator",
        target / "orchestrator",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return out_dir


def size_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    out = build_layer(Path(argv[0]) if argv else DEFAULT_OUT)
    size = size_bytes(out)
    print(f"built {out}: {size / 1024 / 1024:.1f} MiB unzipped (Lambda limit 250 MiB for functions + layers)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
