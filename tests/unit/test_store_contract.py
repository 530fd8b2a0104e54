"""The `Store` contract. Every implementation must pass these: SQLiteStore on a file, and
SupabaseStore against a PostgREST emulator (tests/postgrest_fake.py) behind respx. The Supabase
store's exact HTTP requests, and its error mapping, are checked separately below."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from orchestrator.config import ConfigError, Settings
from orchestrator.dependencies import Dependencies
from orchestrator.errors import StoreUnavailable
from orchestrator.models import (
    AccessTokenRecord,
    ErrorInfo,
    JobRecord,
    JobState,
    PaymentReceipt,
    PaymentRecord,
    StepRecord,
    StepStatus,
    WorkflowHeader,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.store import Store
from orchestrator.store.sqlite import SQLiteStore
from orchestrator.store.supabase import SupabaseStore

from tests.builders import (
    access_token_record,
    agent_metadata,
    job_record,
    payment_record,
    planned_workflow,
)
from tests.postgrest_fake import FakePostgrest, _split_list

WALLET = "A" * 58
SUPABASE_URL = "https://fake-project.supabase.co"
SERVICE_KEY = "service-role-key-for-tests"
USER_ID = "7d6f3a52-1b8e-4c41-9b0e-3f5a2c7d9e10"
# Agents as the marketplace keeps them (uuid ids; subdomain, repo and GitHub URL are NOT NULL there).
AGENT_IDS = [str(uuid.UUID(int=n)) for n in range(1, 4)]


def seed_agents(store: Store) -> None:
    store.upsert_agents([agent_metadata(agent_id, f"Agent {n}") for n, agent_id in enumerate(AGENT_IDS, 1)])


# The shared builders (tests/builders.py), bound to this module's user, wallet and agents.


def make_workflow(steps: int = 2) -> tuple[WorkflowRecord, list[StepRecord]]:
    return planned_workflow(
        AGENT_IDS[:steps],
        user_id=USER_ID,
        wallet=WALLET,
        step_names=[f"Agent {n}" for n in range(1, steps + 1)],
    )


def make_job(workflow_id: str, step: int, agent_job_id: str, **values: Any) -> JobRecord:
    return job_record(
        workflow_id, step, agent_job_id, agent_id=AGENT_IDS[step - 1], requester_addr=WALLET, **values
    )


def payment(workflow_id: str, txid: str, step: int, job_id: str | None = None) -> PaymentRecord:
    return payment_record(workflow_id, txid, step, agent_id=AGENT_IDS[step - 1], job_id=job_id, payer=WALLET)


def access_token(workflow_id: str, step: int, agent_job_id: str, token: str) -> AccessTokenRecord:
    return access_token_record(
        workflow_id, step, agent_job_id, token, agent_id=AGENT_IDS[step - 1], user_id=USER_ID, wallet=WALLET
    )


@pytest.fixture
def fake_postgrest() -> Iterator[FakePostgrest]:
    fake = FakePostgrest(SUPABASE_URL, SERVICE_KEY)
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        yield fake


@pytest.fixture(params=["sqlite", "supabase"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "db.sqlite3")
        seed_agents(sqlite_store)
        yield sqlite_store
        sqlite_store.close()
    else:
        fake = FakePostgrest(SUPABASE_URL, SERVICE_KEY)
        with respx.mock(assert_all_called=False) as router:
            fake.install(router)
            supabase = SupabaseStore(SUPABASE_URL, SERVICE_KEY, timeout_seconds=5)
            seed_agents(supabase)
            yield supabase


# --- the contract ----------------------------------------------------------------------------------------


def test_agents_upsert_and_active_filter(store: Store) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    store.upsert_agents([agent_metadata(a, "A"), agent_metadata(b, "B", price_microalgo=2, status="pending")])
    assert a in [agent.id for agent in store.list_agents()]
    assert b not in [agent.id for agent in store.list_agents()]
    assert {a, b} <= {agent.id for agent in store.list_agents(active_only=False)}
    store.upsert_agents([agent_metadata(b, "B2", price_microalgo=3, tags=["x", "y"], category="Text")])
    agent_b = store.get_agent(b)
    assert agent_b is not None and agent_b.name == "B2" and agent_b.price_microalgo == 3
    assert agent_b.is_active and agent_b.capabilities == ["x", "y", "Text"]
    assert agent_b == agent_metadata(b, "B2", price_microalgo=3, tags=["x", "y"], category="Text")
    assert store.get_agent(str(uuid.uuid4())) is None


def test_create_and_read_workflow_with_steps(store: Store) -> None:
    workflow, steps = make_workflow(3)
    store.create_workflow(workflow, steps)
    loaded = store.get_workflow(workflow.workflow_id)
    assert loaded == workflow
    assert [s.step_number for s in store.list_steps(workflow.workflow_id)] == [1, 2, 3]
    assert store.get_step(workflow.workflow_id, 2) == steps[1]
    assert store.get_step(workflow.workflow_id, 9) is None
    assert store.list_workflow_ids(status=WorkflowStatus.PLANNED) == [workflow.workflow_id]
    assert steps[0].agent_name == "Agent 1" and loaded is not None
    assert store.list_workflow_ids(status=WorkflowStatus.RUNNING) == []


def test_create_workflow_is_atomic(store: Store) -> None:
    workflow, steps = make_workflow(2)
    duplicate = steps[1].model_copy(update={"id": str(uuid.uuid4()), "step_number": 1})
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error; the point is what is left
        store.create_workflow(workflow, [steps[0], duplicate])
    assert store.get_workflow(workflow.workflow_id) is None
    assert store.list_steps(workflow.workflow_id) == []


def test_workflow_update_is_conditional_on_status(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    moved = store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
    )
    assert moved is not None and moved.status == WorkflowStatus.APPROVED
    assert moved.updated_at > workflow.updated_at
    again = store.update_workflow(
        workflow.workflow_id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
    )
    assert again is None
    assert store.update_workflow(str(uuid.uuid4()), expected={WorkflowStatus.PLANNED}, changes={}) is None
    reread = store.get_workflow(workflow.workflow_id)
    assert reread is not None and reread.status == WorkflowStatus.APPROVED


def test_workflow_update_can_be_conditional_on_the_attempt(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    store.update_workflow(workflow.workflow_id, expected={WorkflowStatus.PLANNED}, changes={"attempt": 2})
    stale = store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.PLANNED},
        changes={"status": WorkflowStatus.FAILED},
        expected_attempt=1,
    )
    assert stale is None
    current = store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.PLANNED},
        changes={"status": WorkflowStatus.FAILED},
        expected_attempt=2,
    )
    assert current is not None and current.status == WorkflowStatus.FAILED


def test_workflow_update_stores_typed_values(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    updated = store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.PLANNED, WorkflowStatus.APPROVED},
        changes={
            "status": "failed",
            "error": ErrorInfo(code="AgentJobFailed", message="no"),
            "final_output": {"answer": [1, 2]},
            "attempt": 2,
        },
    )
    assert updated is not None
    reread = store.get_workflow(workflow.workflow_id)
    assert reread == updated
    assert reread.status == WorkflowStatus.FAILED
    assert reread.error == ErrorInfo(code="AgentJobFailed", message="no")
    assert reread.final_output == {"answer": [1, 2]}
    assert reread.attempt == 2


def test_step_update_is_conditional_and_typed(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    deadline = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    receipt = PaymentReceipt(txn_ids=["T1"], confirmed_round=9, amount_microalgo=7, receiver="R")
    updated = store.update_step(
        workflow.workflow_id,
        1,
        expected={StepStatus.PENDING},
        changes={
            "status": "awaiting_payment",
            "error": {"code": "X", "message": "y"},
            "txn_ids": ["T1"],
            "poll_deadline": deadline,
            "receipt": receipt,
            "task_token": "token-1",
        },
    )
    assert updated is not None
    assert updated.status == StepStatus.AWAITING_PAYMENT
    assert updated.error == ErrorInfo(code="X", message="y")
    assert store.get_step(workflow.workflow_id, 1) == updated
    assert (
        updated.poll_deadline == deadline and updated.receipt == receipt and updated.task_token == "token-1"
    )
    assert store.update_step(workflow.workflow_id, 1, expected={StepStatus.PENDING}, changes={}) is None
    assert store.update_step(workflow.workflow_id, 7, expected={StepStatus.PENDING}, changes={}) is None
    with pytest.raises(ValueError):
        store.update_step(
            workflow.workflow_id, 2, expected={StepStatus.PENDING}, changes={"no_such_field": 1}
        )
    with pytest.raises(ValueError):
        store.update_step(workflow.workflow_id, 2, expected={StepStatus.PENDING}, changes={"status": "bogus"})
    untouched = store.get_step(workflow.workflow_id, 2)
    assert untouched == steps[1]


def test_only_one_of_concurrent_claims_wins(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    winners: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        result = store.update_step(
            workflow.workflow_id,
            1,
            expected={StepStatus.PENDING},
            changes={"status": StepStatus.PAYMENT_SUBMITTED},
        )
        winners.append(result is not None)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert winners.count(True) == 1


def test_payments_are_unique_per_txid_and_atomic(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    assert store.record_payments(
        [payment(workflow.workflow_id, "T1", 1), payment(workflow.workflow_id, "T2", 1)]
    )
    # T3 is new but T2 is a replay: nothing of this batch is written.
    assert not store.record_payments(
        [payment(workflow.workflow_id, "T3", 2), payment(workflow.workflow_id, "T2", 2)]
    )
    assert store.payments_for_txids(["T3"]) == []
    assert [p.txid for p in store.payments_for_txids(["T2", "T9"])] == ["T2"]
    assert [p.txid for p in store.payments_for_step(workflow.workflow_id, 1)] == ["T1", "T2"]
    assert store.payments_for_step(workflow.workflow_id, 2) == []
    assert store.payments_for_txids([]) == []
    assert store.record_payments([])


def test_payments_keep_the_recorded_order(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    assert store.record_payments(
        [payment(workflow.workflow_id, "ZZZ", 1), payment(workflow.workflow_id, "AAA", 1)]
    )
    recorded = store.payments_for_step(workflow.workflow_id, 1)
    assert [p.txid for p in recorded] == ["ZZZ", "AAA"]
    assert recorded[0] == payment(workflow.workflow_id, "ZZZ", 1).model_copy(
        update={"confirmed_at": recorded[0].confirmed_at}
    )


def test_step_outputs_keep_their_kind(store: Store) -> None:
    workflow, steps = make_workflow(3)
    store.create_workflow(workflow, steps)
    for number, output in ((1, "plain text"), (2, {"answer": [1, "two"]}), (3, "42")):
        store.update_step(
            workflow.workflow_id, number, expected={StepStatus.PENDING}, changes={"output": output}
        )
    assert [s.output for s in store.list_steps(workflow.workflow_id)] == [
        "plain text",
        {"answer": [1, "two"]},
        "42",
    ]


def test_jobs_and_access_tokens(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    job = make_job(workflow.workflow_id, 1, "J1")
    store.record_job(job)
    store.record_job(job.model_copy(update={"amount_microalgo": 6}))  # a retried task writes it again
    # A step points at its job row (step_results.job_id -> jobs).
    pointed = store.update_step(
        workflow.workflow_id,
        1,
        expected={StepStatus.PENDING},
        changes={"job_id": job.job_id, "agent_job_id": "J1"},
    )
    assert pointed is not None and pointed.job_id == job.job_id and pointed.agent_job_id == "J1"
    second = make_job(workflow.workflow_id, 1, "J2", txn_ids=["T8", "T9"], unsigned_group_txns=["a", "b"])
    store.record_job(second)
    store.record_job(make_job(workflow.workflow_id, 2, "J3"))
    listed = store.list_jobs(workflow.workflow_id, 1)
    assert [j.agent_job_id for j in listed] == ["J1", "J2"]  # oldest first
    assert listed[1] == second and listed[0].amount_microalgo == 6
    assert store.list_jobs(workflow.workflow_id, 3) == []
    store.update_job(job.job_id, {"state": JobState.RUNNING, "txid": "T1"})
    store.update_job(str(uuid.uuid4()), {"state": JobState.FAILED})  # an unknown job: nothing
    with pytest.raises(ValueError):
        store.update_job(job.job_id, {"state": "bogus"})
    assert store.get_access_token(workflow.workflow_id, 1, "J1") is None
    store.save_access_token(access_token(workflow.workflow_id, 1, "J1", "secret"))
    assert store.get_access_token(workflow.workflow_id, 1, "J1") == "secret"
    store.save_access_token(access_token(workflow.workflow_id, 1, "J1", "rotated"))
    assert store.get_access_token(workflow.workflow_id, 1, "J1") == "rotated"
    assert store.get_access_token(workflow.workflow_id, 1, "other-job") is None
    assert store.get_access_token(workflow.workflow_id, 2, "J1") is None


def test_a_users_workflows_are_listed_newest_first_a_page_at_a_time(store: Store) -> None:
    base = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    made: list[WorkflowRecord] = []
    # Created at 0, 1, 2, 2, 3 seconds (two at the same moment: ordered by id), steps 1, 2, 1, 2, 1.
    for n, offset in enumerate([0, 1, 2, 2, 3]):
        workflow, steps = make_workflow(1 + n % 2)
        workflow = workflow.model_copy(update={"created_at": base + timedelta(seconds=offset)})
        store.create_workflow(workflow, steps)
        made.append(workflow)
    other, other_steps = make_workflow(1)
    store.create_workflow(other.model_copy(update={"user_id": str(uuid.uuid4())}), other_steps)
    newest_first = sorted(made, key=lambda w: (w.created_at, w.workflow_id), reverse=True)

    listed = store.list_user_workflows(USER_ID, limit=10)
    assert listed == [WorkflowHeader.of(w) for w in newest_first]
    assert [h.step_count for h in listed] == [len(w.plan.steps) for w in newest_first]
    pages, after = [], None
    while True:
        page = store.list_user_workflows(USER_ID, limit=2, after=after)
        if not page:
            break
        pages.append([h.workflow_id for h in page])
        after = (page[-1].created_at, page[-1].workflow_id)
    ids = [w.workflow_id for w in newest_first]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]  # the tie is split across pages, nothing repeated
    assert store.list_user_workflows(str(uuid.uuid4()), limit=10) == []
    # A status change moves nothing: the order is by creation.
    store.update_workflow(
        ids[-1], expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.CANCELLED}
    )
    assert [h.workflow_id for h in store.list_user_workflows(USER_ID, limit=10)] == ids
    assert store.list_user_workflows(USER_ID, limit=10)[-1].status == WorkflowStatus.CANCELLED


def test_sqlite_adds_the_creation_time_column_to_an_older_database(tmp_path: Path) -> None:
    import sqlite3

    from orchestrator.store.sqlite import SCHEMA_VERSION

    path = tmp_path / "db.sqlite3"
    workflow, _ = make_workflow(1)
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE workflows (workflow_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
        "status TEXT NOT NULL, data TEXT NOT NULL);"
        f"PRAGMA user_version = {SCHEMA_VERSION};"
    )
    conn.execute(
        "INSERT INTO workflows VALUES (?, ?, ?, ?)",
        (workflow.workflow_id, workflow.user_id, workflow.status.value, workflow.model_dump_json()),
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    assert store.get_workflow(workflow.workflow_id) == workflow  # kept, not set aside
    assert store.list_user_workflows(USER_ID, limit=5) == [WorkflowHeader.of(workflow)]
    store.close()


def test_sqlite_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = SQLiteStore(path)
    workflow, steps = make_workflow()
    first.create_workflow(workflow, steps)
    first.close()
    second = SQLiteStore(path)
    assert second.get_workflow(workflow.workflow_id) is not None
    second.close()


# --- SupabaseStore: the exact requests ----------------------------------------------------------------------


def supabase_store() -> SupabaseStore:
    return SupabaseStore(SUPABASE_URL, SERVICE_KEY, timeout_seconds=5)


def params_of(request: httpx.Request) -> list[tuple[str, str]]:
    """The query string, with the client's `columns` list (a set: its order varies) sorted."""
    items = []
    for key, value in request.url.params.multi_items():
        if key == "columns":
            value = ",".join(sorted(_split_list(value)))
        items.append((key, value))
    return items


