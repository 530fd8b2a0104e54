"""Schemathesis against the local stack, from the document it serves (`/api/openapi.json`): every
operation, bodies that fit the document and bodies that do not, sent with the owner's token, with no
token and with tokens the gateway or the handlers refuse. No answer is a server error (5xx), and
every answer is one the document lists, with its content type and body schema.

Bounded and deterministic: a fixed seed, a fixed number of examples per operation and kind of
request, no shrinking (a failure is recorded with its request, the run goes on), one request at a
time. It prints the number of requests and failures."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.auth import ALGORITHM, DEV_USER_ID
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.e2e

SEED = 20251201
EXAMPLES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 50}  # per operation, with a valid token
EXAMPLES_REFUSED_TOKEN = 8  # per operation and refused token
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
RUN_SECONDS = 120  # a guard: the run stops sending past this (it takes about 30 s on 2 cores)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    one_step = FixedPlanner([(sample("symptom-checker").id, "headache")])
    with (
        running_harness(tmp_path_factory.mktemp("stack")) as harness,
        harness.stack.overrides(planner=one_step),
    ):
        yield harness


def targets(harness: Harness) -> list[str]:
    """Workflows of the owner for requests to act on (besides the random ids the document allows):
    planned, approved and running with step 1 awaiting payment."""
    planned = harness.create()["workflow_id"]
    approved = harness.create()["workflow_id"]
    assert harness.post("/api/workflows/approve", {"workflow_id": approved}).status_code == 200
    running = harness.create_and_start()
    harness.wait_for_step(running, 1, "awaiting_payment")
    return [planned, approved, running]


def refused_tokens(harness: Harness) -> dict[str, dict[str, str]]:
    """Authorization headers that must be answered 401: by the gateway, or by the handler (no sub)."""
    issuer = harness.stack.issuer
    assert issuer is not None
    claims = issuer.claims(DEV_USER_ID)
    del claims["sub"]
    no_sub = jwt.encode(claims, issuer.private_key, algorithm=ALGORITHM, headers={"kid": issuer.kid})
    return {
        "no token": {},
        "not a JWT": {"Authorization": "Bearer not-a-token"},
        "expired": {"Authorization": f"Bearer {harness.mint_token(DEV_USER_ID, expires_in=-60)}"},
        "no sub": {"Authorization": f"Bearer {no_sub}"},
    }


class Tally:
    """What the run sent and got: requests, statuses, server errors, failed checks (the first 20
    with the request to reproduce them)."""

    def __init__(self) -> None:
        self.requests = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.server_errors = 0
        self.failed = 0
        self.failures: list[str] = []

    def record(self, label: str, case: Any, response: Any, error: BaseException | None) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors += 1
        if error is not None:
            self.failed += 1
            if len(self.failures) < 20:
                self.failures.append(
                    f"{label}: {case.as_curl_command()}\n  -> {response.status_code} {error}"
                )


def run_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    label: str,
    tally: Tally,
    real: dict[str, list[str]],
    deadline: float,
) -> None:
    @seed(SEED)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(min_value=0, max_value=7))
    def one(case: Any, pick: int) -> None:
        if time.monotonic() > deadline:
            return
        use_real_values(case, pick, real)
        response = case.call(headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:  # failed checks: recorded, the run goes on
            tally.record(label, case, response, exc)
        else:
            tally.record(label, case, response, None)

    try:
        one()
    except Unsatisfiable:  # nothing in the operation can be made invalid (e.g. no parameters)
        assert mode == GenerationMode.NEGATIVE, label


def use_real_values(case: Any, pick: int, real: dict[str, list[str]]) -> None:
    """In some cases, put in values that exist (a workflow of the owner, the owner's wallet) so that
    requests get past "not found" into the use cases; the rest keep what was generated."""
    workflows = real["workflow_id"]
    if pick >= len(workflows):
        return
    if isinstance(case.body, dict):
        if "workflow_id" in case.body:
            case.body["workflow_id"] = workflows[pick]
        if "wallet_address" in case.body:
            case.body["wallet_address"] = real["wallet_address"][0]
    if case.path_parameters and "workflow_id" in case.path_parameters:
        case.path_parameters["workflow_id"] = workflows[pick]


def test_no_input_makes_a_server_error_and_every_answer_is_documented(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    deadline = started + RUN_SECONDS
    schema = schemathesis.openapi.from_url(f"{harness.stack.api_url}/api/openapi.json", timeout=30)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) == 13, [operation.label for operation in operations]  # all but openapi.json
    real = {"workflow_id": targets(harness), "wallet_address": [harness.wallet.address]}
    owner = {"Authorization": f"Bearer {harness.token}"}
    refused = refused_tokens(harness)
    tally = Tally()
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            label = f"{operation.label} [{mode.value}, owner's token]"
            run_operation(operation, mode, examples, owner, label, tally, real, deadline)
        if operation.path == "/api/health":
            continue  # open: any token or none is answered 200
        for name, headers in refused.items():
            label = f"{operation.label} [{name}]"
            run_operation(
                operation,
                GenerationMode.POSITIVE,
                EXAMPLES_REFUSED_TOKEN,
                headers,
                label,
                tally,
                real,
                deadline,
            )
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nschemathesis {schemathesis.__version__}: {tally.requests} requests over "
            f"{len(operations)} operations in {elapsed:.1f} s (seed {SEED}; checks "
            f"{', '.join(check.__name__ for check in CHECKS)}): {tally.server_errors} server errors, "
            f"{tally.failed} failed; statuses {dict(sorted(tally.statuses.items()))}"
        )
        for failure in tally.failures:
            print(failure)
    assert elapsed < RUN_SECONDS, "the run was cut short by its time guard"
    assert tally.server_errors == 0 and tally.failed == 0, "\n".join(tally.failures)
    assert tally.requests >= 500 and {200, 201, 202, 400, 401, 404, 409, 422} <= set(tally.statuses)
