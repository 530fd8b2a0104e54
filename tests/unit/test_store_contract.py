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
from orchestrator.adapters import Dependencies
from orchestrator.config import ConfigError, Settings
from orchestrator.errors import StoreUnavailable
from orchestrator.models import (
    AgentMetadata,
    ErrorInfo,
    JobRecord,
    PaymentReceipt,
    PaymentRecord,
    StepResult,
    StepStatus,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowStep,
)
from orchestrator.store import Store
from orchestrator.store.sqlite import SQLiteStore
from orchestrator.store.supabase import SupabaseStore

from tests.postgrest_fake import FakePostgrest, _split_list

WALLET = "A" * 58
SUPABASE_URL = "https://fake-project.supabase.co"
SERVICE_KEY = "service-role-key-for-tests"


def make_workflow(steps: int = 2) -> tuple[WorkflowRecord, list[StepResult]]:
    plan = WorkflowPlan(
        reasoning="test",
        steps=[WorkflowStep(step_number=n, agent_id=f"agent-{n}") for n in range(1, steps + 1)],
    )
    workflow = WorkflowRecord(
        id=str(uuid.uuid4()), user_id="user-1", wallet_address=WALLET, user_message="hi", plan=plan
    )
    rows = [
        StepResult(id=str(uuid.uuid4()), workflow_id=workflow.id, step_number=n, agent_id=f"agent-{n}")
        for n in range(1, steps + 1)
    ]
    return workflow, rows


