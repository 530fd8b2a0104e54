"""Settings for every test process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# No X-Ray daemon and no CloudWatch here: Powertools must neither trace nor print EMF metric lines.
# (Tracer switches itself off outside Lambda anyway; tests that check a metric turn metrics back on.)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def restore_planner(harness: object) -> Iterator[None]:
    """Put back the stack's planner after a test that swapped in its own (use_planner); `harness` is
    the using module's running stack, so the planner saved is that stack's."""
    from orchestrator.dependencies import get_dependencies

    planner = get_dependencies().planner
    yield
    get_dependencies().planner = planner