def assert_request(
    request: httpx.Request,
    method: str,
    path: str,
    params: list[tuple[str, str]],
    *,
    prefer: str | None = None,
) -> Any:
    """Check one request and return its JSON body (None when it has none)."""
    assert request.method == method
    assert f"{request.url.scheme}://{request.url.host}" == SUPABASE_URL
    assert request.url.path == path
    assert params_of(request) == params
    assert request.headers["apikey"] == SERVICE_KEY
    assert request.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert request.headers["accept-profile"] == "public"
    assert request.headers.get("prefer") == prefer
    if request.content:
        assert request.headers["content-type"] == "application/json"
        return json.loads(request.content)
    return None


AGENT_COLUMNS = (
    "id,name,description,subdomain,status,runtime_status,agent_address,app_id,price_microalgo,category,"
    "tags,data_input,example_input,example_output,user_id,repo_owner,repo_name,github_url,base_url"
)
WORKFLOW_COLUMNS = (
    "workflow_id,user_id,wallet_address,user_message,plan,status,current_step,total_cost_microalgo,"
    "budget_microalgo,attempt,execution_arn,final_output,error,created_at,updated_at"
)
STEP_COLUMNS = (
    "id,workflow_id,step_number,agent_id,agent_name,status,input,job_id,agent_job_id,unsigned_group_txns,"
    "txn_ids,price_microalgo,payment_required_microalgo,last_valid_round,receipt,earlier_receipts,output,"
    "error,task_token,payment_redeliveries,poll_errors,poll_deadline,started_at,completed_at,created_at,"
    "updated_at,output_format"
)
PAYMENT_COLUMNS = (
    "payment_id,txid,workflow_id,step_number,agent_id,job_id,payer_addr,payee_addr,amount_microalgo,"
    "confirmed_round,confirmed_at"
)
JOB_COLUMNS = (
    "job_id,agent_id,requester_addr,callee_addr,job_input,job_input_hash,amount_microalgo,state,txid,"
    "group_id,workflow_id,step_number,agent_job_id,unsigned_group_txns,txn_ids,last_valid_round,created_at,"
    "updated_at"
)


