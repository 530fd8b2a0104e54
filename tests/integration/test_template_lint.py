"""template.yaml is lint-clean: cfn-lint over the whole template (seconds: it loads every
CloudFormation resource spec, so it runs with the integration tests, not the unit tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devstack.template import TEMPLATE_PATH

pytestmark = pytest.mark.integration


def test_cfn_lint_reports_no_errors() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=120)
    # cfn-lint exits 2 for errors, 4 for warnings, 8 for informational findings.
    assert result.returncode & 2 == 0, result.stdout + result.stderr
