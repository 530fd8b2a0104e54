"""The `Store` contract. Every implementation must pass these (the SQLite one here; the Supabase one
runs the same class against PostgREST's HTTP shape)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from orchestrator.models import (
    AgentMetadata,
    ErrorInfo,
    JobRecord,
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

WALLET = "A" * 58


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


class StoreContract:
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        raise NotImplementedError

    def test_agents_upsert_and_active_filter(self, store: Store) -> None:
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

    def test_create_and_read_workflow_with_steps(self, store: Store) -> None:
        workflow, steps = make_workflow(3)
        store.create_workflow(workflow, steps)
        loaded = store.get_workflow(workflow.id)
        assert loaded is not None and loaded.plan == workflow.plan
        assert [s.step_number for s in store.list_steps(workflow.id)] == [1, 2, 3]
        assert store.get_step(workflow.id, 2) == steps[1]
        assert store.get_step(workflow.id, 9) is None
        assert store.list_workflow_ids(status=WorkflowStatus.PLANNED) == [workflow.id]

    def test_workflow_update_is_conditional_on_status(self, store: Store) -> None:
        workflow, steps = make_workflow()
        store.create_workflow(workflow, steps)
        moved = store.update_workflow(
            workflow.id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
        )
        assert moved is not None and moved.status == WorkflowStatus.APPROVED
        again = store.update_workflow(
            workflow.id, expected={WorkflowStatus.PLANNED}, changes={"status": WorkflowStatus.APPROVED}
        )
        assert again is None
        assert store.update_workflow("nope", expected={WorkflowStatus.PLANNED}, changes={}) is None

    def test_step_update_is_conditional_and_typed(self, store: Store) -> None:
        workflow, steps = make_workflow()
        store.create_workflow(workflow, steps)
        updated = store.update_step(
            workflow.id,
            1,
            expected={StepStatus.PENDING},
            changes={"status": "awaiting_payment", "error": {"code": "X", "message": "y"}, "txn_ids": ["T1"]},
        )
        assert updated is not None
        assert updated.status == StepStatus.AWAITING_PAYMENT
        assert updated.error == ErrorInfo(code="X", message="y")
        assert store.update_step(workflow.id, 1, expected={StepStatus.PENDING}, changes={}) is None
        with pytest.raises(ValueError):
            store.update_step(workflow.id, 2, expected={StepStatus.PENDING}, changes={"no_such_field": 1})

    def test_only_one_of_concurrent_claims_wins(self, store: Store) -> None:
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

    def test_payments_are_unique_per_txid_and_atomic(self, store: Store) -> None:
        workflow, steps = make_workflow()
        store.create_workflow(workflow, steps)

        def payment(txid: str, step: int) -> PaymentRecord:
            return PaymentRecord(
                txid=txid,
                workflow_id=workflow.id,
                step_number=step,
                agent_id="a",
                job_id="j",
                amount_microalgo=5,
                receiver="R",
                confirmed_round=3,
            )

        assert store.record_payments([payment("T1", 1), payment("T2", 1)])
        # T3 is new but T2 is a replay: nothing of this batch is written.
        assert not store.record_payments([payment("T3", 2), payment("T2", 2)])
        assert store.payments_for_txids(["T3"]) == []
        assert [p.txid for p in store.payments_for_txids(["T2", "T9"])] == ["T2"]
        assert [p.txid for p in store.payments_for_step(workflow.id, 1)] == ["T1", "T2"]

    def test_jobs_and_access_tokens(self, store: Store) -> None:
        workflow, steps = make_workflow()
        store.create_workflow(workflow, steps)
        store.record_job(JobRecord(job_id="j1", workflow_id=workflow.id, step_number=1, agent_id="a"))
        assert store.get_access_token(workflow.id, 1, "j1") is None
        store.save_access_token(workflow.id, 1, "j1", "secret")
        assert store.get_access_token(workflow.id, 1, "j1") == "secret"
        assert store.get_access_token(workflow.id, 1, "other-job") is None


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = SQLiteStore(tmp_path / "db.sqlite3")
        yield store
        store.close()


def test_sqlite_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = SQLiteStore(path)
    workflow, steps = make_workflow()
    first.create_workflow(workflow, steps)
    first.close()
    second = SQLiteStore(path)
    assert second.get_workflow(workflow.id) is not None
    second.close()