def test_supabase_agent_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    agent_id = AGENT_IDS[0]
    agent = agent_metadata(agent_id, "A", app_id=5, tags=["x"], agent_address="R")
    store.upsert_agents([agent])
    store.list_agents()
    store.list_agents(active_only=False)
    store.get_agent(agent_id)
    store.upsert_agents([])  # nothing to send
    upsert, active, every, one = fake_postgrest.requests
    sent = (
        "id,name,subdomain,status,runtime_status,agent_address,app_id,price_microalgo,tags,repo_owner,"
        "repo_name,github_url"
    )
    body = assert_request(
        upsert,
        "POST",
        "/rest/v1/agents",
        [("on_conflict", "id"), ("columns", ",".join(sorted(sent.split(","))))],
        prefer="return=minimal,resolution=merge-duplicates",
    )
    # Only what the record has: an upsert never blanks the marketplace's columns it does not know.
    assert body == [
        {
            "id": agent_id,
            "name": "A",
            "subdomain": agent.subdomain,
            "status": "active",
            "runtime_status": "active",
            "agent_address": "R",
            "app_id": 5,
            "price_microalgo": 1,
            "tags": ["x"],
            "repo_owner": "0rca-network",
            "repo_name": agent.repo_name,
            "github_url": agent.github_url,
        }
    ]
    select = ("select", AGENT_COLUMNS)
    assert_request(active, "GET", "/rest/v1/agents", [select, ("status", "eq.active"), ("order", "id.asc")])
    assert_request(every, "GET", "/rest/v1/agents", [select, ("order", "id.asc")])
    assert_request(one, "GET", "/rest/v1/agents", [select, ("id", f"eq.{agent_id}"), ("limit", "1")])


