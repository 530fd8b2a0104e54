"""Cold import of every Lambda function against a naive import of the heavy libraries, as deployed.

    .venv/bin/python bench/cold_import.py [--runs 5] [--site layer|venv|DIR] [--only create,health]
                                          [--from-source] [--no-first-request]

For every function under functions/, `--runs` fresh interpreters each time `import app` (the handler
module; the runs go round the naive import and every function in turn, so the machine's load weighs
on all alike) with the function's folder and the layer (`layers/common`) on sys.path, in the environment a
deployed function has: template.yaml's Globals and the function's own variables, and what the Lambda
runtime sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, AWS_EXECUTION_ENV, _X_AMZN_TRACE_ID, …), so
that Powertools' Tracer really traces (it switches itself off outside Lambda; POWERTOOLS_TRACE_DISABLED
is never set). The naive import is timed the same way: a fresh interpreter importing every heavy
library the code uses, as a handler that imports everything at module level would.

Printed: per function the median and max import time, its ratio to the naive median, whether it is
within 0.25x, whether tracing was on; the first request that needs no AWS (a refused request: the
route, the validation and one traced, logged invocation) where the function has one; the clients the
first request that reads the store creates (Parameters' SSM client for the service role key, the
store's PostgREST client; nothing sent); and the load average.

`--site layer` (the default) installs the layer's requirements (plus boto3, which the Lambda runtime
provides) for this interpreter into build/bench/, once, and runs the interpreters with `-S` on that
path alone, as Lambda does: the dev packages of the venv are not there to be imported or patched.
`--site venv` uses this venv as it is. `--from-source` reads no .pyc (the layer ships none and /opt is
read-only in Lambda, so every cold start compiles its modules); by default caches are warm.
This is a benchmark: it prints figures and never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "common"
TEMPLATE = ROOT / "template.yaml"
TARGET = 0.25
NAIVE = "(naive)"
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# What a handler written without care for cold starts imports at module level: every heavy library
# the code uses, Powertools with its OpenAPI machinery, and X-Ray patching everything it can.
NAIVE_IMPORT = """
import boto3, botocore.client, botocore.session
import httpx, pydantic
import openai
from openai import OpenAI
from supabase import create_client
from algosdk import encoding, logic, transaction
from algosdk.v2client import algod, indexer
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.middlewares import openapi_validation
from aws_lambda_powertools.event_handler.openapi import models, params
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_xray_sdk.core import patch_all
Logger(service="naive"); Metrics(namespace="Naive"); Tracer(service="naive")  # Tracer() runs patch_all
APIGatewayHttpResolver(enable_validation=True)
"""

# Run in each fresh interpreter: time the import, then (optionally) one first request needing no AWS.
PROBE = r"""
import json, sys, time
# What the Lambda runtime has imported before it imports the handler (awslambdaric's bootstrap, the
# managed python3.12 runtime's): not the handler's to pay for, in the naive import either.
import decimal, enum, importlib, logging, math, os, traceback
started = time.perf_counter()
exec(compile(sys.argv[1], "<import>", "exec"), {})
imported = time.perf_counter()
result = {"import_ms": (imported - started) * 1000, "modules": len(sys.modules)}
try:
    from aws_xray_sdk import global_sdk_config
    from aws_lambda_powertools import Tracer
    result["tracing"] = global_sdk_config.sdk_enabled() and not Tracer._config["disabled"]
except Exception:
    result["tracing"] = False
result["openapi_validation"] = "aws_lambda_powertools.event_handler.middlewares.openapi_validation" in sys.modules
event = json.loads(sys.argv[2])
if event is not None:
    import app

    class Context:
        function_name = "bench"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        memory_limit_in_mb = 512
        aws_request_id = "00000000-0000-4000-8000-000000000000"

        def get_remaining_time_in_millis(self):
            return 30000

    before = set(sys.modules)
    started = time.perf_counter()
    try:
        answer = app.lambda_handler(event, Context())
        result["answer"] = answer.get("statusCode") if isinstance(answer, dict) else None
    except Exception as exc:  # a task refusing its payload: the error the state machine would see
        result["answer"] = type(exc).__name__
    result["first_request_ms"] = (time.perf_counter() - started) * 1000
    result["first_request_modules"] = len(set(sys.modules) - before)
if len(sys.argv) > 3:  # the store's clients, as the first request that reads the store creates them
    started = time.perf_counter()
    exec(compile(sys.argv[3], "<clients>", "exec"), {})
    result["clients_ms"] = (time.perf_counter() - started) * 1000
