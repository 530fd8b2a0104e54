"""The real state machine definition under moto, the real handlers, the dev ledger and sample agents
on loopback: whole workflows, their failures, cancellation and resume."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from orchestrator.dependencies import get_dependencies
from orchestrator.models import AgentMetadata

from devstack.agents import AgentBehaviour
from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = [pytest.mark.integration]

SYMPTOMS = sample("symptom-checker").id
MOVIES = sample("movie-recommender").id
GARBAGE_AGENT = "0b9d2c4e-7a61-4f3e-9c85-6d1e2f3a4b5c"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack")) as harness:
        yield harness


def third_agent_id() -> str:
    from devstack.agents import SAMPLE_AGENTS

    return next(s.id for s in SAMPLE_AGENTS if s.id not in (SYMPTOMS, MOVIES))


def test_three_steps_pass_outputs_along_and_complete(harness: Harness, overrides: StackOverrides) -> None:
    overrides.use(
        planner=FixedPlanner(
            [
                (SYMPTOMS, {"symptoms": "headache, runny nose"}),
                (MOVIES, {"condition": "{{step_1_output}}"}),
                (third_agent_id(), "Recommendations: {{step_2_output}}"),
            ]
        )
    )
    workflow_id = harness.create_and_start()
    done = harness.run_paying(workflow_id)
    assert done["status"] == "completed", done
    steps = done["steps"]
    assert [s["status"] for s in steps] == ["succeeded"] * 3
    # Step 2 received step 1's whole output; step 3 its text embedded in a string.
    assert '"condition": {' in steps[1]["resolved_input"] or '"condition":{' in steps[1]["resolved_input"]
    assert steps[2]["resolved_input"].startswith("Recommendations: {")
    assert done["final_output"] == steps[2]["output"]
    for step in steps:
        receipt = step["receipt"]
        assert receipt["confirmed_round"] > 0
        assert receipt["amount_microalgo"] == step["price_microalgo"]
        assert receipt["txn_ids"] == step["txn_ids"]
        # The fee is what the chain charged the wallet for the group (a payment and an app call).
        on_chain = [harness.stack.ledger.transaction(txid) for txid in receipt["txn_ids"]]
        assert all(r is not None and r.txn.sender == harness.wallet.address for r in on_chain)
        assert len(on_chain) == 2
        assert receipt["fee_microalgo"] == sum(r.txn.fee for r in on_chain if r is not None) > 0
    assert done["total_paid_microalgo"] == sum(
        s["receipt"]["amount_microalgo"] + s["receipt"]["fee_microalgo"] for s in steps
    )
    assert done["total_paid_microalgo"] > done["total_cost_microalgo"]  # the fees are in it
    assert done["explorer_txn_url"] is None  # the local stack has no public explorer
    # Nothing secret is in the API's answer.
    text = str(done)
    assert "access_token" not in text and "task_token" not in text


def test_agent_failure_fails_the_workflow_and_resume_pays_again_only_that_step(
    harness: Harness, overrides: StackOverrides
) -> None:
    failing = harness.add_agent(
        "movie-recommender", "failing-movies", AgentBehaviour(fail_jobs=True, job_seconds=0.2)
    )
    overrides.use(planner=FixedPlanner([(SYMPTOMS, "headache"), (failing, "{{step_1_output}}")]))
    workflow_id = harness.create_and_start()
    done = harness.run_paying(workflow_id)
    assert done["status"] == "failed"
    assert done["steps"][0]["status"] == "succeeded"
    assert done["steps"][1]["status"] == "failed"
    assert done["steps"][1]["error"]["code"] == "AgentJobFailed"
    assert done["error"]["code"] == "AgentJobFailed"
    first_receipt = done["steps"][0]["receipt"]

    failed_receipt = done["steps"][1]["receipt"]
    assert failed_receipt is not None
    paid_before = harness.payments_on_chain()
    assert [amount for _, amount in paid_before[-2:]] == [
        sample("symptom-checker").price_microalgo,
        sample("movie-recommender").price_microalgo,
    ]  # this workflow's two payments, one per step

    # Step 2's paid job is over: resuming pays again, so it needs the person's consent.
    refused = harness.post("/api/workflows/start", {"workflowId": workflow_id})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "RepayConsentRequired"
    assert refused.json()["error"]["details"] == {"repay_steps": [2]}
    assert "paid again" in refused.json()["error"]["message"]
    assert harness.workflow(workflow_id)["status"] == "failed"  # nothing changed

    # With consent: step 1 is not run or paid again; step 2 starts a new job, the earlier receipt kept.
    resumed = harness.post("/api/workflows/start", {"workflowId": workflow_id, "repay_steps": [2]})
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["attempt"] == 2
    step2 = harness.wait_for_step(workflow_id, 2, "awaiting_payment")
    assert step2["txn_ids"] != done["steps"][1]["txn_ids"]
    assert step2["earlier_receipts"] == [failed_receipt]
    after = harness.workflow(workflow_id)
    assert after["steps"][0]["receipt"] == first_receipt
    assert after["steps"][0]["status"] == "succeeded"
    assert harness.payments_on_chain() == paid_before  # nothing paid until the person pays
    # The total paid keeps the earlier receipt (step 2 has no receipt of its own yet).
    assert after["steps"][1]["receipt"] is None
    assert after["total_paid_microalgo"] == sum(
        r["amount_microalgo"] + r["fee_microalgo"] for r in (first_receipt, failed_receipt)
    )
    assert failed_receipt["fee_microalgo"] > 0
    harness.post("/api/workflows/cancel", {"workflowId": workflow_id})


def test_each_look_at_a_running_job_is_one_state_transition(
    harness: Harness, overrides: StackOverrides
) -> None:
    """WatchJob's timeout re-enters WatchJob itself (its Catch), as AWS bills it: one transition a
    look; IsJobDone is entered once after the payment and once when the job ended."""
    polled = harness.add_agent(
        "text-summarizer", "7f3e2d1c-0b9a-4877-8665-544332211000", AgentBehaviour(job_seconds=3, push=False)
    )
    overrides.use(planner=FixedPlanner([(polled, "a text to summarise")]))
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    assert harness.wait_until_done(workflow_id)["status"] == "completed"
    workflow = get_dependencies().store.get_workflow(workflow_id)
    assert harness.stack.sfn is not None and workflow is not None and workflow.execution_arn
    events = harness.stack.sfn.client().get_execution_history(
        executionArn=workflow.execution_arn, maxResults=1000
    )["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    looks = entered.count("WatchJob")
    # A 3 s job looked at every second (this stack's POLL_MAX_SECONDS=1): about one look a second.
    assert 3 <= looks <= 6, entered
    assert entered.count("IsJobDone") == 2, entered
    assert entered == [
        "PrepareFirstStep",
        "StartJob",
        "IsJobDone",
        *["WatchJob"] * looks,
        "IsJobDone",
        "Advance",
        "HasMoreSteps",
        "WorkflowCompleted",
    ]


def test_free_agent_needs_no_payment(harness: Harness, overrides: StackOverrides) -> None:
    free = harness.add_agent(
        "movie-recommender", "free-movies", AgentBehaviour(free=True, job_seconds=0.2), price_microalgo=0
    )
    overrides.use(planner=FixedPlanner([(free, {"mood": "funny"})]))
    workflow_id = harness.create_and_start()
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"] is None
    assert done["final_output"]


def test_double_base64_agent_works(harness: Harness, overrides: StackOverrides) -> None:
    doubled = harness.add_agent(
        "movie-recommender", "doubled-movies", AgentBehaviour(double_base64=True, job_seconds=0.2)
    )
    overrides.use(planner=FixedPlanner([(doubled, {"mood": "adventure"})]))
    workflow_id = harness.create_and_start()
    done = harness.run_paying(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["receipt"]["amount_microalgo"] == done["steps"][0]["price_microalgo"]


def test_cancel_while_awaiting_payment_then_resume(harness: Harness, overrides: StackOverrides) -> None:
    overrides.use(planner=FixedPlanner([(SYMPTOMS, "headache"), (MOVIES, "{{step_1_output}}")]))
    workflow_id = harness.create_and_start()
    harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    cancelled = harness.post("/api/workflows/cancel", {"workflowId": workflow_id})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["steps"][0]["status"] == "cancelled"
    # The execution ends on its own (the token was failed with WorkflowCancelled).
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "cancelled"
    # Transactions the step never offered pay for nothing.
    late = harness.post(
        "/api/workflows/step/submit_payment",
        {"workflowId": workflow_id, "stepNumber": 1, "txnIds": ["A" * 52]},
    )
    assert late.status_code == 422, late.text
    assert late.json()["error"]["code"] == "PaymentMismatch"

    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.run_paying(workflow_id)
    assert done["status"] == "completed", done


def test_cancel_while_polling_then_resume_without_paying_twice(
    harness: Harness, overrides: StackOverrides
) -> None:
    slow = harness.add_agent("symptom-checker", "slow-symptoms", AgentBehaviour(job_seconds=3.0))
    overrides.use(planner=FixedPlanner([(slow, "headache and fever")]))
    workflow_id = harness.create_and_start()
    assert harness.pay_step(workflow_id, 1).status_code == 200
    harness.wait_for_step(workflow_id, 1, "running")
    paid = harness.workflow(workflow_id)["steps"][0]["receipt"]
    assert harness.post("/api/workflows/cancel", {"workflowId": workflow_id}).status_code == 200
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "cancelled"

    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.wait_until_done(workflow_id, timeout=30)
    assert done["status"] == "completed", done
    # The same payment carried the resumed step: no second group was offered.
    assert done["steps"][0]["receipt"] == paid
    assert len(get_dependencies().store.payments_for_step(workflow_id, 1)) == len(paid["txn_ids"])


def test_agent_that_is_down_fails_the_step_with_a_named_error(
    harness: Harness, overrides: StackOverrides
) -> None:
    ghost = harness.add_agent("movie-recommender", "ghost-movies", AgentBehaviour())
    harness.extra_agents[-1].stop()
    overrides.use(planner=FixedPlanner([(ghost, "anything")]))
    workflow_id = harness.create_and_start()
    done = harness.wait_until_done(workflow_id, timeout=40)
    assert done["status"] == "failed"
    assert done["steps"][0]["error"]["code"] == "AgentUnavailable"


def test_payment_the_lagging_indexer_hides_is_retried(harness: Harness, overrides: StackOverrides) -> None:
    # The stack's indexer lags 0.5 s behind algod: the agent answers 402 until it sees the payment,
    # and submit_payment keeps trying for SUBMIT_PAYMENT_RETRY_SECONDS.
    overrides.use(planner=FixedPlanner([(SYMPTOMS, "cough")]))
    workflow_id = harness.create_and_start()
    response = harness.pay_step(workflow_id, 1)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "running"
    assert harness.wait_until_done(workflow_id)["status"] == "completed"


def test_confirmed_payment_the_agent_refused_is_delivered_again_on_resume(
    harness: Harness, overrides: StackOverrides
) -> None:
    deps = get_dependencies()
    overrides.use(planner=FixedPlanner([(SYMPTOMS, "sneezing")]))
    with harness.stack.overrides(
        settings=deps.settings.model_copy(update={"submit_payment_retry_seconds": 0.0})
    ):
        workflow_id = harness.create_and_start()
        refused = harness.pay_step(workflow_id, 1)
    # Without retries the lagging indexer makes the agent refuse: the step fails, the payment stays.
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "PaymentRejectedByAgent"
    failed = harness.wait_until_done(workflow_id)
    assert failed["status"] == "failed"
    step = failed["steps"][0]
    assert step["error"]["code"] == "PaymentRejectedByAgent"
    assert step["receipt"]["txn_ids"] == step["txn_ids"]
    recorded = deps.store.payments_for_step(workflow_id, 1)
    assert sorted(p.txid for p in recorded) == sorted(step["txn_ids"])

    # Resume hands the recorded payment to the agent again: no new group, no second payment.
    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["steps"][0]["txn_ids"] == step["txn_ids"]
    assert len(deps.store.payments_for_step(workflow_id, 1)) == len(recorded)


def test_expired_payment_group_is_requoted_under_the_same_task_token(
    harness: Harness, overrides: StackOverrides
) -> None:
    # The agent offers groups valid for 12 rounds (3 s on the test ledger): the person is too slow.
    brief = harness.add_agent("symptom-checker", "brief-symptoms", AgentBehaviour(validity_rounds=12))
    overrides.use(planner=FixedPlanner([(brief, "headache")]))
    workflow_id = harness.create_and_start()
    offered = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    body = {"workflowId": workflow_id, "stepNumber": 1}

    # While the group is still valid a re-quote changes nothing.
    unchanged = harness.post("/api/workflows/step/start_job", body)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["txn_ids"] == offered["txn_ids"]

    deadline = time.monotonic() + 10
    while _round(harness) <= offered["last_valid_round"]:
        assert time.monotonic() < deadline, "the dev ledger stopped producing rounds"
        time.sleep(0.1)
    requoted = harness.post("/api/workflows/step/start_job", body)
    assert requoted.status_code == 200, requoted.text
    fresh = requoted.json()
    assert fresh["status"] == "awaiting_payment"
    assert fresh["txn_ids"] and fresh["txn_ids"] != offered["txn_ids"]
    assert fresh["job_id"] != offered["job_id"]
    assert fresh["last_valid_round"] > offered["last_valid_round"]

    # The expired group was never paid (it is remembered, and not on chain); the fresh group pays and
    # the same execution (attempt 1) completes.
    stale = harness.post("/api/workflows/step/submit_payment", {**body, "txnIds": offered["txn_ids"]})
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "PaymentNotConfirmed"
    assert harness.pay_step(workflow_id, 1).status_code == 200
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert done["attempt"] == 1
    assert done["steps"][0]["receipt"]["txn_ids"] == fresh["txn_ids"]


def _round(harness: Harness) -> int:
    status = harness.wallet.algod.status()
    assert isinstance(status, dict), status
    return int(status["last-round"])


def test_unsafe_payment_group_fails_the_step_and_the_workflow_stays_resumable(
    harness: Harness, overrides: StackOverrides
) -> None:
    # The catalog says the agent costs less than the group it sends asks for: overprice.
    pricey = harness.add_agent("recipe-suggester", "pricey-recipes", AgentBehaviour(job_seconds=0.2))
    store = get_dependencies().store
    registered = store.get_agent(pricey)
    assert registered is not None
    store.upsert_agents([registered.model_copy(update={"price_microalgo": 1000})])
    overrides.use(planner=FixedPlanner([(pricey, "soup for a cold")]))
    workflow_id = harness.create_and_start()
    failed = harness.wait_until_done(workflow_id)
    assert failed["status"] == "failed"
    step = failed["steps"][0]
    assert step["error"]["code"] == "UnsafePaymentGroup"
    assert "approved price is 1000" in step["error"]["message"]
    assert step["unsigned_group_txns"] == []  # nothing unsafe was offered for signing

    # A resume re-checks the fresh group against the price approved in the plan: still refused.
    assert harness.post("/api/workflows/start", {"workflowId": workflow_id}).status_code == 202
    again = harness.wait_for(workflow_id, lambda w: w["status"] == "failed" and w["attempt"] == 2)
    assert again["steps"][0]["error"]["code"] == "UnsafePaymentGroup"


def test_agent_answering_garbage_fails_the_step_with_a_named_error(
    harness: Harness, overrides: StackOverrides
) -> None:
    from werkzeug.wrappers import Request, Response

    from devstack.serving import ThreadedServer

    @Request.application
    def garbage(request: Request) -> Response:
        return Response("<html>502 Bad Gateway (not really)</html>", status=200, mimetype="text/html")

    server = ThreadedServer(garbage, "127.0.0.1", 0).start()
    try:
        spec = sample("sentiment-analyzer")
        get_dependencies().store.upsert_agents(
            [
                AgentMetadata(
                    id=GARBAGE_AGENT,
                    name="Garbage Agent",
                    status="active",
                    price_microalgo=spec.price_microalgo,
                    agent_address=spec.agent_address,
                    app_id=spec.app_id,
                    base_url=server.url,
                )
            ]
        )
        overrides.use(planner=FixedPlanner([(GARBAGE_AGENT, "how do you feel")]))
        workflow_id = harness.create_and_start()
        failed = harness.wait_until_done(workflow_id)
    finally:
        server.stop()
    assert failed["status"] == "failed"
    assert failed["steps"][0]["error"]["code"] == "AgentProtocolError"
    assert "not JSON" in failed["steps"][0]["error"]["message"]


def test_algod_outage_during_verification_keeps_the_step_waiting_and_the_payment_safe(
    harness: Harness,
    overrides: StackOverrides,
) -> None:
    from algosdk.v2client.algod import AlgodClient
    from orchestrator.payments.verification import AlgodChainVerifier

    overrides.use(planner=FixedPlanner([(SYMPTOMS, "sore throat")]))
    workflow_id = harness.create_and_start()
    step = harness.wait_for_step(workflow_id, 1, "awaiting_payment")
    sent = harness.wallet.pay(step["unsigned_group_txns"])
    body = {"workflowId": workflow_id, "stepNumber": 1, "txnIds": sent.txn_ids}

    deps = get_dependencies()
    with socket.socket() as probe:  # a port nothing listens on: algod is down
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with harness.stack.overrides(chain=AlgodChainVerifier(AlgodClient("", dead_url))):
        down = harness.post("/api/workflows/step/submit_payment", body)
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "ChainUnavailable"
    waiting = harness.workflow(workflow_id)["steps"][0]
    assert waiting["status"] == "awaiting_payment"
    assert deps.store.payments_for_step(workflow_id, 1) == []

    # algod is back: the same confirmed payment is accepted; nothing was paid twice.
    again = harness.post("/api/workflows/step/submit_payment", body)
    assert again.status_code == 200, again.text
    done = harness.wait_until_done(workflow_id)
    assert done["status"] == "completed", done
    assert sorted(p.txid for p in deps.store.payments_for_step(workflow_id, 1)) == sorted(sent.txn_ids)
