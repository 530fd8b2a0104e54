"""Settings for every test process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.stack_helpers import Harness, StackOverrides

# No X-Ray daemon and no CloudWatch here: Powertools must neither trace nor print EMF metric lines.
# (Tracer switches itself off outside Lambda anyway; tests that check a metric turn metrics back on.)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def overrides(harness: Harness) -> Iterator[StackOverrides]:
    """Adapters this test swaps in on the module's running stack (`harness`): `overrides.use(
    planner=FixedPlanner(...))` gives every function of the stack that planner until the test ends."""
    from tests.stack_helpers import StackOverrides

    with StackOverrides(harness.stack) as scoped:
        yield scoped
