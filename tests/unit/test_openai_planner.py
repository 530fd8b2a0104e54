"""OpenAIPlanner against a scripted stand-in for the chat completions endpoint.

The installed openai SDK sends through `httpx2`, so the hosted service is replaced by an
`httpx2.MockTransport` handed to the planner as its http client (respx only patches `httpx`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from orchestrator.config import Settings
from orchestrator.errors import NoAgentFits, PlanInvalid, PlannerTimeout, PlannerUnavailable
from orchestrator.models import AgentMetadata, PlannedStep, WorkflowPlan
from orchestrator.planner import plan_workflow, planner_from_settings, planning_clock
from orchestrator.planner.offline import OfflinePlanner
from orchestrator.planner.openai_planner import (
    MISCONFIGURED,
    NO_BUDGET,
    NOT_A_PLAN,
    PLAN_SCHEMA,
    SYSTEM_PROMPT,
    UNAVAILABLE,
    OpenAIPlanner,
)

API_KEY = "sk-test-123"
BASE_URL = "http://llm.test/v1"
USER_MESSAGE = "I have a headache and want a movie"
CATALOG = [
    AgentMetadata(
        id="agent-diag",
        name="Medical Diagnosis Agent",
        description="Matches symptoms to conditions.",
        subdomain="symptom-checker",
        status="active",
        agent_address="AGENTADDRESS",
        app_id=1001,
        category="Health",
        tags=["symptoms", "diagnosis"],
        price_microalgo=500_000,
        data_input="The symptoms, as JSON",
        example_input='{"symptoms": "headache, runny nose"}',
        example_output='{"condition": "common cold"}',
        repo_owner="0rca-network",
        repo_name="symptom-checker",
        github_url="https://github.com/0rca-network/symptom-checker",
        base_url="http://127.0.0.1:5001",
    ),
    AgentMetadata(
        id="agent-movies",
        name="Movie Recommendation Agent",
        description="Recommends films.",
        status="active",
        category="Entertainment",
        tags=["movie"],
        price_microalgo=300_000,
        example_input="something funny",
    ),
    AgentMetadata(
        id="agent-retired",
        name="Retired Agent",
        status="inactive",
        price_microalgo=1,
        data_input="RETIRED-INPUT",
    ),
]
# What the model is shown of the catalog: the active agents, the marketplace's columns the planner reads.
LISTING = [
    {
        "id": "agent-diag",
        "name": "Medical Diagnosis Agent",
        "description": "Matches symptoms to conditions.",
        "category": "Health",
        "tags": ["symptoms", "diagnosis"],
        "price_microalgo": 500_000,
        "data_input": "The symptoms, as JSON",
        "example_input": '{"symptoms": "headache, runny nose"}',
        "example_output": '{"condition": "common cold"}',
    },
    {
        "id": "agent-movies",
        "name": "Movie Recommendation Agent",
        "description": "Recommends films.",
        "category": "Entertainment",
        "tags": ["movie"],
        "price_microalgo": 300_000,
        "data_input": None,
        "example_input": "something funny",
        "example_output": None,
    },
]
PLAN_JSON: dict[str, Any] = {
    "reasoning": "Diagnose first, then pick films for the condition.",
    "steps": [
        {
            "step_number": 1,
            "agent_id": "agent-diag",
            "description": "Find the likely condition",
            "input_data": "{{user_message}}",
        },
        {
            "step_number": 2,
            "agent_id": "agent-movies",
            "description": "Films for the condition",
            "input_data": '{"condition": "{{step_1_output.condition}}", "count": 3}',
        },
    ],
}


def completion(content: str | None, refusal: str | None = None) -> dict[str, Any]:
    """A chat.completion body as OpenAI returns it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        "system_fingerprint": "fp_test",
    }


