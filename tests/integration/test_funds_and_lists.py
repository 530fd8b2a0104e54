"""GET /api/workflows/{id}/funds, GET /api/agents and GET /api/workflows through the local stack's HTTP
gateway (routed from template.yaml, the real handlers, SQLite, the dev ledger's algod): a funded
wallet can pay, an unfunded one is told how much it lacks and what to do, paid steps leave what is
still to pay, an unreachable algod still answers; the catalog without secrets; a person's workflows
paged newest first."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from algosdk import account
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata
from orchestrator.payments.decoding import decode_transaction
from orchestrator.payments.verification import AlgodChainVerifier

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = [pytest.mark.integration]

SYMPTOMS = sample("symptom-checker")
MOVIES = sample("movie-recommender")
PRICES = SYMPTOMS.price_microalgo + MOVIES.price_microalgo
MIN_BALANCE = 100_000  # what the dev ledger's algod reports for every account (as algod does for ALGO only)
CARD_FIELDS = {"id", "name", "description", "price_microalgo", "tags", "data_input", "example_input"}


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack")) as harness:
        yield harness


@pytest.fixture(autouse=True)
def two_step_plans(harness: Harness, overrides: StackOverrides) -> None:
    overrides.use(planner=FixedPlanner([(SYMPTOMS.id, "headache"), (MOVIES.id, "{{step_1_output}}")]))


def client_for(harness: Harness, user_id: str) -> httpx.Client:
    token = harness.mint_token(user_id)
    return httpx.Client(
        base_url=harness.stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def create(api: httpx.Client, wallet: str, message: str = "headache, then a film") -> str:
    response = api.post("/api/workflows/create", json={"userMessage": message, "walletAddress": wallet})
    assert response.status_code == 201, response.text
    return str(response.json()["workflow_id"])


def algod_account(harness: Harness, address: str) -> dict[str, Any]:
    response = httpx.get(f"{harness.stack.algod_url}/v2/accounts/{address}", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def funds(harness: Harness, workflow_id: str) -> dict[str, Any]:
    response = harness.api.get(f"/api/workflows/{workflow_id}/funds")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- funds -------------------------------------------------------------------------------------------


def test_a_funded_wallet_can_pay_the_plan_with_its_fees(harness: Harness) -> None:
    workflow_id = create(harness.api, harness.wallet.address)
    answer = funds(harness, workflow_id)
    held = algod_account(harness, harness.wallet.address)
    min_fee = httpx.get(f"{harness.stack.algod_url}/v2/transactions/params", timeout=10).json()["min-fee"]
    assert answer["wallet_address"] == harness.wallet.address
    assert answer["network"] == "localnet"
    assert answer["balance_microalgo"] == held["amount"]
    assert answer["min_balance_microalgo"] == held["min-balance"] == MIN_BALANCE
    assert answer["spendable_microalgo"] == held["amount"] - MIN_BALANCE
    assert answer["agents_microalgo"] == PRICES == harness.workflow(workflow_id)["total_cost_microalgo"]
    assert answer["fees_microalgo"] == 2 * 2 * min_fee  # two steps, each a payment and an app call
    assert answer["total_microalgo"] == answer["still_to_pay_microalgo"] == PRICES + 4 * min_fee
    assert (answer["can_pay"], answer["shortfall_microalgo"]) == (True, 0)
    message = answer["message"]
    assert "minimum balance" in message and "you can pay it" in message, message
    assert "0.804 ALGO with network fees" in message, message  # 0.5 + 0.3 ALGO and 4 fees of 0.001


def test_an_unfunded_wallet_is_told_what_it_lacks_and_what_to_do(harness: Harness) -> None:
    fresh = account.generate_account()[1]
    workflow_id = create(harness.api, fresh)
    answer = funds(harness, workflow_id)
    assert answer["balance_microalgo"] == 0 == algod_account(harness, fresh)["amount"]
    assert answer["min_balance_microalgo"] == MIN_BALANCE
    assert answer["spendable_microalgo"] == 0
    assert answer["can_pay"] is False
    # It must receive the plan's total and the minimum balance that has to stay in it.
    assert answer["shortfall_microalgo"] == answer["still_to_pay_microalgo"] + MIN_BALANCE
    message = answer["message"]
    assert "minimum balance" in message and "you need 0.904 ALGO more" in message, message
    assert "dev accounts" in message and "check again" in message, message


def test_paid_steps_leave_what_is_still_to_pay(harness: Harness) -> None:
    workflow_id = harness.create_and_start()
    offered = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    waiting = funds(harness, workflow_id)
    # Step 1's fees are those of the group its agent offers; step 2 has none yet (the minimum fee).
    offered_fees = sum(int(decode_transaction(blob).fee) for blob in offered["unsigned_group_txns"])
    assert len(offered["unsigned_group_txns"]) == 2 and offered_fees > 0
    assert waiting["fees_microalgo"] == offered_fees + 2 * 1000
    assert waiting["still_to_pay_microalgo"] == waiting["total_microalgo"]
    before = waiting["balance_microalgo"]

    assert harness.pay_step(workflow_id, 1).status_code == 200
    step = harness.wait_for_step(workflow_id, 2, "awaiting_payment")
    receipt = harness.workflow(workflow_id)["steps"][0]["receipt"]
    after = funds(harness, workflow_id)
    assert receipt["fee_microalgo"] > 0
    assert after["balance_microalgo"] == before - receipt["amount_microalgo"] - receipt["fee_microalgo"]
    assert after["still_to_pay_microalgo"] == after["total_microalgo"] - (
        SYMPTOMS.price_microalgo + receipt["fee_microalgo"]
    )
    assert after["still_to_pay_microalgo"] == MOVIES.price_microalgo + 2000  # step 2's offered group
    assert step["status"] == "awaiting_payment"
    assert "The steps not paid yet cost 0.302 ALGO" in after["message"], after["message"]
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200


def test_an_unreachable_algod_still_answers_with_the_cost(harness: Harness) -> None:
    from algosdk.v2client.algod import AlgodClient

    workflow_id = create(harness.api, harness.wallet.address)
    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with harness.stack.overrides(chain=AlgodChainVerifier(AlgodClient("", f"http://127.0.0.1:{port}"))):
        answer = funds(harness, workflow_id)
    for field in ("balance_microalgo", "min_balance_microalgo", "spendable_microalgo", "can_pay"):
        assert answer[field] is None, answer
    assert answer["shortfall_microalgo"] is None
    assert answer["total_microalgo"] == PRICES + 4000  # the minimum fee when algod cannot say
    assert "could not be read right now" in answer["message"], answer["message"]
    assert "minimum balance" in answer["message"]


def test_another_users_workflow_funds_are_the_answer_a_read_of_it_gets(harness: Harness) -> None:
    workflow_id = create(harness.api, harness.wallet.address)
    with client_for(harness, str(uuid.uuid4())) as intruder:
        read = intruder.get(f"/api/workflows/{workflow_id}")
        answer = intruder.get(f"/api/workflows/{workflow_id}/funds")
        unknown = intruder.get(f"/api/workflows/{uuid.uuid4()}/funds")
    assert read.status_code == answer.status_code == unknown.status_code == 404
    assert answer.json() == read.json()
    assert answer.json()["error"]["code"] == unknown.json()["error"]["code"] == "NotFound"
    assert harness.api.get("/api/workflows/not-a-uuid/funds").status_code == 404


# --- the catalog -----------------------------------------------------------------------------------------


def test_the_agents_are_the_active_ones_by_name_without_secrets(harness: Harness) -> None:
    store = get_dependencies().store
    hidden = AgentMetadata.model_validate(
        {**SYMPTOMS.catalog_record(), "id": str(uuid.uuid4()), "name": "AAA inactive", "status": "inactive"}
    )
    store.upsert_agents([hidden])
    response = harness.api.get("/api/agents")
    assert response.status_code == 200, response.text
    cards = response.json()["agents"]
    assert all(set(card) == CARD_FIELDS for card in cards), cards
    names = [card["name"] for card in cards]
    assert names == sorted(names, key=str.casefold)
    active = {a.id for a in store.list_agents(active_only=True)}
    assert {card["id"] for card in cards} == active
    assert hidden.id not in {card["id"] for card in cards}
    symptoms = next(card for card in cards if card["id"] == SYMPTOMS.id)
    assert symptoms["price_microalgo"] == SYMPTOMS.price_microalgo
    assert symptoms["data_input"] and symptoms["example_input"]
    # The agents' secrets (agents.agent_token) are kept, and never shown.
    tokens = [store.get_agent_token(card["id"]) for card in cards]
    assert tokens and all(tokens), "the stack gives its sample agents tokens"
    assert not any(token in response.text for token in tokens if token)
    assert "agent_token" not in response.text and "agent_address" not in response.text


# --- the caller's workflows ---------------------------------------------------------------------------


def test_paging_through_25_workflows_newest_first(harness: Harness) -> None:
    with client_for(harness, str(uuid.uuid4())) as api:
        created = [create(api, harness.wallet.address, f"request {n}") for n in range(25)]
        pages: list[list[dict[str, Any]]] = []
        cursor: str | None = None
        newest = ""
        while True:
            params: dict[str, Any] = {"limit": 10, **({"cursor": cursor} if cursor else {})}
            response = api.get("/api/workflows", params=params)
            assert response.status_code == 200, response.text
            pages.append(response.json()["workflows"])
            cursor = response.json()["next_cursor"]
            if len(pages) == 1:  # a workflow made while paging comes first, not in a later page
                newest = create(api, harness.wallet.address, "made while paging")
            if cursor is None:
                break
            assert len(pages) < 5, "the cursor does not move on"
        first = api.get("/api/workflows").json()
    assert [len(page) for page in pages] == [10, 10, 5]
    listed = [w["workflow_id"] for page in pages for w in page]
    assert listed == list(reversed(created))
    summary = pages[0][0]
    assert set(summary) == {
        "workflow_id",
        "status",
        "user_message",
        "created_at",
        "updated_at",
        "total_cost_microalgo",
        "current_step",
        "step_count",
    }
    assert (summary["user_message"], summary["status"], summary["step_count"]) == ("request 24", "planned", 2)
    assert summary["total_cost_microalgo"] == PRICES
    # Default page size 20; the newest first.
    assert len(first["workflows"]) == 20 and first["workflows"][0]["workflow_id"] == newest
    assert first["next_cursor"] is not None


def test_the_list_holds_only_the_callers_workflows(harness: Harness) -> None:
    mine = create(harness.api, harness.wallet.address)
    with client_for(harness, str(uuid.uuid4())) as stranger:
        assert stranger.get("/api/workflows").json() == {"workflows": [], "next_cursor": None}
    assert (
        harness.api.get("/api/workflows", params={"limit": 1}).json()["workflows"][0]["workflow_id"] == mine
    )


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "many"},
        {"cursor": "not-a-cursor"},
        {"cursor": ""},
        {"cursor": base64.urlsafe_b64encode(b'{"created_at": "yesterday"}').decode()},
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps({"created_at": "2026-01-01T00:00:00", "workflow_id": str(uuid.uuid4())}).encode()
            ).decode()
        },
        {"cursor": "x" * 300},
    ],
)
def test_a_bad_limit_or_cursor_is_a_400_naming_it(harness: Harness, params: dict[str, str]) -> None:
    response = harness.api.get("/api/workflows", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and error["message"]
    (name,) = params
    assert [d["field"].removeprefix("query.") for d in error["details"]] == [name], error