def test_supabase_workflow_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    seed_agents(store)
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    store.get_workflow(workflow.workflow_id)
    store.list_workflow_ids(status=WorkflowStatus.RUNNING)
    before = datetime.now(UTC)
    store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.PLANNED, WorkflowStatus.FAILED},
        changes={"status": WorkflowStatus.RUNNING, "error": None, "attempt": 1},
    )
    store.update_workflow(
        workflow.workflow_id,
        expected={WorkflowStatus.RUNNING},
        changes={"status": WorkflowStatus.FAILED},
        expected_attempt=1,
    )
    _seed, create, get, listing, update, update_at_attempt = fake_postgrest.requests

    body = assert_request(create, "POST", "/rest/v1/rpc/orchestrator_create_workflow", [])
    assert set(body) == {"workflow", "steps"}
    assert body["workflow"]["workflow_id"] == workflow.workflow_id
    assert body["workflow"]["plan"] == {
        "reasoning": "test",
        "steps": [
            {
                "step_number": 1,
                "agent_id": AGENT_IDS[0],
                "agent_name": "",
                "description": "",
                "input_data": {},
            }
        ],
    }
    assert body["workflow"]["status"] == "planned"
    assert datetime.fromisoformat(body["workflow"]["created_at"]) == workflow.created_at
    assert set(body["workflow"]) == set(WORKFLOW_COLUMNS.split(","))
    assert len(body["steps"]) == 1
    assert set(body["steps"][0]) == set(STEP_COLUMNS.split(","))
    assert body["steps"][0]["workflow_id"] == workflow.workflow_id
    assert body["steps"][0]["status"] == "pending"
    assert body["steps"][0]["txn_ids"] == []
    assert body["steps"][0]["agent_name"] == "Agent 1"
    assert body["steps"][0]["output"] is None and body["steps"][0]["output_format"] is None

    assert_request(
        get,
        "GET",
        "/rest/v1/workflows",
        [("select", WORKFLOW_COLUMNS), ("workflow_id", f"eq.{workflow.workflow_id}"), ("limit", "1")],
    )
    assert_request(
        listing,
        "GET",
        "/rest/v1/workflows",
        [("select", "workflow_id"), ("status", "eq.running"), ("order", "created_at.asc")],
    )
    body = assert_request(
        update,
        "PATCH",
        "/rest/v1/workflows",
        [
            ("workflow_id", f"eq.{workflow.workflow_id}"),
            ("status", "in.(failed,planned)"),
            ("select", WORKFLOW_COLUMNS),
        ],
        prefer="return=representation",
    )
    stamp = datetime.fromisoformat(body.pop("updated_at"))
    assert before <= stamp <= datetime.now(UTC)
    assert body == {"status": "running", "error": None, "attempt": 1}
    body = assert_request(
        update_at_attempt,
        "PATCH",
        "/rest/v1/workflows",
        [
            ("workflow_id", f"eq.{workflow.workflow_id}"),
            ("status", "in.(running)"),
            ("attempt", "eq.1"),
            ("select", WORKFLOW_COLUMNS),
        ],
        prefer="return=representation",
    )
    assert body["status"] == "failed"