class FakeOpenAI:
    """Answers each request with the next scripted response (the last repeats) and records requests."""

    def __init__(self, *responses: httpx2.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

    def body(self, index: int = 0) -> dict[str, Any]:
        body = json.loads(self.requests[index].content)
        assert isinstance(body, dict)
        return body


def ok(content: str | None, refusal: str | None = None) -> httpx2.Response:
    return httpx2.Response(200, json=completion(content, refusal))


def error(status: int, message: str) -> httpx2.Response:
    # retry-after-ms keeps the SDK's own retries fast (it honours the header as OpenAI sends it).
    return httpx2.Response(
        status,
        json={"error": {"message": message, "type": "server_error", "code": None}},
        headers={"retry-after-ms": "1"},
    )


PlannerFactory = Callable[..., OpenAIPlanner]


@pytest.fixture
def make_planner() -> PlannerFactory:
    def build(fake: FakeOpenAI, **options: Any) -> OpenAIPlanner:
        return OpenAIPlanner(
            api_key=API_KEY,
            base_url=BASE_URL,
            model="gpt-test",
            max_steps=4,
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake)),
            **options,
        )

    return build


def test_plan_sends_one_structured_output_request(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG)
    [request] = fake.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = fake.body()
    assert body["model"] == "gpt-test"
    assert body["temperature"] == 0
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "workflow_plan", "strict": True, "schema": PLAN_SCHEMA},
    }
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == USER_MESSAGE


def test_system_message_lists_the_active_catalog_and_the_step_limit(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG)
    system = fake.body()["messages"][0]["content"]
    assert system == SYSTEM_PROMPT.format(
        max_steps=4, budget=NO_BUDGET, catalog=json.dumps(LISTING, ensure_ascii=False)
    )
    assert "agent-retired" not in system and "RETIRED-INPUT" not in system  # inactive agents are not offered
    assert "at most 4 steps" in system
    assert "{{step_N_output}}" in system
    listing = json.loads(system.split("Catalog (JSON):\n", 1)[1])
    assert listing == LISTING
    # Nothing the planner has no use for (where the agent is reached or paid, its repository) is sent.
    for unsent in ("AGENTADDRESS", "127.0.0.1", "github", "symptom-checker", "1001"):
        assert unsent not in system


def test_system_message_says_to_shape_each_input_as_the_agents_example(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG)
    rules = fake.body()["messages"][0]["content"].split("Catalog (JSON):", 1)[0]
    for field in ('"data_input"', '"example_input"', '"example_output"'):
        assert field in rules
    assert (
        '"input_data" is the job input the agent receives: write it the way the agent\'s "data_input"\n'
        '  describes and its "example_input" shows. When "example_input" is a JSON object, write a JSON\n'
        "  object (as text) with the same keys and this request's values; when it is plain text (or absent),\n"
        "  write plain text."
    ) in rules
    step_input = PLAN_SCHEMA["$defs"]["PlannedStepAnswer"]["properties"]["input_data"]
    assert step_input["type"] == "string" and "example_input" in step_input["description"]


def test_plan_schema_keeps_to_what_strict_structured_outputs_accept() -> None:
    # Every object closed and every property required; the step input a string (no free-form object).
    objects = [PLAN_SCHEMA, *PLAN_SCHEMA["$defs"].values()]
    for schema in objects:
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert schema["required"] == list(schema["properties"])
    assert PLAN_SCHEMA["$defs"]["PlannedStepAnswer"]["properties"]["input_data"]["type"] == "string"


