"""One error vocabulary (orchestrator.errors): every error code the orchestrator writes is a class
there, and the API, the state machine, the stored workflow and the metrics all use its name.

Read from the sources themselves: the state machine's definition, the code's syntax tree (no import
of the handlers), and the Halt use case run on the SQLite store with a metrics object that records.
"""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from orchestrator import errors
from orchestrator.config import Settings
from orchestrator.dependencies import Dependencies
from orchestrator.errors import (
    AGENT_CAUSED_ERROR_CODES,
    AGENT_CAUSED_ERRORS,
    NoAgentFits,
    OrchestratorError,
    PaymentTimeout,
    PlanInvalid,
    is_aws_error,
)
from orchestrator.models import (
    PlannedStep,
    StepRecord,
    StepStatus,
    WorkflowPlan,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.schemas.tasks import HaltTask
from orchestrator.services import outcome
from orchestrator.store.sqlite import SQLiteStore

from devstack.template import PROJECT_ROOT, load_template

ORCHESTRATOR_DIR = PROJECT_ROOT / "layers" / "common" / "orchestrator"
ERRORS_MODULE = ORCHESTRATOR_DIR / "errors.py"
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
AGENT_ID = "8d7c3b1a-0f5e-4c2d-9b8a-7e6f5d4c3b2a"


def error_classes() -> list[type[OrchestratorError]]:
    """OrchestratorError and every subclass of it, depth first."""
    found: list[type[OrchestratorError]] = []
    todo: list[type[OrchestratorError]] = [OrchestratorError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


DOMAIN_ERRORS = [cls for cls in error_classes() if cls is not OrchestratorError]
CLASS_NAMES = frozenset(cls.__name__ for cls in error_classes())
CODES = frozenset(cls.code for cls in DOMAIN_ERRORS)


def python_sources() -> Iterator[Path]:
    """The orchestrator package and the Lambda handlers: the code that writes error codes."""
    yield from sorted(ORCHESTRATOR_DIR.rglob("*.py"))
    yield from sorted(FUNCTIONS_DIR.rglob("*.py"))


def shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


# --- the classes -------------------------------------------------------------------------------------


def vocabulary_problems(classes: list[type[Any]], root: type[Any]) -> list[str]:
    """What is wrong with a hierarchy of errors under `root`: a class without an HTTP status of its
    own choosing, a code that is no class's name, two classes under one code (other than a class
    answered as its base, NoAgentFits as PlanInvalid)."""
    problems: list[str] = []
    by_code: dict[str, list[type[Any]]] = {}
    for cls in classes:
        code, status = cls.code, cls.http_status
        by_code.setdefault(code, []).append(cls)
        # Its own status or a base's other than the root's default: every error chose its status.
        own = cls.__mro__[: cls.__mro__.index(root)]
        if not any("http_status" in vars(k) for k in own) or not 400 <= status <= 599:
            problems.append(f"{cls.__name__} has no HTTP status of its own")
    for code, sharing in by_code.items():
        named = [cls for cls in sharing if cls.__name__ == code]
        if len(named) != 1:
            problems.append(f"{code} is the code of {sorted(c.__name__ for c in sharing)}")
            continue
        for cls in sharing:
            if not issubclass(cls, named[0]) or (cls is not named[0] and "code" not in vars(cls)):
                problems.append(f"{cls.__name__} is answered as {code}, which it is no kind of")
    return problems


def test_every_code_is_the_name_of_one_class_and_has_a_status() -> None:
    assert vocabulary_problems(list(DOMAIN_ERRORS), OrchestratorError) == []


def test_the_vocabulary_check_finds_a_shared_code_and_a_missing_status() -> None:
    class Root(Exception):
        http_status = 400
        code = "Root"

    class Late(Root):
        http_status = 409
        code = "Late"

    class AlsoLate(Root):  # a second class under Late's code, and no status of its own
        code = "Late"

    class Gone(Late):  # answered as its base: allowed
        code = "Late"

    assert vocabulary_problems([Late, Gone], Root) == []
    assert vocabulary_problems([Late, AlsoLate], Root) == [
        "AlsoLate has no HTTP status of its own",
        "AlsoLate is answered as Late, which it is no kind of",
    ]
    assert vocabulary_problems([AlsoLate], Root) == [
        "AlsoLate has no HTTP status of its own",
        "Late is the code of ['AlsoLate']",
    ]


def test_every_error_class_lives_in_the_errors_module() -> None:
    assert all(cls.__module__ == "orchestrator.errors" for cls in error_classes())
    # Also the ones no test imports: a class anywhere else that derives from one of ours.
    elsewhere = []
    for path in python_sources():
        if path == ERRORS_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & CLASS_NAMES:
                    elsewhere.append(f"{shown(path)}:{node.lineno} {node.name}")
    assert elsewhere == [], "error classes outside orchestrator/errors.py"


def test_the_code_reads_the_same_on_the_class_and_on_an_error() -> None:
    assert PaymentTimeout.code == PaymentTimeout("late").code == "PaymentTimeout"
    assert NoAgentFits.code == NoAgentFits("nothing fits").code == PlanInvalid.code
    assert NoAgentFits("nothing fits").to_dict() == {"code": "PlanInvalid", "message": "nothing fits"}
    assert {cls.code for cls in AGENT_CAUSED_ERRORS} == AGENT_CAUSED_ERROR_CODES


# --- the state machine -----------------------------------------------------------------------------


def state_machine() -> dict[str, Any]:
    return load_template().state_machine_definition()


def all_states(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, nested ones (Parallel branches, Map processors) included."""
    if isinstance(node, dict):
        yield from (node.get("States") or {}).items()
        for value in node.values():
            yield from all_states(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_states(value)


def test_the_state_machine_names_only_our_codes_and_aws_errors() -> None:
    named: dict[str, set[str]] = {}  # error name -> where
    for name, state in all_states(state_machine()):
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
            for error in rule["ErrorEquals"]:
                named.setdefault(error, set()).add(f"{name} routes on it")
        if state["Type"] == "Fail":
            named.setdefault(state["Error"], set()).add(f"{name} fails with it")
            # The state and the error it ends with read the same in the console.
            assert name == state["Error"], f"Fail state {name} ends with {state['Error']}"
    unknown = {
        error: where for error, where in named.items() if not is_aws_error(error) and error not in CODES
    }
    assert unknown == {}, "names in the state machine that are no class of orchestrator.errors"
    assert {errors.STATES_ALL, errors.WorkflowCancelled.code, PaymentTimeout.code} <= named.keys()


def _halt_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Halt tasks: the states whose payload gives a reason."""
    return {
        name: state
        for name, state in all_states(definition)
        if state["Type"] == "Task" and "reason" in (state.get("Parameters") or {}).get("Payload", {})
    }


def _end_of(states: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    while states[name]["Type"] not in ("Fail", "Succeed"):
        name = states[name]["Next"]
    return states[name]


def halt_routes() -> list[tuple[str, str, str]]:
    """(reason, the error caught into that Halt, the error of the Fail state it ends in), for every
    Catch that routes one named error (not States.ALL) into a Halt task."""
    definition = state_machine()
    states = dict(all_states(definition))
    halts = _halt_states(definition)
    routes = set()
    for state in states.values():
        for catch in state.get("Catch", []):
            if catch["Next"] in halts and catch["ErrorEquals"] != [errors.STATES_ALL]:
                halt = halts[catch["Next"]]
                end = _end_of(states, halt["Next"])
                for caught in catch["ErrorEquals"]:
                    routes.add((halt["Parameters"]["Payload"]["reason"], caught, end.get("Error", "")))
    return sorted(routes)


# --- the Halt use case -------------------------------------------------------------------------------


@dataclass
class RecordedMetrics:
    """`WorkflowMetrics` that keeps what it is told."""

    failed: list[str] = field(default_factory=list)
    agent_errors: list[tuple[str, str]] = field(default_factory=list)

    def workflow_created(self) -> None: ...

    def workflow_completed(self) -> None: ...

    def workflow_failed(self, reason: str) -> None:
        self.failed.append(reason)

    def step_latency(self, seconds: float) -> None: ...

    def payment_wait(self, seconds: float) -> None: ...

    def agent_error(self, agent_id: str, error_code: str) -> None:
        self.agent_errors.append((agent_id, error_code))


@dataclass
class Halted:
    workflow: WorkflowRecord
    step: StepRecord
    metrics: RecordedMetrics


def halt(tmp_path: Path, reason: str, caught: dict[str, Any], step_status: StepStatus) -> Halted:
    """A running workflow of one step, halted as the state machine's Catch sends it."""
    path = tmp_path / "db.sqlite3"
    deps = Dependencies(Settings(sqlite_path=str(path)))
    store, metrics = SQLiteStore(path), RecordedMetrics()
    deps.__dict__.update(store=store, metrics=metrics)
    workflow = WorkflowRecord(
        workflow_id=str(uuid.uuid4()),
        user_id="user-1",
        wallet_address="W" * 58,
        user_message="hi",
        plan=WorkflowPlan(steps=[PlannedStep(step_number=1, agent_id=AGENT_ID)]),
        status=WorkflowStatus.RUNNING,
        attempt=1,
    )
    step = StepRecord(
        id=str(uuid.uuid4()),
        workflow_id=workflow.workflow_id,
        step_number=1,
        agent_id=AGENT_ID,
        status=step_status,
    )
    store.create_workflow(workflow, [step])
    task = HaltTask(workflow_id=workflow.workflow_id, step_number=1, attempt=1, reason=reason, error=caught)
    outcome.halt(deps, task)
    workflow_after, step_after = (
        store.get_workflow(workflow.workflow_id),
        store.get_step(workflow.workflow_id, 1),
    )
    assert workflow_after is not None and step_after is not None
    return Halted(workflow_after, step_after, metrics)


@pytest.mark.parametrize(("reason", "caught", "fail_error"), halt_routes())
def test_a_halt_records_the_code_its_fail_state_names(
    tmp_path: Path, reason: str, caught: str, fail_error: str
) -> None:
    """A payment timeout is recorded, counted and ended under one name (PaymentTimeout), and so is a
    cancellation; the workflow's code is the one its execution fails with."""
    halted = halt(tmp_path, reason, {"Error": caught, "Cause": "the cause"}, StepStatus.AWAITING_PAYMENT)
    assert halted.workflow.error is not None
    assert halted.workflow.error.code == fail_error
    assert fail_error in CODES
    if halted.workflow.status == WorkflowStatus.FAILED:
        assert halted.metrics.failed == [fail_error]


def test_the_state_machine_has_the_halt_routes_that_name_their_outcome() -> None:
    reasons = {reason for reason, _, _ in halt_routes()}
    assert {"payment_timeout", "cancelled"} <= reasons


TASK_RAISED = [cls for cls in DOMAIN_ERRORS if cls.code == cls.__name__]  # Lambda reports the class name


@pytest.mark.parametrize("error", TASK_RAISED, ids=lambda cls: cls.__name__)
def test_a_failed_step_is_recorded_and_counted_under_its_code(
    tmp_path: Path, error: type[OrchestratorError]
) -> None:
    """What a task raised reaches Halt as the Catch's Error (the class name) and is the workflow's
    code, the WorkflowsFailed reason, and for an agent's error the AgentErrors error_code."""
    cause = json.dumps({"errorType": error.__name__, "errorMessage": "it went wrong"})
    halted = halt(tmp_path, "failed", {"Error": error.__name__, "Cause": cause}, StepStatus.RUNNING)
    assert halted.workflow.error is not None and halted.workflow.error.code == error.code
    assert halted.step.error is not None and halted.step.error.code == error.code
    assert halted.metrics.failed == [error.code]
    expected_agent_errors = [(AGENT_ID, error.code)] if error in AGENT_CAUSED_ERRORS else []
    assert halted.metrics.agent_errors == expected_agent_errors


# --- the code: codes come from the classes -------------------------------------------------------


def task_failure_problems(source: str, filename: str) -> tuple[int, list[str]]:
    """(how many `*.send_task_failure(token, error, cause)` calls, the ones whose `error` is not a
    class's code: `exc.code`, `SomeError.code` or `SomeError.__name__` of a class we have)."""
    calls, problems = 0, list[str]()

    def visit(node: ast.AST) -> None:
        nonlocal calls
        # The engine's own send_task_failure passes its argument on to Step Functions.
        if isinstance(node, ast.FunctionDef) and node.name == "send_task_failure":
            return
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "send_task_failure":
            calls += 1
            given = node.args[1] if len(node.args) > 1 else None
            given = given or next((k.value for k in node.keywords if k.arg == "error"), None)
            if not _is_a_code(given):
                problems.append(f"{filename}:{node.lineno} {ast.unparse(node)}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source, filename))
    return calls, problems


def _is_a_code(node: ast.expr | None) -> bool:
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr == "code":  # an error's (exc.code) or a class's (PaymentTimeout.code)
        return (
            not isinstance(node.value, ast.Name)
            or node.value.id[:1].islower()
            or node.value.id in CLASS_NAMES
        )
    return node.attr == "__name__" and isinstance(node.value, ast.Name) and node.value.id in CLASS_NAMES


@pytest.mark.parametrize(
    ("call", "accepted"),
    [
        ("engine.send_task_failure(token, exc.code, exc.message)", True),
        ("deps.engine.send_task_failure(token, WorkflowCancelled.code, 'cancelled')", True),
        ("engine.send_task_failure(token, WorkflowCancelled.__name__, 'cancelled')", True),
        ("engine.send_task_failure(token, 'PaymentTimedOut', 'late')", False),
        ("engine.send_task_failure(token, error='WorkflowCancelled', cause='cancelled')", False),
        ("engine.send_task_failure(token, PaymentTimedOut.__name__, 'late')", False),
        ("engine.send_task_failure(token, f'{kind}Failed', 'late')", False),
    ],
)
def test_the_task_failure_check_tells_a_code_from_a_literal(call: str, accepted: bool) -> None:
    calls, problems = task_failure_problems(call, "example.py")
    assert calls == 1
    assert (problems == []) is accepted


def test_every_task_failure_sends_a_class_code() -> None:
    calls, problems = 0, list[str]()
    for path in python_sources():
        found, wrong = task_failure_problems(path.read_text(), shown(path))
        calls, problems = calls + found, problems + wrong
    assert calls > 0, "no send_task_failure call found: the check looks in the wrong place"
    assert problems == []


def literal_codes(source: str, filename: str) -> list[str]:
    """Where a string literal equals an error class's name."""
    return [
        f"{filename}:{node.lineno} {node.value!r}"
        for node in ast.walk(ast.parse(source, filename))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CLASS_NAMES
    ]


def test_the_literal_check_finds_a_code_written_out() -> None:
    assert literal_codes('code = "PaymentTimeout"\nother = PaymentTimeout.code\n', "example.py") == [
        "example.py:1 'PaymentTimeout'"
    ]


def test_no_code_is_written_as_a_literal_outside_the_errors_module() -> None:
    found = [
        hit
        for path in python_sources()
        if path != ERRORS_MODULE
        for hit in literal_codes(path.read_text(), shown(path))
    ]
    assert found == [], "write the class's code (PaymentTimeout.code), not its name"