def test_supabase_user_workflow_list_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    seed_agents(store)
    workflow, steps = make_workflow(2)
    store.create_workflow(workflow, steps)
    first = store.list_user_workflows(USER_ID, limit=3)
    assert first == [WorkflowHeader.of(workflow)]
    after = (datetime(2026, 11, 30, 12, 0, 0, 5, tzinfo=UTC), workflow.workflow_id)
    assert store.list_user_workflows(USER_ID, limit=3, after=after) == []
    _seed, _create, listing, paged = fake_postgrest.requests
    columns = (
        "workflow_id,user_id,status,user_message,current_step,total_cost_microalgo,plan,created_at,updated_at"
    )
    head = [("select", columns), ("user_id", f"eq.{USER_ID}"), ("created_at", "not.is.null")]
    order = [("order", "created_at.desc,workflow_id.desc"), ("limit", "3")]
    assert_request(listing, "GET", "/rest/v1/workflows", [*head, *order])
    stamp = "2026-11-30T12:00:00.000005+00:00"
    keyset = f'(created_at.lt."{stamp}",and(created_at.eq."{stamp}",workflow_id.lt.{workflow.workflow_id}))'
    assert_request(paged, "GET", "/rest/v1/workflows", [*head, ("or", keyset), *order])


def test_supabase_step_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    seed_agents(store)
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    fake_postgrest.requests.clear()
    deadline = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(microseconds=5)
    store.list_steps(workflow.workflow_id)
    store.get_step(workflow.workflow_id, 1)
    store.update_step(
        workflow.workflow_id,
        1,
        expected={StepStatus.PENDING},
        changes={
            "status": "awaiting_payment",
            "error": ErrorInfo(code="X", message="y"),
            "poll_deadline": deadline,
            "txn_ids": ("T1", "T2"),
            "output": {"a": 1},
        },
    )
    store.update_step(
        workflow.workflow_id, 1, expected={StepStatus.AWAITING_PAYMENT}, changes={"output": "text"}
    )
    listing, get, update, text_update = fake_postgrest.requests
    wid = ("workflow_id", f"eq.{workflow.workflow_id}")
    assert_request(
        listing, "GET", "/rest/v1/step_results", [("select", STEP_COLUMNS), wid, ("order", "step_number.asc")]
    )
    assert_request(
        get,
        "GET",
        "/rest/v1/step_results",
        [("select", STEP_COLUMNS), wid, ("step_number", "eq.1"), ("limit", "1")],
    )
    body = assert_request(
        update,
        "PATCH",
        "/rest/v1/step_results",
        [wid, ("step_number", "eq.1"), ("status", "in.(pending)"), ("select", STEP_COLUMNS)],
        prefer="return=representation",
    )
    body.pop("updated_at")
    assert body == {
        "status": "awaiting_payment",
        "error": {"code": "X", "message": "y"},
        "poll_deadline": "2030-01-01T00:00:00.000005Z",
        "txn_ids": ["T1", "T2"],
        "output": '{"a": 1}',
        "output_format": "json",
    }
    body = json.loads(text_update.content)
    assert (body["output"], body["output_format"]) == ("text", "text")