def payment(workflow_id: str, txid: str, step: int) -> PaymentRecord:
    return PaymentRecord(
        txid=txid,
        workflow_id=workflow_id,
        step_number=step,
        agent_id="a",
        job_id="j",
        amount_microalgo=5,
        receiver="R",
        confirmed_round=3,
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
        yield sqlite_store
        sqlite_store.close()
    else:
        fake = FakePostgrest(SUPABASE_URL, SERVICE_KEY)
        with respx.mock(assert_all_called=False) as router:
            fake.install(router)
            yield SupabaseStore(SUPABASE_URL, SERVICE_KEY, timeout_seconds=5)


# --- the contract ----------------------------------------------------------------------------------------


def test_agents_upsert_and_active_filter(store: Store) -> None:
    store.upsert_agents(
        [
            AgentMetadata(id="a", name="A", price_microalgo=1, is_active=True),
            AgentMetadata(id="b", name="B", price_microalgo=2, is_active=False),
        ]
    )
    assert [a.id for a in store.list_agents()] == ["a"]
    assert {a.id for a in store.list_agents(active_only=False)} == {"a", "b"}
    store.upsert_agents([AgentMetadata(id="b", name="B2", price_microalgo=3, is_active=True)])
    agent_b = store.get_agent("b")
    assert agent_b is not None and agent_b.name == "B2" and agent_b.price_microalgo == 3
    assert store.get_agent("missing") is None


def test_create_and_read_workflow_with_steps(store: Store) -> None:
    workflow, steps = make_workflow(3)
    store.create_workflow(workflow, steps)
    loaded = store.get_workflow(workflow.id)
    assert loaded == workflow
    assert [s.step_number for s in store.list_steps(workflow.id)] == [1, 2, 3]
    assert store.get_step(workflow.id, 2) == steps[1]
    assert store.get_step(workflow.id, 9) is None
    assert store.list_workflow_ids(status=WorkflowStatus.PLANNED) == [workflow.id]
    assert store.list_workflow_ids(status=WorkflowStatus.RUNNING) == []


def test_create_workflow_is_atomic(store: Store) -> None:
    workflow, steps = make_workflow(2)
    duplicate = steps[1].model_copy(update={"id": str(uuid.uuid4()), "step_number": 1})
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error; the point is what is left
        store.create_workflow(workflow, [steps[0], duplicate])
    assert store.get_workflow(workflow.id) is None
    assert store.list_steps(workflow.id) == []


def test_workflow_update_is_conditional_on_status(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    moved = store.update_workflow(
        workflow.id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
    )
    assert moved is not None and moved.status == WorkflowStatus.APPROVED
    assert moved.updated_at > workflow.updated_at
    again = store.update_workflow(
        workflow.id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
    )
    assert again is None
    assert store.update_workflow("nope", expected={WorkflowStatus.PLANNED}, changes={}) is None
    reread = store.get_workflow(workflow.id)
    assert reread is not None and reread.status == WorkflowStatus.APPROVED


def test_workflow_update_stores_typed_values(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    updated = store.update_workflow(
        workflow.id,
        expected={WorkflowStatus.PLANNED, WorkflowStatus.APPROVED},
        changes={
            "status": "failed",
            "error": ErrorInfo(code="AgentJobFailed", message="no"),
            "final_output": {"answer": [1, 2]},
            "attempt": 2,
        },
    )
    assert updated is not None
    reread = store.get_workflow(workflow.id)
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
        workflow.id,
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
    assert store.get_step(workflow.id, 1) == updated
    assert (
        updated.poll_deadline == deadline and updated.receipt == receipt and updated.task_token == "token-1"
    )
    assert store.update_step(workflow.id, 1, expected={StepStatus.PENDING}, changes={}) is None
    assert store.update_step(workflow.id, 7, expected={StepStatus.PENDING}, changes={}) is None
    with pytest.raises(ValueError):
        store.update_step(workflow.id, 2, expected={StepStatus.PENDING}, changes={"no_such_field": 1})
    with pytest.raises(ValueError):
        store.update_step(workflow.id, 2, expected={StepStatus.PENDING}, changes={"status": "bogus"})
    untouched = store.get_step(workflow.id, 2)
    assert untouched == steps[1]


def test_only_one_of_concurrent_claims_wins(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    winners: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        result = store.update_step(
            workflow.id,
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
    assert store.record_payments([payment(workflow.id, "T1", 1), payment(workflow.id, "T2", 1)])
    # T3 is new but T2 is a replay: nothing of this batch is written.
    assert not store.record_payments([payment(workflow.id, "T3", 2), payment(workflow.id, "T2", 2)])
    assert store.payments_for_txids(["T3"]) == []
    assert [p.txid for p in store.payments_for_txids(["T2", "T9"])] == ["T2"]
    assert [p.txid for p in store.payments_for_step(workflow.id, 1)] == ["T1", "T2"]
    assert store.payments_for_step(workflow.id, 2) == []
    assert store.payments_for_txids([]) == []
    assert store.record_payments([])


def test_payments_keep_the_recorded_order(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    assert store.record_payments([payment(workflow.id, "ZZZ", 1), payment(workflow.id, "AAA", 1)])
    recorded = store.payments_for_step(workflow.id, 1)
    assert [p.txid for p in recorded] == ["ZZZ", "AAA"]
    assert recorded[0] == payment(workflow.id, "ZZZ", 1).model_copy(
        update={"created_at": recorded[0].created_at}
    )


def test_jobs_and_access_tokens(store: Store) -> None:
    workflow, steps = make_workflow()
    store.create_workflow(workflow, steps)
    store.record_job(JobRecord(job_id="j1", workflow_id=workflow.id, step_number=1, agent_id="a"))
    store.record_job(
        JobRecord(job_id="j1", workflow_id=workflow.id, step_number=1, agent_id="a", status="again")
    )
    assert store.get_access_token(workflow.id, 1, "j1") is None
    store.save_access_token(workflow.id, 1, "j1", "secret")
    assert store.get_access_token(workflow.id, 1, "j1") == "secret"
    store.save_access_token(workflow.id, 1, "j1", "rotated")
    assert store.get_access_token(workflow.id, 1, "j1") == "rotated"
    assert store.get_access_token(workflow.id, 1, "other-job") is None


def test_sqlite_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = SQLiteStore(path)
    workflow, steps = make_workflow()
    first.create_workflow(workflow, steps)
    first.close()
    second = SQLiteStore(path)
    assert second.get_workflow(workflow.id) is not None
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


AGENT_COLUMNS = "id,name,description,capabilities,price_microalgo,address,app_id,base_url,subdomain,is_active"
WORKFLOW_COLUMNS = (
    "id,user_id,wallet_address,user_message,plan,status,current_step,total_cost_microalgo,"
    "budget_microalgo,attempt,execution_arn,final_output,error,created_at,updated_at"
)
STEP_COLUMNS = (
    "id,workflow_id,step_number,agent_id,status,input,job_id,unsigned_group_txns,txn_ids,price_microalgo,"
    "payment_required_microalgo,last_valid_round,receipt,output,error,task_token,poll_errors,"
    "poll_deadline,started_at,completed_at,updated_at"
)
PAYMENT_COLUMNS = (
    "txid,workflow_id,step_number,agent_id,job_id,amount_microalgo,receiver,confirmed_round,created_at"
)


def test_supabase_agent_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    agent = AgentMetadata(id="a", name="A", price_microalgo=1, app_id=5, capabilities=["x"])
    store.upsert_agents([agent])
    store.list_agents()
    store.list_agents(active_only=False)
    store.get_agent("a")
    store.upsert_agents([])  # nothing to send
    upsert, active, every, one = fake_postgrest.requests
    body = assert_request(
        upsert,
        "POST",
        "/rest/v1/agents",
        [("on_conflict", "id"), ("columns", ",".join(sorted(AGENT_COLUMNS.split(","))))],
        prefer="return=minimal,resolution=merge-duplicates",
    )
    assert body == [
        {
            "id": "a",
            "name": "A",
            "description": "",
            "capabilities": ["x"],
            "price_microalgo": 1,
            "address": "",
            "app_id": 5,
            "base_url": None,
            "subdomain": None,
            "is_active": True,
        }
    ]
    select = ("select", AGENT_COLUMNS)
    assert_request(active, "GET", "/rest/v1/agents", [select, ("is_active", "eq.true"), ("order", "id.asc")])
    assert_request(every, "GET", "/rest/v1/agents", [select, ("order", "id.asc")])
    assert_request(one, "GET", "/rest/v1/agents", [select, ("id", "eq.a"), ("limit", "1")])


def test_supabase_workflow_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    store.get_workflow(workflow.id)
    store.list_workflow_ids(status=WorkflowStatus.RUNNING)
    before = datetime.now(UTC)
    store.update_workflow(
        workflow.id,
        expected={WorkflowStatus.PLANNED, WorkflowStatus.FAILED},
        changes={"status": WorkflowStatus.RUNNING, "error": None, "attempt": 1},
    )
    create, get, listing, update = fake_postgrest.requests

    body = assert_request(create, "POST", "/rest/v1/rpc/orchestrator_create_workflow", [])
    assert set(body) == {"workflow", "steps"}
    assert body["workflow"]["id"] == workflow.id
    assert body["workflow"]["plan"] == {
        "reasoning": "test",
        "steps": [
            {"step_number": 1, "agent_id": "agent-1", "agent_name": "", "description": "", "input_data": {}}
        ],
    }
    assert body["workflow"]["status"] == "planned"
    assert datetime.fromisoformat(body["workflow"]["created_at"]) == workflow.created_at
    assert set(body["workflow"]) == set(WORKFLOW_COLUMNS.split(","))
    assert len(body["steps"]) == 1
    assert set(body["steps"][0]) == set(STEP_COLUMNS.split(","))
    assert body["steps"][0]["workflow_id"] == workflow.id
    assert body["steps"][0]["status"] == "pending"
    assert body["steps"][0]["txn_ids"] == []

    assert_request(
        get,
        "GET",
        "/rest/v1/workflows",
        [("select", WORKFLOW_COLUMNS), ("id", f"eq.{workflow.id}"), ("limit", "1")],
    )
    assert_request(
        listing,
        "GET",
        "/rest/v1/workflows",
        [("select", "id"), ("status", "eq.running"), ("order", "created_at.asc")],
    )
    body = assert_request(
        update,
        "PATCH",
        "/rest/v1/workflows",
        [("id", f"eq.{workflow.id}"), ("status", "in.(failed,planned)"), ("select", WORKFLOW_COLUMNS)],
        prefer="return=representation",
    )
    stamp = datetime.fromisoformat(body.pop("updated_at"))
    assert before <= stamp <= datetime.now(UTC)
    assert body == {"status": "running", "error": None, "attempt": 1}


def test_supabase_step_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    fake_postgrest.requests.clear()
    deadline = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(microseconds=5)
    store.list_steps(workflow.id)
    store.get_step(workflow.id, 1)
    store.update_step(
        workflow.id,
        1,
        expected={StepStatus.PENDING},
        changes={
            "status": "awaiting_payment",
            "error": ErrorInfo(code="X", message="y"),
            "poll_deadline": deadline,
            "txn_ids": ("T1", "T2"),
        },
    )
    listing, get, update = fake_postgrest.requests
    wid = ("workflow_id", f"eq.{workflow.id}")
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
    }


def test_supabase_job_payment_and_token_requests(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    workflow, steps = make_workflow(1)
    store.create_workflow(workflow, steps)
    fake_postgrest.requests.clear()
    job = JobRecord(job_id="j1", workflow_id=workflow.id, step_number=1, agent_id="a")
    store.record_job(job)
    store.record_payments([payment(workflow.id, "T1", 1), payment(workflow.id, "T2", 1)])
    store.payments_for_txids(["T1", "T2"])
    store.payments_for_step(workflow.id, 1)
    store.save_access_token(workflow.id, 1, "j1", "secret")
    store.get_access_token(workflow.id, 1, "j1")
    record_job, record_payments, by_txid, by_step, save_token, get_token = fake_postgrest.requests
    key = ("on_conflict", "workflow_id,step_number,job_id")
    wid, step = ("workflow_id", f"eq.{workflow.id}"), ("step_number", "eq.1")

    body = assert_request(
        record_job, "POST", "/rest/v1/jobs", [key], prefer="return=minimal,resolution=merge-duplicates"
    )
    assert body == {
        "job_id": "j1",
        "workflow_id": workflow.id,
        "step_number": 1,
        "agent_id": "a",
        "status": "started",
        "created_at": job.model_dump(mode="json")["created_at"],
    }
    body = assert_request(
        record_payments,
        "POST",
        "/rest/v1/payments",
        [("columns", ",".join(sorted(PAYMENT_COLUMNS.split(","))))],
        prefer="return=minimal",
    )
    assert [row["txid"] for row in body] == ["T1", "T2"]
    assert {k: v for k, v in body[0].items() if k != "created_at"} == {
        "txid": "T1",
        "workflow_id": workflow.id,
        "step_number": 1,
        "agent_id": "a",
        "job_id": "j",
        "amount_microalgo": 5,
        "receiver": "R",
        "confirmed_round": 3,
    }
    select = ("select", PAYMENT_COLUMNS)
    assert_request(
        by_txid, "GET", "/rest/v1/payments", [select, ("txid", "in.(T1,T2)"), ("order", "seq.asc")]
    )
    assert_request(by_step, "GET", "/rest/v1/payments", [select, wid, step, ("order", "seq.asc")])
    body = assert_request(
        save_token,
        "POST",
        "/rest/v1/access_tokens",
        [key],
        prefer="return=minimal,resolution=merge-duplicates",
    )
    assert body == {"workflow_id": workflow.id, "step_number": 1, "job_id": "j1", "token": "secret"}
    assert_request(
        get_token,
        "GET",
        "/rest/v1/access_tokens",
        [("select", "token"), wid, step, ("job_id", "eq.j1"), ("limit", "1")],
    )


def test_supabase_unknown_change_is_refused_before_any_request(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    with pytest.raises(ValueError, match="no_such_field"):
        store.update_workflow("w", expected={WorkflowStatus.PLANNED}, changes={"no_such_field": 1})
    with pytest.raises(ValueError):
        store.update_step("w", 1, expected={StepStatus.PENDING}, changes={"status": "bogus"})
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
            store.update_workflow(workflow.id, expected={WorkflowStatus.PLANNED}, changes={"attempt": 1})
        assert route.call_count == 1  # a write is never sent twice by the client
    assert raised.value.http_status == 503
    assert raised.value.message == (
        f"The database refused to update workflow {workflow.id}: Could not connect with the database "
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
            store.record_payments([payment(workflow.id, "T1", 1)])
    assert raised.value.message == (
        f"The database could not be reached to create workflow {workflow.id} (ConnectError: connection refused)."
    )


def test_supabase_other_errors_on_payments_are_not_taken_for_a_replay(fake_postgrest: FakePostgrest) -> None:
    store = supabase_store()
    # No such step: a foreign key violation (23503) is an error, not "already recorded".
    with pytest.raises(StoreUnavailable, match="code 23503"):
        store.record_payments([payment("no-such-workflow", "T1", 1)])
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
