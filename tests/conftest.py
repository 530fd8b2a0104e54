"""Settings for every test process."""

from __future__ import annotations

import os

# No X-Ray daemon and no CloudWatch here: Powertools must neither trace nor print EMF metric lines.
# (Tracer switches itself off outside Lambda anyway; tests that check a metric turn metrics back on.)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