def test_supabase_job_payment_and_token_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    seed_agents(store)
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    fake_postgrest.requests.clear()
    job = make_job(workflow.workflow_id, 1, "J1")
    store.record_job(job)
    store.update_job(job.job_id, {"state": JobState.RUNNING, "txid": "T2"})
    store.record_payments(
        [
            payment(workflow.workflow_id, "T1", 1, job.job_id),
            payment(workflow.workflow_id, "T2", 1, job.job_id),
        ]
    )
    store.payments_for_txids(["T1", "T2"])
    store.payments_for_step(workflow.workflow_id, 1)
    token = access_token(workflow.workflow_id, 1, "J1", "secret")
    store.save_access_token(token)
    store.get_access_token(workflow.workflow_id, 1, "J1")
    record_job, update_job, record_payments, by_txid, by_step, save_token, get_token = fake_postgrest.requests
    wid, step = ("workflow_id", f"eq.{workflow.workflow_id}"), ("step_number", "eq.1")

    body = assert_request(
        record_job,
        "POST",
        "/rest/v1/jobs",
        [("on_conflict", "job_id")],
        prefer="return=minimal,resolution=merge-duplicates",
    )
    assert set(body) == set(JOB_COLUMNS.split(","))
    assert {k: body[k] for k in ("job_id", "agent_job_id", "state", "job_input", "requester_addr")} == {
        "job_id": job.job_id,
        "agent_job_id": "J1",
        "state": "payment_pending",
        "job_input": "hello",
        "requester_addr": WALLET,
    }
    body = assert_request(
        update_job, "PATCH", "/rest/v1/jobs", [("job_id", f"eq.{job.job_id}")], prefer="return=minimal"
    )
    body.pop("updated_at")
    assert body == {"state": "running", "txid": "T2"}
    body = assert_request(
        record_payments,
        "POST",
        "/rest/v1/payments",
        [("columns", ",".join(sorted(PAYMENT_COLUMNS.split(","))))],
        prefer="return=minimal",
    )
    assert [row["txid"] for row in body] == ["T1", "T2"]
    assert {k: v for k, v in body[0].items() if k != "confirmed_at"} == {
        "payment_id": payment(workflow.workflow_id, "T1", 1).payment_id,
        "txid": "T1",
        "workflow_id": workflow.workflow_id,
        "step_number": 1,
        "agent_id": AGENT_IDS[0],
        "job_id": job.job_id,
        "payer_addr": WALLET,
        "payee_addr": "R",
        "amount_microalgo": 5,
        "confirmed_round": 3,
    }
    select = ("select", PAYMENT_COLUMNS)
    assert_request(
        by_txid,
        "GET",
        "/rest/v1/payments",
        [select, ("txid", "in.(T1,T2)"), ("workflow_id", "not.is.null"), ("order", "seq.asc")],
    )
    assert_request(by_step, "GET", "/rest/v1/payments", [select, wid, step, ("order", "seq.asc")])
    body = assert_request(
        save_token,
        "POST",
        "/rest/v1/access_tokens",
        [("on_conflict", "workflow_id,step_number,job_id")],
        prefer="return=minimal,resolution=merge-duplicates",
    )
    assert body == token.model_dump(mode="json")
    assert_request(
        get_token,
        "GET",
        "/rest/v1/access_tokens",
        [("select", "access_token"), wid, step, ("job_id", "eq.J1"), ("limit", "1")],
    )


