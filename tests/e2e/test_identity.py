"""Identity through the HTTP API of a running local stack: every route but health/openapi wants a
token of the stack's issuer (API Gateway's JWT authorizer, emulated from template.yaml), the token's
`sub` owns what it creates, and nobody else can see or touch it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from orchestrator.dependencies import get_dependencies
from orchestrator.models import WorkflowStatus

from devstack.auth import ALGORITHM, DEV_USER_ID, ISSUER_PATH, LocalIssuer
from devstack.cli import main as orch
from devstack.template import load_template
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, running_harness, sample

pytestmark = pytest.mark.e2e

UNAUTHORIZED = {"message": "Unauthorized"}
OTHER_USER = "7f3e9a52-1111-4222-8333-444455556666"
UNKNOWN = "00000000-0000-0000-0000-000000000000"
GUARDED = [
    (route.method, route.path.replace("{id}", UNKNOWN))
    for route, _ in load_template().routes()
    if route.authorizer is not None
]
OPEN = [(route.method, route.path) for route, _ in load_template().routes() if route.authorizer is None]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    # A fixed API port: the last test restarts the stack, and the issuer URL contains the port.
    one_step = FixedPlanner([(sample("symptom-checker").id, "headache")])
    with (
        running_harness(tmp_path_factory.mktemp("stack"), api_port=free_port()) as harness,
        harness.stack.overrides(planner=one_step),
    ):
        yield harness


def call(harness: Harness, method: str, path: str, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = None if method == "GET" else {"workflowId": UNKNOWN, "stepNumber": 1, "txnIds": ["A" * 52]}
    return httpx.request(method, f"{harness.stack.api_url}{path}", json=body, headers=headers, timeout=30)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.text == '{"message":"Unauthorized"}'
    assert response.headers["content-type"] == "application/json"


def create_as(harness: Harness, token: str) -> httpx.Response:
    return httpx.post(
        f"{harness.stack.api_url}/api/workflows/create",
        json={"userMessage": "headache", "walletAddress": harness.wallet.address},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def owner_of(workflow_id: str) -> str:
    workflow = get_dependencies().store.get_workflow(workflow_id)
    assert workflow is not None
    return workflow.user_id


def test_every_guarded_route_refuses_a_request_without_a_token(harness: Harness) -> None:
    assert len(GUARDED) >= 8
    for method, path in GUARDED:
        assert_unauthorized(call(harness, method, path, None))


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Token abc.def.ghi"],
)
def test_malformed_authorization_headers_are_refused(harness: Harness, authorization: str) -> None:
    assert_unauthorized(call(harness, "POST", "/api/workflows/create", authorization))
    assert_unauthorized(call(harness, "GET", f"/api/workflows/{UNKNOWN}", authorization))


def test_forged_token_signed_by_another_key_is_refused(harness: Harness) -> None:
    issuer = harness.stack.issuer
    assert issuer is not None
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(issuer.claims(DEV_USER_ID), forger, algorithm="RS256", headers={"kid": issuer.kid})
    assert_unauthorized(create_as(harness, forged))


def test_expired_token_is_refused(harness: Harness) -> None:
    assert_unauthorized(create_as(harness, harness.mint_token(DEV_USER_ID, expires_in=-1)))


@pytest.mark.parametrize(
    "claims",
    [{"aud": "anon"}, {"aud": "service_role"}, {"iss": "https://someproject.supabase.co/auth/v1"}],
)
def test_token_for_another_audience_or_issuer_is_refused(harness: Harness, claims: dict[str, Any]) -> None:
    issuer = harness.stack.issuer
    assert issuer is not None
    assert_unauthorized(create_as(harness, issuer.mint_token(DEV_USER_ID, extra_claims=claims)))


def test_open_routes_answer_without_a_token(harness: Harness) -> None:
    assert ("GET", "/api/health") in OPEN
    for method, path in OPEN:
        if path == "/api/agent/access":
            # The gateway lets an agent's push through; the route itself asks for the agent's token.
            response = httpx.post(f"{harness.stack.api_url}{path}", json={"job_id": "J1"}, timeout=30)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "AgentUnauthorized"
            continue
        response = call(harness, method, path, None)
        assert response.status_code == 200, (path, response.text)
    assert call(harness, "GET", "/api/health", None).json() == {"status": "ok"}


def signed_without_a_user(issuer: LocalIssuer, sub: Any) -> str:
    """A token the stack's issuer signed (valid for the gateway) whose `sub` is `sub`, or that has
    no `sub` at all when `sub` is `NO_SUB`. Signed here: `mint_token` always names a user."""
    claims = issuer.claims(DEV_USER_ID)
    if sub is NO_SUB:
        del claims["sub"]
    else:
        claims["sub"] = sub
    return jwt.encode(claims, issuer.private_key, algorithm=ALGORITHM, headers={"kid": issuer.kid})


NO_SUB = object()
NO_USER_SUBS = [NO_SUB, "", "   ", 123, None, True, ["x"]]
NO_USER_IDS = ["no sub", "empty", "blank", "number", "null", "true", "list"]


@pytest.fixture(scope="module")
def targets(harness: Harness) -> dict[str, Any]:
    """The dev user's workflows in each state a route acts on: planned, approved, running (step 1
    awaiting payment, its group offered)."""
    planned = harness.create()["workflow_id"]
    approved = harness.create()["workflow_id"]
    assert harness.post("/api/workflows/approve", {"workflowId": approved}).status_code == 200
    running = harness.create_and_start()
    offered = harness.wait_for_step(running, 1, "awaiting_payment")["txn_ids"]
    return {"planned": planned, "approved": approved, "running": running, "offered": offered}


def requests_on_every_route(harness: Harness, targets: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """One request per guarded route that would change something if it were let through."""
    running, step = targets["running"], {"workflowId": targets["running"], "stepNumber": 1}
    requests: list[tuple[str, str, Any]] = [
        (
            "POST",
            "/api/workflows/create",
            {"userMessage": "headache", "walletAddress": harness.wallet.address},
        ),
        ("POST", "/api/workflows/approve", {"workflowId": targets["planned"]}),
        ("POST", "/api/workflows/start", {"workflowId": targets["approved"]}),
        ("GET", f"/api/workflows/{running}", None),
        ("GET", f"/api/workflows/{running}/funds", None),
        ("GET", "/api/workflows", None),
        ("GET", "/api/agents", None),
        ("POST", "/api/workflows/step/start_job", step),
        ("POST", "/api/workflows/step/submit_payment", {**step, "txnIds": targets["offered"]}),
        ("POST", "/api/workflows/step/poll", step),
        ("POST", "/api/workflows/cancel", {"workflowId": running}),
    ]
    guarded = {(method, _shape(path)) for method, path in GUARDED}
    assert {(method, _shape(path)) for method, path, _ in requests} == guarded
    return requests


def _shape(path: str) -> str:
    parts = path.split("/")
    return "/".join("{}" if len(part) == 36 and part.count("-") == 4 else part for part in parts)


def snapshot(targets: dict[str, Any]) -> dict[str, Any]:
    """What a request could change: how many workflows there are, and the targets and their steps."""
    store = get_dependencies().store
    counts = {status.value: len(store.list_workflow_ids(status=status)) for status in WorkflowStatus}
    workflows = {}
    for name in ("planned", "approved", "running"):
        workflow = store.get_workflow(targets[name])
        assert workflow is not None
        steps = [(s.status, s.txn_ids, s.job_id) for s in store.list_steps(workflow.workflow_id)]
        workflows[name] = (workflow.status, workflow.attempt, steps)
    return {"counts": counts, "workflows": workflows}


@pytest.mark.parametrize("sub", NO_USER_SUBS, ids=NO_USER_IDS)
def test_a_signed_token_that_names_no_user_is_a_401_on_every_route_and_changes_nothing(
    harness: Harness, targets: dict[str, Any], sub: Any
) -> None:
    issuer = harness.stack.issuer
    assert issuer is not None
    token = signed_without_a_user(issuer, sub)
    before = snapshot(targets)
    for method, path, body in requests_on_every_route(harness, targets):
        response = httpx.request(
            method,
            f"{harness.stack.api_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "Unauthorized", (method, path, response.text)
    assert snapshot(targets) == before


def test_the_same_requests_with_the_owners_token_go_through(
    harness: Harness, targets: dict[str, Any]
) -> None:
    """The requests above are ones that act: refused only for want of a user. (Last of the two: it
    changes the targets.)"""
    expected = {
        "/api/workflows/create": 201,
        "/api/workflows/start": 202,
        "/api/workflows/step/submit_payment": 409,  # offered but never paid: not confirmed on chain
    }
    for method, path, body in requests_on_every_route(harness, targets):
        response = harness.api.request(method, path, json=body)
        assert response.status_code == expected.get(path, 200), (method, path, response.text)


def test_the_token_subject_owns_the_workflow_it_creates(harness: Harness) -> None:
    mine = harness.create()
    assert owner_of(mine["workflow_id"]) == DEV_USER_ID
    assert owner_of(mine["workflow_id"]) != harness.wallet.address
    theirs = create_as(harness, harness.mint_token(OTHER_USER))
    assert theirs.status_code == 201, theirs.text
    assert owner_of(theirs.json()["workflow_id"]) == OTHER_USER
    # The owner reads it; a token without the Bearer prefix is accepted as API Gateway does.
    read = httpx.get(
        f"{harness.stack.api_url}/api/workflows/{theirs.json()['workflow_id']}",
        headers={"Authorization": harness.mint_token(OTHER_USER)},
        timeout=30,
    )
    assert read.status_code == 200 and read.json()["workflow_id"] == theirs.json()["workflow_id"]


def test_another_users_token_cannot_see_or_touch_a_workflow(harness: Harness) -> None:
    planned = harness.create()["workflow_id"]
    running = harness.create_and_start()
    offered = harness.wait_for_step(running, 1, "awaiting_payment")["txn_ids"]
    intruder = httpx.Client(
        base_url=harness.stack.api_url,
        headers={"Authorization": f"Bearer {harness.mint_token(OTHER_USER)}"},
        timeout=30,
    )
    with intruder:
        attempts = [
            intruder.get(f"/api/workflows/{planned}"),
            intruder.get(f"/api/workflows/{running}"),
            intruder.post("/api/workflows/approve", json={"workflowId": planned}),
            intruder.post("/api/workflows/start", json={"workflowId": planned}),
            intruder.post("/api/workflows/cancel", json={"workflowId": running}),
            intruder.post(
                "/api/workflows/step/submit_payment",
                json={"workflowId": running, "stepNumber": 1, "txnIds": offered},
            ),
            intruder.post("/api/workflows/step/poll", json={"workflowId": running, "stepNumber": 1}),
            intruder.post("/api/workflows/step/start_job", json={"workflowId": running, "stepNumber": 1}),
        ]
        # The funds of another's workflow: the very answer a read of it gets (nothing tells them apart).
        for workflow_id in (planned, running):
            read, funds = (
                intruder.get(f"/api/workflows/{workflow_id}"),
                intruder.get(f"/api/workflows/{workflow_id}/funds"),
            )
            assert (funds.status_code, funds.json()) == (read.status_code, read.json()), funds.text
            attempts.append(funds)
        # Their list holds none of the owner's workflows.
        listed = intruder.get("/api/workflows", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        assert not {w["workflow_id"] for w in listed.json()["workflows"]} & {planned, running}
    for response in attempts:
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "NotFound"
    # Nothing changed for the owner.
    assert harness.workflow(planned)["status"] == "planned"
    owners_view = harness.workflow(running)
    assert owners_view["status"] == "running"
    assert owners_view["steps"][0]["status"] == "awaiting_payment"
    assert harness.post("/api/workflows/cancel", {"workflowId": running}).status_code == 200


def test_the_local_issuer_publishes_its_keys_where_api_gateway_looks(harness: Harness) -> None:
    issuer = harness.stack.issuer
    assert issuer is not None
    api = harness.stack.api_url
    assert issuer.issuer == f"{api}{ISSUER_PATH}"
    discovery = httpx.get(f"{issuer.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == issuer.issuer
    served = httpx.get(discovery["jwks_uri"], timeout=10).json()
    assert served == httpx.get(f"{api}/.well-known/jwks.json", timeout=10).json() == issuer.jwks()
    # The token the harness sends verifies with the published key set alone.
    key = jwt.PyJWKSet.from_dict(served)[jwt.get_unverified_header(harness.token)["kid"]]
    claims = jwt.decode(
        harness.token, key, algorithms=["RS256"], audience="authenticated", issuer=issuer.issuer
    )
    assert claims["sub"] == DEV_USER_ID


def test_orch_token_prints_a_token_the_running_stack_accepts(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(["token", "--user", OTHER_USER, "--data-dir", str(harness.stack.config.data_dir)]) == 0
    token = capsys.readouterr().out.strip()
    created = create_as(harness, token)
    assert created.status_code == 201, created.text
    assert owner_of(created.json()["workflow_id"]) == OTHER_USER


def test_tokens_survive_a_restart_on_the_same_data_dir(harness: Harness) -> None:
    """Last in this file: it restarts the module's stack (same data dir, same API port)."""
    stack = harness.stack
    token = harness.mint_token(DEV_USER_ID)
    kid = harness.stack.issuer.kid if harness.stack.issuer else None
    stack.stop()
    stack.start()
    assert stack.issuer is not None and stack.issuer.kid == kid
    response = httpx.get(
        f"{stack.api_url}/api/workflows/{UNKNOWN}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 404, response.text  # past the authorizer: the handler's answer
    assert response.json()["error"]["code"] == "NotFound"