print("BENCH " + json.dumps(result))
"""

# What the first request that reads the store creates before it sends anything: the SSM client of
# Powertools Parameters (the service role key) and the store's PostgREST client.
STORE_CLIENTS = """
from aws_lambda_powertools.utilities.parameters.ssm import SSMProvider
from orchestrator.store.supabase import SupabaseStore
SSMProvider()
SupabaseStore("https://bench.supabase.co", "bench-service-role-key").client()
"""


# --- the deployed environment --------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """Keeps CloudFormation's short-form tags (!Ref, !If, …) as {"Ref": …} / {"Fn::If": …} data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def _value(value: Any, parameters: dict[str, Any]) -> str | None:
    """An environment value as deployed with the parameters' defaults (None: the variable is absent)."""
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name == "AWS::NoValue":
            return None
        default = (parameters.get(name) or {}).get("Default")
        return "" if default is None else str(default)
    if isinstance(value, dict) and "Fn::If" in value:
        return _value(value["Fn::If"][2], parameters)  # the condition's "else": parameters at defaults
    if isinstance(value, dict):
        return "bench-resolved-at-deploy"  # an ARN or a name CloudFormation fills in
    return str(value)


def deployed_environments() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per function folder name, the environment template.yaml gives it; and the Globals' alone."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    parameters = template.get("Parameters") or {}
    globals_ = (template.get("Globals") or {}).get("Function") or {}

    def variables(properties: dict[str, Any]) -> dict[str, str]:
        found = ((properties.get("Environment") or {}).get("Variables")) or {}
        values = {k: _value(v, parameters) for k, v in found.items()}
        return {k: v for k, v in values.items() if v is not None}

    common = variables(globals_)
    common["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(globals_.get("MemorySize", 128))
    per_function: dict[str, dict[str, str]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        folder = Path(str(properties.get("CodeUri", ""))).name
        env = {**common, **variables(properties), "AWS_LAMBDA_FUNCTION_NAME": logical_id}
        if "MemorySize" in properties:
            env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(properties["MemorySize"])
        env["_bench_routes"] = json.dumps(
            [
                [str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"])]
                for e in (properties.get("Events") or {}).values()
                if e.get("Type") == "HttpApi"
            ]
        )
        per_function[folder] = env
    return per_function, common


def lambda_runtime_env(function_dir: Path, name: str) -> dict[str, str]:
    """What the Lambda runtime sets for a function with Tracing: Active (and nothing of this shell's)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(function_dir),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "_HANDLER": "app.lambda_handler",
        "_X_AMZN_TRACE_ID": TRACE_ID,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    }


# --- the libraries -------------------------------------------------------------------------------


def layer_site(python: str) -> Path:
    """The layer's libraries installed for `python` (as the Lambda runtime has them), built once."""
    requirements = (LAYER / "requirements.txt").read_text()
    constraints = (ROOT / "constraints.txt").read_text()
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    digest = hashlib.sha256((requirements + constraints).encode()).hexdigest()[:12]
    site = ROOT / "build" / "bench" / f"site-{version}-{digest}"
    if not (site / ".complete").exists():
        print(
            f"installing the layer's requirements for {version} into {site.relative_to(ROOT)} …", flush=True
        )
        subprocess.run(
            [
                python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--target", str(site), "-r", str(LAYER / "requirements.txt"),
                "-c", str(ROOT / "constraints.txt"), "boto3",
            ],
            check=True,
        )  # fmt: skip
        (site / ".complete").touch()
    return site


# --- a first request that needs no AWS -----------------------------------------------------------


def first_event(routes: list[list[str]], name: str) -> dict[str, Any] | None:
    """An API request the function refuses or answers without AWS (a body its model refuses, a path
    naming no workflow), or a task payload it refuses; None where every request reaches AWS."""
    if name == "sweep":
        return None  # a scheduled sweep reads the store at once
    if not routes:
        return {}  # a task or an EventBridge event: an empty payload is refused by its model
    method, path = routes[0]
    raw_path = path.replace("{id}", "not-a-workflow-id")
    body = None if method == "GET" else "{}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.example"},
        "requestContext": {
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "bench",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "authorizer": {"jwt": {"claims": {"sub": "bench-user"}, "scopes": None}},
        },
        "pathParameters": {"id": "not-a-workflow-id"} if "{id}" in path else None,
        "body": body,
        "isBase64Encoded": False,
    }


# --- running ------------------------------------------------------------------------------------


def run_once(
    python: str,
    site: Path | None,
    cwd: Path,
    env: dict[str, str],
    code: str,
    event: dict[str, Any] | None,
    clients: str | None,
    from_source: bool,
) -> dict[str, Any]:
    env = dict(env)
    paths = [str(cwd), str(LAYER)] + ([str(site)] if site else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    command = [python] + (["-S"] if site else []) + ["-c", PROBE, code, json.dumps(event)]
    command += [clients] if clients else []
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as empty:
        if from_source:  # an empty bytecode cache, never written: every module compiles from source
            env["PYTHONPYCACHEPREFIX"] = empty
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{cwd.name}: the probe failed\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    return result


def measure(runs: int, probes: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`runs` rounds, each running every probe once (in turn, so that the machine's load over time
    weighs on the naive import and on every function alike), after one warm-up round."""
    for kwargs in probes.values():
        run_once(**kwargs)  # warm: bytecode caches written, files in the page cache
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, kwargs in probes.items():
            results[name].append(run_once(**kwargs))
    return results


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per function (default 5)")
    parser.add_argument("--site", default="layer", help="layer (default), venv, or a folder of libraries")
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter to time (default: this one)"
    )
    parser.add_argument("--only", default="", help="comma-separated function folders (default: all)")
    parser.add_argument("--from-source", action="store_true", help="read no .pyc, as the layer ships none")
    parser.add_argument("--no-first-request", action="store_true", help="time the imports only")
    args = parser.parse_args(argv)

    site: Path | None
    if args.site == "layer":
        site = layer_site(args.python)
    elif args.site == "venv":
        site = None
    else:
        site = Path(args.site).resolve()
    environments, common = deployed_environments()
    names = sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))
    if args.only:
        names = [n for n in names if n in set(args.only.split(","))]

    load_before = os.getloadavg()
    common_kwargs = {"python": args.python, "site": site, "from_source": args.from_source}
    probes: dict[str, dict[str, Any]] = {
        NAIVE: {
            "cwd": ROOT,
            "env": {**lambda_runtime_env(ROOT, "naive"), **common},
            "code": NAIVE_IMPORT,
            "event": None,
            "clients": None,
            **common_kwargs,
        }
    }
    for name in names:
        function_dir = FUNCTIONS / name
        deployed = dict(environments.get(name) or {**common, "AWS_LAMBDA_FUNCTION_NAME": name})
        routes = json.loads(deployed.pop("_bench_routes", "[]"))
        probes[name] = {
            "cwd": function_dir,
            "env": {**lambda_runtime_env(function_dir, deployed["AWS_LAMBDA_FUNCTION_NAME"]), **deployed},
            "code": "import app",
            "event": None if args.no_first_request else first_event(routes, name),
            "clients": STORE_CLIENTS if (name == "get_workflow" and not args.no_first_request) else None,
            **common_kwargs,
        }
    measured = measure(args.runs, probes)
    naive = measured.pop(NAIVE)
    naive_ms = _median(naive, "import_ms") or 1.0
    rows = list(measured.items())
    clients_results = measured.get("get_workflow", [])
    load_after = os.getloadavg()

    interpreter = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    where = (
        "this venv" if site is None else str(site.relative_to(ROOT) if site.is_relative_to(ROOT) else site)
    )
    print(
        f"\ncold import, {args.runs} fresh interpreters each (Python {interpreter}, libraries: {where}, "
        f"bytecode: {'none, compiled from source' if args.from_source else 'warm .pyc'})"
    )
    print(
        f"naive import: median {naive_ms:.0f} ms, max {max(r['import_ms'] for r in naive):.0f} ms "
        f"(tracing {'on' if all(r['tracing'] for r in naive) else 'OFF'}); target <= {TARGET:.2f}x = "
        f"{TARGET * naive_ms:.0f} ms"
    )
    header = f"{'function':<14} {'median ms':>9} {'max ms':>7} {'ratio':>6}  {'<=0.25x':<7} {'tracing':<7}"
    print(header + f"  {'first request (no AWS)':<28}")
    print("-" * (len(header) + 30))
    within = 0
    for name, results in rows:
        median = _median(results, "import_ms") or 0.0
        ratio = median / naive_ms
        within += ratio <= TARGET
        first = _median(results, "first_request_ms")
        answer = results[0].get("answer")
        first_text = f"{first:.0f} ms ({answer})" if first is not None else "-"
        print(
            f"{name:<14} {median:9.0f} {max(r['import_ms'] for r in results):7.0f} {ratio:6.2f}  "
            f"{'yes' if ratio <= TARGET else 'NO':<7} {'on' if all(r['tracing'] for r in results) else 'OFF':<7}"
            f"  {first_text}"
        )
    print(f"{within} of {len(rows)} functions within {TARGET:.2f}x of the naive import")
    clients_ms = _median(clients_results, "clients_ms")
    if clients_ms is not None:
        # What a cold start that reads the store pays before its first request leaves: what is not
        # imported at cold start (botocore, when X-Ray no longer patches it there) is imported here.
        total = statistics.median(r["import_ms"] + r["clients_ms"] for r in clients_results)
        print(
            "first store access (Parameters' SSM client + the store's PostgREST client, nothing sent): "
            f"median {clients_ms:.0f} ms; get_workflow's import + first store access: median {total:.0f} ms"
        )
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after)
        + f"; {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