def test_supabase_unknown_change_is_refused_before_any_request(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    with pytest.raises(ValueError, match="no_such_field"):
        store.update_workflow(
            str(uuid.uuid4()), expected={WorkflowStatus.PLANNED}, changes={"no_such_field": 1}
        )
    with pytest.raises(ValueError):
        store.update_step(str(uuid.uuid4()), 1, expected={StepStatus.PENDING}, changes={"status": "bogus"})
    assert fake_postgrest.requests == []


# --- SupabaseStore: failures -------------------------------------------------------------------------------


def test_supabase_503_on_a_write_raises_store_unavailable_without_retrying() -> None:
    store = supabase_store()
    workflow, _ = make_workflow(1)
    error = {
        "code": "PGRST000",
        "message": "Could not connect with the database",
        "details": None,
        "hint": None,
    }
    with respx.mock() as router:
        route = router.route(url__startswith=SUPABASE_URL).respond(503, json=error)
        with pytest.raises(StoreUnavailable) as raised:
            store.update_workflow(
                workflow.workflow_id, expected={WorkflowStatus.PLANNED}, changes={"attempt": 1}
            )
        assert route.call_count == 1  # a write is never sent twice by the client
    assert raised.value.http_status == 503
    assert raised.value.message == (
        f"The database refused to update workflow {workflow.workflow_id}: Could not connect with the database "
        "(code PGRST000)."
    )


def test_supabase_503_on_a_read_is_retried_then_raises_store_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import postgrest._sync.request_builder as request_builder

    delays: list[float] = []
    monkeypatch.setattr(request_builder.time, "sleep", delays.append)
    store = supabase_store()
    with respx.mock() as router:
        route = router.route(url__startswith=SUPABASE_URL).respond(503, text="upstream unavailable")
        with pytest.raises(StoreUnavailable, match="The database refused to read workflow w1"):
            store.get_workflow("w1")
        # postgrest retries idempotent reads on 503 three times with backoff.
        assert route.call_count == 4
    assert delays == [1, 2, 4]


def test_supabase_connection_error_raises_store_unavailable() -> None:
    store = supabase_store()
    workflow, steps = make_workflow(1)
    with respx.mock() as router:
        router.route(url__startswith=SUPABASE_URL).mock(side_effect=httpx.ConnectError("connection refused"))
        with pytest.raises(StoreUnavailable) as raised:
            store.create_workflow(workflow, steps)
        with pytest.raises(StoreUnavailable, match="could not be reached to record the payments"):
            store.record_payments([payment(workflow.workflow_id, "T1", 1)])
    assert raised.value.message == (
        f"The database could not be reached to create workflow {workflow.workflow_id} (ConnectError: connection refused)."
    )


def test_supabase_other_errors_on_payments_are_not_taken_for_a_replay(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    # No such step: a foreign key violation (23503) is an error, not "already recorded".
    with pytest.raises(StoreUnavailable, match="code 23503"):
        store.record_payments([payment(str(uuid.uuid4()), "T1", 1)])
    assert fake_postgrest.table_rows("payments") == []


def test_supabase_wrong_key_is_reported(fake_postgrest: FakePostgrest) -> None:
    store = SupabaseStore(SUPABASE_URL, "not-the-key", timeout_seconds=5)
    with pytest.raises(StoreUnavailable, match="code PGRST301"):
        store.list_agents()


# --- SupabaseStore: construction and wiring ------------------------------------------------------------------


def test_supabase_client_is_created_lazily_once(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    assert store._client is None and fake_postgrest.requests == []
    store.list_agents()
    client = store._client
    assert client is not None
    store.list_agents()
    assert store.client() is client
    assert SERVICE_KEY not in repr(store)


def test_supabase_store_requires_url_and_key() -> None:
    with pytest.raises(ConfigError):
        SupabaseStore("", SERVICE_KEY)
    with pytest.raises(ConfigError):
        SupabaseStore(SUPABASE_URL, "")
    with pytest.raises(ConfigError, match="http"):
        SupabaseStore("fake-project.supabase.co", SERVICE_KEY)


def test_dependencies_choose_the_supabase_store() -> None:
    settings = Settings(
        store_backend="supabase", supabase_url=SUPABASE_URL, supabase_service_role_key=SERVICE_KEY
    )
    store = Dependencies(settings).store
    assert isinstance(store, SupabaseStore)
    assert store.url == SUPABASE_URL
    assert store.timeout_seconds == settings.supabase_timeout_seconds
    with pytest.raises(ConfigError) as no_key:
        _ = Dependencies(Settings(store_backend="supabase", supabase_url=SUPABASE_URL)).store
    assert str(no_key.value) == "STORE_BACKEND=supabase needs SUPABASE_SERVICE_ROLE_KEY."
    with pytest.raises(ConfigError) as no_url:
        _ = Dependencies(Settings(store_backend="supabase", supabase_service_role_key=SERVICE_KEY)).store
    assert str(no_url.value) == "STORE_BACKEND=supabase needs SUPABASE_URL."
