"""Build the CommonLayer without SAM: runs `layers/common/Makefile` (the same target `sam build` runs)
into a folder of your choice and reports its size against Lambda's limit.

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
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024  # functions + layers, unzipped


def build_layer(out_dir: Path = DEFAULT_OUT) -> Path:
    """The layer's content directory (what SAM zips); returns `out_dir`."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    subprocess.run(
        [
            "make", "--no-print-directory", "-f", str(LAYER_SOURCE / "Makefile"), "build-CommonLayer",
            f"ARTIFACTS_DIR={out_dir.resolve()}", f"PYTHON={sys.executable}",
        ],
        check=True,
        cwd=LAYER_SOURCE,
    )  # fmt: skip
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