def test_feedback_is_sent_as_a_further_user_message(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG, feedback=["Step 1: bad agent.", "Too expensive."])
    messages = fake.body()["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "user"]
    assert messages[2]["content"] == (
        "Your previous plan was rejected for these reasons:\n- Step 1: bad agent.\n- Too expensive."
        "\nReturn a corrected plan."
    )


def test_valid_completion_becomes_a_plan_with_json_inputs_as_dicts(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    result = make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert result == WorkflowPlan(
        reasoning="Diagnose first, then pick films for the condition.",
        steps=[
            PlannedStep(
                step_number=1,
                agent_id="agent-diag",
                description="Find the likely condition",
                input_data="{{user_message}}",
            ),
            PlannedStep(
                step_number=2,
                agent_id="agent-movies",
                description="Films for the condition",
                input_data={"condition": "{{step_1_output.condition}}", "count": 3},
            ),
        ],
    )


@pytest.mark.parametrize(
    "input_text",
    ["{not json", '["a list"]', "  plain text  ", "{{step_1_output}}"],
)
def test_input_that_is_not_a_json_object_stays_text(make_planner: PlannerFactory, input_text: str) -> None:
    answer = {
        "reasoning": "",
        "steps": [{"step_number": 1, "agent_id": "agent-diag", "description": "", "input_data": input_text}],
    }
    result = make_planner(FakeOpenAI(ok(json.dumps(answer)))).plan(USER_MESSAGE, CATALOG)
    assert result.steps[0].input_data == input_text


def test_feedback_retry_goes_through_plan_workflow(make_planner: PlannerFactory) -> None:
    bad = {**PLAN_JSON, "steps": [{**PLAN_JSON["steps"][0], "agent_id": "agent-retired"}]}
    fake = FakeOpenAI(ok(json.dumps(bad)), ok(json.dumps(PLAN_JSON)))
    result, cost = plan_workflow(make_planner(fake), USER_MESSAGE, CATALOG)
    assert cost == 800_000
    assert [s.agent_name for s in result.steps] == ["Medical Diagnosis Agent", "Movie Recommendation Agent"]
    assert len(fake.requests) == 2
    retry_messages = fake.body(1)["messages"]
    assert len(retry_messages) == 3
    assert "Step 1: agent 'Retired Agent' is not active." in retry_messages[2]["content"]


def test_refusal_is_plan_invalid(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(None, refusal="I can't help with that."))
    with pytest.raises(PlanInvalid) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.message == (
        "The planner would not plan this request. Nothing was saved; put it in other words."
    )
    # The model's own words go back to it (a second try) and to the logs, not to the person.
    assert caught.value.details == {
        "reasons": ["The planning model refused the request: I can't help with that."]
    }


@pytest.mark.parametrize(
    "content",
    [
        "Sure! Here is your plan: step 1 ...",
        "",
        json.dumps({"reasoning": "no steps key"}),
        json.dumps({"steps": [{"agent_id": "agent-diag"}]}),
        json.dumps({"steps": "not a list of steps"}),
        json.dumps({"steps": [{"step_number": 0, "agent_id": "agent-diag", "input_data": ""}]}),
    ],
)
def test_answer_that_is_not_a_plan_is_plan_invalid(make_planner: PlannerFactory, content: str) -> None:
    fake = FakeOpenAI(ok(content))
    with pytest.raises(PlanInvalid) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.message == NOT_A_PLAN
    [reason] = caught.value.details["reasons"]
    assert reason.startswith("The planning model's answer is not a plan:")


def test_an_answer_that_is_not_a_plan_twice_reaches_the_person_as_a_sentence(
    make_planner: PlannerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10: pydantic's "Invalid JSON: expected value at line 1 column 1" reached the page.
    fake = FakeOpenAI(ok("Sure! Here is your plan"))
    with caplog.at_level(logging.WARNING), pytest.raises(PlanInvalid) as caught:
        plan_workflow(make_planner(fake), USER_MESSAGE, CATALOG)
    assert (caught.value.code, caught.value.message, caught.value.details) == (
        "PlanInvalid",
        NOT_A_PLAN,
        None,
    )
    assert len(fake.requests) == 2
    feedback = fake.body(1)["messages"][2]["content"]
    assert feedback.startswith(
        "Your previous plan was rejected for these reasons:\n- The planning model's answer is not a plan: Invalid JSON"
    )
    [logged] = [r for r in caplog.records if r.getMessage() == "planning failed: the planner gave no plan"]
    assert logged.reasons[0].startswith("The planning model's answer is not a plan: Invalid JSON")  # type: ignore[attr-defined]


def test_an_agent_not_in_the_catalog_twice_reaches_the_person_as_a_sentence(
    make_planner: PlannerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = {**PLAN_JSON, "steps": [{**PLAN_JSON["steps"][0], "agent_id": "agent-x"}]}
    fake = FakeOpenAI(ok(json.dumps(ghost)))
    with caplog.at_level(logging.WARNING), pytest.raises(PlanInvalid) as caught:
        plan_workflow(make_planner(fake), USER_MESSAGE, CATALOG)
    assert caught.value.message == (
        "The planner's answer could not be used as a plan. Nothing was saved; try again, or put the "
        "request in other words."
    )
    assert caught.value.details is None
    assert "agent-x" not in caught.value.message
    assert fake.body(1)["messages"][2]["content"] == (
        "Your previous plan was rejected for these reasons:\n- Step 1: agent 'agent-x' is not in the catalog."
        "\nReturn a corrected plan."
    )
    [logged] = [r for r in caplog.records if r.getMessage() == "planning failed: the plan was rejected twice"]
    assert logged.reasons == ["Step 1: agent 'agent-x' is not in the catalog."]  # type: ignore[attr-defined]


def test_an_answer_with_no_steps_is_no_fit_with_the_closest_agents(make_planner: PlannerFactory) -> None:
    answer = {"reasoning": "No agent books flights.", "steps": []}
    fake = FakeOpenAI(ok(json.dumps(answer)))
    with pytest.raises(NoAgentFits) as caught:
        plan_workflow(make_planner(fake), "Book a flight and watch a movie on it", CATALOG)
    assert len(fake.requests) == 1  # no second try: the catalog would not change
    assert caught.value.code == "PlanInvalid"
    assert [a["id"] for a in caught.value.details["closest_agents"]] == ["agent-movies", "agent-diag"]
    assert caught.value.message.startswith(
        "No agent in the catalog can do this. The closest are Movie Recommendation Agent and Medical "
        "Diagnosis Agent"
    )


def test_the_budget_is_in_the_system_message(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    plan_workflow(make_planner(fake), USER_MESSAGE, CATALOG, budget_microalgo=1_500_000)
    assert len(fake.requests) == 1
    system = fake.body()["messages"][0]["content"]
    budget = (
        "The person's budget is 1500000 microalgo (1.5 ALGO) for the whole plan: its cost must not "
        "exceed it. When everything asked cannot fit, plan what matters most within it and say in "
        '"reasoning" what was left out.'
    )
    assert system == SYSTEM_PROMPT.format(
        max_steps=4, budget=budget, catalog=json.dumps(LISTING, ensure_ascii=False)
    )
    assert (
        "- The plan's cost is the sum of its agents' \"price_microalgo\" (1 ALGO = 1000000 microalgo). "
        + budget
    ) in system
    assert fake.body()["messages"][1] == {"role": "user", "content": USER_MESSAGE}


def test_without_a_budget_the_system_message_says_none_was_given(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert "The person gave no budget." in fake.body()["messages"][0]["content"]
    assert "The person's budget is" not in fake.body()["messages"][0]["content"]


def test_system_message_says_to_keep_the_whole_part_of_the_request(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(ok(json.dumps(PLAN_JSON)))
    make_planner(fake).plan(USER_MESSAGE, CATALOG)
    rules = fake.body()["messages"][0]["content"].split("Catalog (JSON):", 1)[0]
    assert (
        "- Give each step the WHOLE part of the request meant for it, in the person's own words: the full\n"
        '  text to summarise or analyse (never only the instruction, such as "Summarize this review"), every\n'
        "  symptom and how the person feels (their mood), every ingredient and preference. Do not shorten,\n"
        "  paraphrase or leave out any of it."
    ) in rules
    assert 'answer with no steps and say in "reasoning" what\n  is missing.' in rules


def test_server_error_is_retried_by_the_sdk_then_planner_unavailable(
    make_planner: PlannerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOpenAI(error(500, "The server had an error"))
    with caplog.at_level(logging.WARNING), pytest.raises(PlannerUnavailable) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.message == UNAVAILABLE
    assert caught.value.message == (
        "The planner is busy or unavailable right now. Nothing was saved; try again in a minute."
    )
    [logged] = [r for r in caplog.records if r.getMessage() == "the planning model failed"]
    assert logged.status_code == 500  # type: ignore[attr-defined]
    assert "The server had an error" in logged.error_message  # type: ignore[attr-defined]
    assert logged.model == "gpt-test"  # type: ignore[attr-defined]
    assert len(fake.requests) == 3  # the planner lets the SDK retry twice
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


def test_server_error_then_success_returns_the_plan(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(error(503, "overloaded"), ok(json.dumps(PLAN_JSON)))
    result = make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert len(result.steps) == 2
    assert len(fake.requests) == 2


def test_rate_limit_is_retried_then_the_plan_returns(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(error(429, "Rate limit reached"), ok(json.dumps(PLAN_JSON)))
    result = make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert [step.step_number for step in result.steps] == [1, 2]
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1"]


def test_rate_limit_that_persists_is_planner_unavailable(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(error(429, "Rate limit reached"))
    with pytest.raises(PlannerUnavailable) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.http_status == 503
    assert caught.value.message == UNAVAILABLE
    assert len(fake.requests) == 3


def test_unauthorized_is_planner_unavailable_without_retry(
    make_planner: PlannerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOpenAI(error(401, "Incorrect API key provided"))
    with caplog.at_level(logging.WARNING), pytest.raises(PlannerUnavailable) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.message == MISCONFIGURED
    assert "OPENAI" not in caught.value.message and "401" not in caught.value.message
    # The operator reads what to fix in the logs.
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.getMessage() == (
        "the planning model refused our credentials: check OPENAI_API_KEY and OPENAI_BASE_URL"
    )
    assert logged.status_code == 401  # type: ignore[attr-defined]
    assert len(fake.requests) == 1


class Unreachable(FakeOpenAI):
    """No server at the endpoint: every request fails to connect."""

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        raise httpx2.ConnectError("Connection refused", request=request)


def test_an_unreachable_endpoint_is_planner_unavailable_in_words(
    make_planner: PlannerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = Unreachable()
    with caplog.at_level(logging.WARNING), pytest.raises(PlannerUnavailable) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.message == UNAVAILABLE
    assert "APIConnectionError" not in caught.value.message
    [logged] = [r for r in caplog.records if r.getMessage() == "the planning model failed"]
    assert logged.error_type == "APIConnectionError"  # type: ignore[attr-defined]
    assert len(fake.requests) == 3
    assert all(str(r.url) == f"{BASE_URL}/chat/completions" for r in fake.requests)


def test_completion_without_choices_is_planner_unavailable(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(httpx2.Response(200, json={**completion("{}"), "choices": []}))
    with pytest.raises(PlannerUnavailable):
        make_planner(fake).plan(USER_MESSAGE, CATALOG)


# --- planner_from_settings ---------------------------------------------------------------------


def test_planner_from_settings_with_a_key_is_the_openai_planner() -> None:
    settings = Settings(
        openai_api_key="sk-from-settings",
        openai_base_url="http://llm.local/v1/",
        openai_model="gpt-x",
        max_steps=7,
    )
    planner = planner_from_settings(settings)
    assert isinstance(planner, OpenAIPlanner)
    assert planner.model == "gpt-x"
    assert planner.max_steps == 7
    client = planner._client  # the SDK client: its endpoint and limits come from the settings
    assert str(client.base_url) == "http://llm.local/v1/"
    assert client.api_key == "sk-from-settings"
    assert client.timeout == 30.0
    # The planner retries itself, within the planning deadline; the SDK's retries cannot see it.
    assert client.max_retries == 0
    assert planner.max_retries == 2
    assert planner.deadline_seconds == 24.0


def test_planner_from_settings_takes_the_planning_deadline() -> None:
    planner = planner_from_settings(Settings(openai_api_key="sk-x", planning_deadline_seconds=7.5))
    assert isinstance(planner, OpenAIPlanner)
    assert planner.deadline_seconds == 7.5


def test_planner_from_settings_without_a_key_is_the_offline_planner() -> None:
    assert isinstance(planner_from_settings(Settings()), OfflinePlanner)
    assert isinstance(planner_from_settings(Settings(openai_api_key="")), OfflinePlanner)


class TimingOut(FakeOpenAI):
    """An endpoint that never answers in time: the transport raises the client's read timeout."""

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        raise httpx2.ReadTimeout("timed out", request=request)


def test_timeout_is_retried_then_planner_timeout(make_planner: PlannerFactory) -> None:
    fake = TimingOut()
    with pytest.raises(PlannerTimeout) as caught:
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert caught.value.http_status == 504
    assert caught.value.message == (
        "Planning took too long: the planner did not answer within 24 seconds. "
        "Nothing was saved; try again in a minute."
    )
    assert len(fake.requests) == 3


# --- the planning deadline ---------------------------------------------------------------------
# API Gateway cuts every request at 30 s: one planning (every call, retry and the feedback try)
# ends within the deadline. Short deadlines here; the production one is 24 s.


def read_timeout(request: httpx2.Request) -> float:
    """The read timeout the client gave this request (what a server that never answers runs into)."""
    timeout = request.extensions["timeout"]
    assert isinstance(timeout, dict)
    return float(timeout["read"])


class Hanging(FakeOpenAI):
    """A model that never answers: each request waits out the client's own timeout, as a real socket
    would, then times out. `release` ends the wait early (the test is over)."""

    def __init__(self, *responses: httpx2.Response) -> None:
        super().__init__(*responses)
        self.release = threading.Event()
        self.timeouts: list[float] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        self.timeouts.append(read_timeout(request))
        self.release.wait(self.timeouts[-1])
        raise httpx2.ReadTimeout("timed out", request=request)


class Script(FakeOpenAI):
    """Each request takes `delay` seconds, then gets the next scripted response."""

    def __init__(self, delay: float, *responses: httpx2.Response) -> None:
        super().__init__(*responses)
        self.delay = delay
        self.timeouts: list[float] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.timeouts.append(read_timeout(request))
        time.sleep(self.delay)
        return super().__call__(request)


def timed(call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_model_that_hangs_is_a_timeout_at_the_deadline(make_planner: PlannerFactory) -> None:
    fake = Hanging()
    planner = make_planner(fake, deadline_seconds=1.0)
    raised, elapsed = timed(lambda: planner.plan(USER_MESSAGE, CATALOG))
    assert isinstance(raised, PlannerTimeout)
    assert raised.http_status == 504
    assert raised.message == (
        "Planning took too long: the planner did not answer within 1 second. Nothing was saved; try again "
        "in a minute."
    )
    assert 0.9 <= elapsed < 1.5
    # One call, given the whole budget as its timeout; no time was left to try again.
    assert len(fake.requests) == 1
    assert 0.9 <= fake.timeouts[0] <= 1.0
    assert 0.9 <= float(fake.requests[0].headers["x-stainless-read-timeout"]) <= 1.0


def test_each_call_waits_at_most_the_time_left(make_planner: PlannerFactory) -> None:
    # 500 twice (each after 0.3 s), then a plan: every call's timeout is what the deadline leaves.
    fake = Script(0.3, error(500, "down"), error(500, "down"), ok(json.dumps(PLAN_JSON)))
    plan = make_planner(fake, deadline_seconds=5.0).plan(USER_MESSAGE, CATALOG)
    assert len(plan.steps) == 2
    assert len(fake.requests) == 3
    assert fake.timeouts[0] <= 5.0
    assert fake.timeouts[0] - fake.timeouts[1] >= 0.3
    assert fake.timeouts[1] - fake.timeouts[2] >= 0.3


def test_the_per_call_timeout_caps_each_call_below_the_deadline(make_planner: PlannerFactory) -> None:
    fake = Script(0.0, ok(json.dumps(PLAN_JSON)))
    make_planner(fake, deadline_seconds=20.0, timeout_seconds=3.0).plan(USER_MESSAGE, CATALOG)
    assert fake.timeouts == [3.0]


def test_retries_stop_when_the_deadline_leaves_no_room(make_planner: PlannerFactory) -> None:
    # Each answer is a 500 asking for 0.4 s; with 1 s in all, the third try would start too late.
    slow_retry = httpx2.Response(
        500,
        json={"error": {"message": "down", "type": "server_error", "code": None}},
        headers={"retry-after-ms": "400"},
    )
    fake = FakeOpenAI(slow_retry)
    planner = make_planner(fake, deadline_seconds=1.0)
    raised, elapsed = timed(lambda: planner.plan(USER_MESSAGE, CATALOG))
    assert isinstance(raised, PlannerUnavailable)
    assert raised.message == UNAVAILABLE
    assert len(fake.requests) == 2
    assert elapsed < 1.0


def test_a_retry_after_past_the_deadline_is_not_waited_for(make_planner: PlannerFactory) -> None:
    fake = FakeOpenAI(
        httpx2.Response(
            429,
            json={"error": {"message": "Rate limit reached", "type": "requests", "code": None}},
            headers={"retry-after": "5"},
        )
    )
    planner = make_planner(fake, deadline_seconds=2.0)
    raised, elapsed = timed(lambda: planner.plan(USER_MESSAGE, CATALOG))
    assert isinstance(raised, PlannerUnavailable) and raised.message == UNAVAILABLE
    assert len(fake.requests) == 1
    assert elapsed < 0.5


@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(500, json={"error": {"message": "no"}}, headers={"x-should-retry": "false"}),
        httpx2.Response(400, json={"error": {"message": "bad request"}}),
        httpx2.Response(503, json={"error": {"message": "later"}}, headers={"retry-after": "121"}),
    ],
    ids=["x-should-retry-false", "client-error", "retry-after-over-two-minutes"],
)
def test_answers_the_sdk_would_not_retry_are_not_retried(
    make_planner: PlannerFactory, response: httpx2.Response
) -> None:
    fake = FakeOpenAI(response)
    with pytest.raises(PlannerUnavailable):
        make_planner(fake).plan(USER_MESSAGE, CATALOG)
    assert len(fake.requests) == 1


def test_x_should_retry_true_retries_a_client_error(make_planner: PlannerFactory) -> None:
    retry = httpx2.Response(
        400, json={"error": {"message": "again"}}, headers={"x-should-retry": "true", "retry-after-ms": "1"}
    )
    fake = FakeOpenAI(retry, ok(json.dumps(PLAN_JSON)))
    assert len(make_planner(fake).plan(USER_MESSAGE, CATALOG).steps) == 2
    assert len(fake.requests) == 2


def test_the_feedback_try_shares_the_deadline_of_the_first(make_planner: PlannerFactory) -> None:
    # The first plan is rejected after 0.4 s; the feedback try gets only what is left of 1 s, then
    # the planning ends as a timeout at the deadline, not 1 s later.
    bad = {**PLAN_JSON, "steps": [{**PLAN_JSON["steps"][0], "agent_id": "agent-retired"}]}

    class FirstSlowThenHanging(Hanging):
        def __call__(self, request: httpx2.Request) -> httpx2.Response:
            if not self.requests:
                self.requests.append(request)
                self.timeouts.append(read_timeout(request))
                time.sleep(0.4)
                return ok(json.dumps(bad))
            return super().__call__(request)

    fake = FirstSlowThenHanging()
    planner = make_planner(fake, deadline_seconds=1.0)
    raised, elapsed = timed(lambda: plan_workflow(planner, USER_MESSAGE, CATALOG))
    assert isinstance(raised, PlannerTimeout)
    assert 0.9 <= elapsed < 1.5
    assert len(fake.requests) == 2
    assert len(fake.body(1)["messages"]) == 3  # the second call is the feedback try
    assert fake.timeouts[1] <= 0.6


def test_no_feedback_try_starts_when_the_deadline_is_all_but_spent(make_planner: PlannerFactory) -> None:
    bad = {**PLAN_JSON, "steps": [{**PLAN_JSON["steps"][0], "agent_id": "agent-retired"}]}
    fake = Script(0.8, ok(json.dumps(bad)), ok(json.dumps(PLAN_JSON)))
    planner = make_planner(fake, deadline_seconds=1.0)
    raised, elapsed = timed(lambda: plan_workflow(planner, USER_MESSAGE, CATALOG))
    assert isinstance(raised, PlannerTimeout)
    assert len(fake.requests) == 1
    assert elapsed < 1.0


def test_each_planning_has_its_own_deadline(make_planner: PlannerFactory) -> None:
    # plan_workflow starts the clock per planning: a second planning has the whole budget again.
    fake = Script(0.6, ok(json.dumps(PLAN_JSON)))
    planner = make_planner(fake, deadline_seconds=1.0)
    for _ in range(2):
        plan, _cost = plan_workflow(planner, USER_MESSAGE, CATALOG)
        assert len(plan.steps) == 2
    assert all(0.9 <= timeout <= 1.0 for timeout in fake.timeouts)


def test_a_clock_started_before_planning_is_the_one_that_counts(make_planner: PlannerFactory) -> None:
    # A caller that starts the clock at the request's start: time spent before planning counts too.
    fake = Script(0.0, ok(json.dumps(PLAN_JSON)))
    planner = make_planner(fake, deadline_seconds=1.0)
    with planning_clock():
        time.sleep(0.3)
        plan_workflow(planner, USER_MESSAGE, CATALOG)
    assert fake.timeouts[0] <= 0.7
    plan_workflow(planner, USER_MESSAGE, CATALOG)  # a planning of its own again afterwards
    assert fake.timeouts[1] > 0.9
