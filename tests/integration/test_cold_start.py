"""What a function's cold start imports, as deployed (tracing on, a fresh interpreter per function): no
heavy client it has not used yet, X-Ray's patches only for the libraries it imports, and still a
subsegment for each of their calls. Structural facts, never timings (bench/cold_import.py has those)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Imported by the first request that needs them, never by the cold start of any function.
FIRST_USE_ONLY = ("boto3", "botocore.session", "botocore.client", "supabase", "postgrest", "openai")
# What Powertools builds the OpenAPI document with (~70 ms to import): only `python -m devstack.openapi`
# uses it; the openapi function serves the committed document. (Request validation needs Powertools'
# openapi params, compat and dependant modules, a few ms: every routed function imports those.)
OPENAPI_DOCUMENT = tuple(
    f"aws_lambda_powertools.event_handler.openapi.{name}"
    for name in ("models", "schema_generator", "swagger_ui")
)


def lambda_environment(function: str, **extra: str) -> dict[str, str]:
    """What a deployed function with Tracing: Active sees (Powertools' Tracer only traces in Lambda)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "_X_AMZN"))}
    env.update(
        LAMBDA_TASK_ROOT=str(ROOT / "functions" / function),
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        _X_AMZN_TRACE_ID=TRACE_ID,
        AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        POWERTOOLS_SERVICE_NAME="orchestrator",
        PYTHONPATH=os.pathsep.join([str(ROOT / "functions" / function), str(ROOT / "layers" / "common")]),
    )
    env.update(extra)
    return env


def probe(function: str, code: str, **extra_env: str) -> dict[str, Any]:
    """Run `import app`, then `code` (which sets `result`), in a fresh interpreter as `function`."""
    script = "import json, sys\nimport app\nresult = {}\n" + code + "\nprint('PROBE ' + json.dumps(result))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT / "functions" / function,
        env=lambda_environment(function, **extra_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("PROBE "))
    found: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return found


COLD_IMPORT = f"""
from aws_lambda_powertools import Tracer
result["tracing"] = not Tracer._config["disabled"]
result["first_use_only"] = [m for m in {FIRST_USE_ONLY!r} if m in sys.modules]
result["xray_patches"] = sorted(m for m in sys.modules if m.startswith("aws_xray_sdk.ext."))
result["openapi_document"] = sorted(m for m in sys.modules if m.startswith({OPENAPI_DOCUMENT!r}))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_cold_start_imports_no_client_before_its_first_use(function: str) -> None:
    found = probe(function, COLD_IMPORT)
    assert found["tracing"], "the probe must trace as deployed, or it checks nothing"
    assert found["first_use_only"] == []
    assert found["openapi_document"] == []
    # Without botocore or httpx imported, nothing of X-Ray's patching is either (patch_all would).
    assert not any(
        m.startswith(("aws_xray_sdk.ext.botocore", "aws_xray_sdk.ext.requests"))
        for m in found["xray_patches"]
    )


PATCHED_ON_FIRST_IMPORT = """
import boto3, botocore.client, httpx
client = boto3.session.Session().client("stepfunctions", region_name="us-east-1")
result["botocore"] = bool(getattr(botocore.client, "_xray_enabled", False))
result["httpx"] = httpx.Client.__name__
with httpx.Client() as http:
    result["httpx_transport"] = type(http._transport).__name__
"""


def test_the_libraries_a_function_imports_are_traced_from_their_first_import() -> None:
    found = probe("step_advance", PATCHED_ON_FIRST_IMPORT)
    assert found == {
        "botocore": True,  # every AWS call is a subsegment
        "httpx": "_InstrumentedClient",
        "httpx_transport": "SyncInstrumentedTransport",  # every agent and PostgREST request too
    }


def test_nothing_is_patched_with_tracing_off() -> None:
    found = probe("step_advance", PATCHED_ON_FIRST_IMPORT, POWERTOOLS_TRACE_DISABLED="true")
    assert found["botocore"] is False
    assert found["httpx"] == "Client"


# --- models: built on first use in Lambda, at import elsewhere -----------------------------------

MODELS = """
import importlib, pkgutil
import orchestrator
from orchestrator.models import OrchestratorModel

def models():
    pending, found = [OrchestratorModel], []
    while pending:
        subs = pending.pop().__subclasses__()
        found += subs
        pending += subs
    return found

result["built_at_import"] = sorted(m.__qualname__ for m in models() if m.__pydantic_complete__)
result["imported"] = len(models())
for info in pkgutil.walk_packages(orchestrator.__path__, "orchestrator."):
    importlib.import_module(info.name)
result["all"] = sorted(m.__qualname__ for m in models())
result["built"] = sorted(m.__qualname__ for m in models() if m.model_rebuild(raise_errors=True) is not False)
"""


@pytest.mark.parametrize("function", ["get_workflow", "step_advance"])
def test_in_lambda_a_model_is_built_on_its_first_use_and_every_one_builds(function: str) -> None:
    found = probe(function, MODELS)
    assert found["imported"] > 20
    assert found["built_at_import"] == []  # a cold start builds no model: its first use does
    assert found["built"] == found["all"]  # every model resolves its annotations when first used


def test_outside_lambda_every_model_is_built_at_import() -> None:
    """The local stack serves many requests at once in one process: no model is left to be built by
    whichever request comes first (pydantic's deferred build is not thread-safe)."""
    import importlib
    import pkgutil

    import orchestrator
    from orchestrator.models import OrchestratorModel

    for info in pkgutil.walk_packages(orchestrator.__path__, "orchestrator."):
        importlib.import_module(info.name)
    pending: list[type[OrchestratorModel]] = [OrchestratorModel]
    models: list[type[OrchestratorModel]] = []
    while pending:
        subs = pending.pop().__subclasses__()
        models += subs
        pending += subs
    assert len(models) > 30
    assert [m.__qualname__ for m in models if not m.__pydantic_complete__] == []


STORE_CLIENT = """
from orchestrator.store.supabase import SupabaseStore
client = SupabaseStore("https://fake-project.supabase.co", "service-role-key", 5).client()
result["imported"] = sorted(
    {m.split(".")[0] for m in sys.modules} & {"supabase", "supabase_auth", "storage3", "realtime", "supabase_functions"}
)
result["transport"] = type(client.session._transport).__name__
"""


def test_the_first_store_request_imports_postgrest_alone_and_is_traced() -> None:
    found = probe("get_workflow", STORE_CLIENT)
    assert found == {"imported": [], "transport": "SyncInstrumentedTransport"}


ALGOSDK_IMPORTED = 'result["algosdk"] = sorted(m for m in sys.modules if m.split(".")[0] == "algosdk")[:3]'


@pytest.mark.parametrize("function", ["workflow_funds", "get_workflow", "list_agents", "list_workflows"])
def test_reads_import_algosdk_only_when_they_decode_or_ask_the_chain(function: str) -> None:
    # The funds read asks algod through its first request's chain client and decodes an offered group
    # only for a step awaiting payment; at import, none of them needs algosdk (~60 ms).
    assert probe(function, ALGOSDK_IMPORTED)["algosdk"] == []
