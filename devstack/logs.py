"""What the local stack's logs show on a terminal, and where their detail goes.

Expected outcomes of a workflow are no errors of the stack: a step that failed, a cancelled run, a
payment that timed out. The state machine and the handlers still raise for them (that is how a task
reports them), and two libraries log each one at ERROR:

- moto's ASL interpreter (`moto.stepfunctions.parser.asl.component.eval_component`) logs every
  failure event with the whole state's repr (`Exception=FailureEventException, Error=WorkflowFailed,
  ... at '(StateFail| {...}'`, kilobytes);
- Powertools' tracer (`aws_lambda_powertools.tracing.tracer`) logs "Exception received from
  correlated" with a traceback for every exception a handler raises, the domain errors a task raises
  on purpose (`WorkflowCancelled`, `AgentJobFailed`, ...) included.

`quiet_expected_failures` (the local stack installs it at start, so the tests' captured logs are
quieter too) drops those records of expected outcomes at their loggers; `orch` reports the outcome
itself, in words, from the workflow. Everything else is kept: an unexpected exception in our code
(a task's bug, a 500 of a route) still reaches the logs.

`TerminalLogging` (`orch up`, `orch demo`) then gives each remaining record one line on stderr (no
library repr, no traceback: the exception's type, message and the place in our code that raised)
and writes the full records, tracebacks included, to a log file the line names.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from orchestrator.errors import STATES_TIMEOUT

from devstack.template import PROJECT_ROOT

MOTO_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"
TRACER_LOGGER = "aws_lambda_powertools.tracing.tracer"
ORCHESTRATOR_LOGGER = "orchestrator"  # Powertools Logger(service="orchestrator"): JSON on stdout
LOCAL_LOG_LEVEL = "WARNING"  # the handlers' POWERTOOLS_LOG_LEVEL on the local stack, unless set

# The error names moto logs for states that end as planned: a WatchJob look's timeout (the next
# look at a running job), and the outcome errors of the state machine's Fail states.
_ALWAYS_EXPECTED = frozenset({STATES_TIMEOUT})
_MOTO_ERROR = re.compile(r"\bError=([^,\s]+)")
_MOTO_EXCEPTION = re.compile(r"^Exception=([^,\s]+)")


def domain_error_names() -> frozenset[str]:
    """The codes of the orchestrator's domain errors (`orchestrator.errors`): what a task raises on
    purpose, and the error name the state machine sees for it."""
    from orchestrator.errors import OrchestratorError

    names: set[str] = set()
    todo: list[type[OrchestratorError]] = [OrchestratorError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return frozenset(names)


def fail_state_errors(definition: dict[str, Any]) -> frozenset[str]:
    """The `Error` of every Fail state of a state machine definition (nested states included)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "Fail" and isinstance(node.get("Error"), str):
                found.add(node["Error"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    return frozenset(found)


def moto_error_name(record: logging.LogRecord) -> str | None:
    """The `Error=` of one of moto's failure-event records (None for another record)."""
    match = _MOTO_ERROR.search(record.getMessage().split(" at '", 1)[0])
    return match.group(1) if match else None


class DropExpectedMotoFailures(logging.Filter):
    """On moto's eval_component logger: drop the failure events of expected outcomes."""

    def __init__(self, expected: Iterable[str]) -> None:
        super().__init__()
        self.expected = frozenset(expected) | _ALWAYS_EXPECTED

    def filter(self, record: logging.LogRecord) -> bool:
        return moto_error_name(record) not in self.expected


class DropDomainErrorTraces(logging.Filter):
    """On Powertools' tracer logger: drop "Exception received from ..." for a domain error (an
    `OrchestratorError`, raised by a task on purpose); any other exception is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        from orchestrator.errors import OrchestratorError

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, OrchestratorError)


def quiet_expected_failures(expected_errors: Iterable[str] = ()) -> None:
    """Install the two filters (once per process; a later call adds `expected_errors` to moto's)."""
    moto = logging.getLogger(MOTO_EVAL_LOGGER)
    names = frozenset(expected_errors) | domain_error_names()
    existing = [f for f in moto.filters if isinstance(f, DropExpectedMotoFailures)]
    if existing:
        existing[0].expected |= names
    else:
        moto.addFilter(DropExpectedMotoFailures(names))
    tracer = logging.getLogger(TRACER_LOGGER)
    if not any(isinstance(f, DropDomainErrorTraces) for f in tracer.filters):
        tracer.addFilter(DropDomainErrorTraces())


# --- one line per record on the terminal ----------------------------------------------------------


def where_raised(tb: TracebackType | None) -> str:
    """`path:line in function` of the innermost frame in this project's code (not a library's), or of
    the innermost frame if none is ours."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return "?"
    root = str(PROJECT_ROOT)
    ours = [f for f in frames if f.filename.startswith(root) and "/.venv" not in f.filename[len(root) :]]
    frame = (ours or frames)[-1]
    path = frame.filename[len(root) + 1 :] if frame.filename.startswith(root + "/") else frame.filename
    return f"{path}:{frame.lineno} in {frame.name}"


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _moto_summary(record: logging.LogRecord) -> str | None:
    """A failure event of moto's in words, or None when it repeats a handler's exception (a Lambda
    task's error: the tracer's record of the same exception is the one shown)."""
    head = record.getMessage().split(" at '", 1)[0]
    error = moto_error_name(record)
    details: Any = None
    if "Details=" in head:
        raw = head.split("Details=", 1)[1]
        try:
            details = json.loads(raw)
        except ValueError:
            details = raw
    text = json.dumps(details) if not isinstance(details, str) else details
    if "errorType" in text or "stackTrace" in text:
        return None
    cause = ""
    if isinstance(details, dict):
        for value in details.values():
            if isinstance(value, dict) and isinstance(value.get("cause"), str):
                cause = value["cause"]
    elif isinstance(details, str):
        cause = details
    exception = _MOTO_EXCEPTION.match(head)
    kind = error or (exception.group(1) if exception else "error")
    return f"the state machine stopped on {kind}" + (f": {_first_line(cause)}" if cause else "")


class TerminalFormatter(logging.Formatter):
    """One line per record: level, where from, the message; an exception as its type, message and
    the place in our code that raised it, with the log file that holds the traceback."""

    def __init__(self, detail_path: Path | None) -> None:
        super().__init__()
        self.detail_path = detail_path

    def _detail(self) -> str:
        return (
            f"the full record is in {self.detail_path}" if self.detail_path else "run with logs to see more"
        )

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        if record.name.startswith("moto."):
            summary = _moto_summary(record) or "the state machine stopped on an error"
            return f"{level}: {summary} ({self._detail()})"
        message = record.getMessage()
        if record.name == "werkzeug" and record.levelno < logging.WARNING:
            return message  # the access log (orch up), as werkzeug writes it
        source = record.name.split(".")[0]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            return (
                f"{level}: {source}: {message}: {type(exc).__name__}: {_first_line(str(exc))} "
                f"(at {where_raised(exc.__traceback__)}; {self._detail()})"
            )
        return f"{level}: {source}: {_first_line(message, 400)}"


class _TerminalFilter(logging.Filter):
    """Warnings and errors, werkzeug's access log when asked, and none of moto's failure events that
    repeat a handler's exception."""

    def __init__(self, access_log: bool) -> None:
        super().__init__()
        self.access_log = access_log

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("moto.") and record.levelno >= logging.ERROR:
            return _moto_summary(record) is not None
        if record.name == TRACER_LOGGER:
            return False  # the same exception as devstack.lambdas' record of it (with tracing on)
        if record.levelno >= logging.WARNING:
            return True
        return self.access_log and record.name == "werkzeug"


class _CountWarnings(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.count += 1
        return True


class _DetailFormatter(logging.Formatter):
    """The log file's lines: the orchestrator's records as its Powertools formatter writes them
    (JSON, with the correlation id), the others as time, level, logger and message + traceback."""

    def __init__(self, orchestrator_formatter: logging.Formatter | None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        self.orchestrator_formatter = orchestrator_formatter

    def format(self, record: logging.LogRecord) -> str:
        if self.orchestrator_formatter is not None and record.name.split(".")[0] == ORCHESTRATOR_LOGGER:
            return self.orchestrator_formatter.format(record)
        return super().format(record)


class TerminalLogging:
    """The CLI's logging while a stack runs: one line per warning or error on `stream`, the full
    records in `detail_path`. `close` puts the logging setup back as it was."""

    def __init__(
        self, detail_path: Path | None, *, stream: TextIO | None = None, access_log: bool = False
    ) -> None:
        # The orchestrator's logger first: Powertools filters its records out of the root handlers
        # that exist when it is created, and it prints JSON to stdout itself (that would interleave
        # with `orch demo --json`); its records reach the handlers below instead.
        from orchestrator import observability

        self.detail_path = detail_path
        self._orchestrator = logging.getLogger(ORCHESTRATOR_LOGGER)
        # Its level as the local stack sets it for the handlers (created here, before the stack's
        # environment is in place).
        self._saved_orchestrator_level = self._orchestrator.level
        self._orchestrator.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL") or LOCAL_LOG_LEVEL)
        powertools_handler = observability.logger.registered_handler
        self._removed = [h for h in self._orchestrator.handlers if h is powertools_handler]
        for handler in self._removed:
            self._orchestrator.removeHandler(handler)
        self._root = logging.getLogger()
        self._saved_level = self._root.level
        werkzeug = logging.getLogger("werkzeug")
        self._saved_werkzeug = werkzeug.level
        if access_log:
            werkzeug.setLevel(logging.INFO)
        self._root.setLevel(logging.INFO)
        self.terminal = logging.StreamHandler(stream or sys.stderr)
        self.terminal.setFormatter(TerminalFormatter(detail_path))
        self.terminal.addFilter(_TerminalFilter(access_log))
        self._counter = _CountWarnings()
        self.terminal.addFilter(self._counter)
        self._root.addHandler(self.terminal)
        self.file: logging.Handler | None = None
        if detail_path is not None:
            detail_path.parent.mkdir(parents=True, exist_ok=True)
            self.file = logging.FileHandler(detail_path, encoding="utf-8")
            self.file.setLevel(logging.WARNING)
            self.file.setFormatter(_DetailFormatter(powertools_handler.formatter if self._removed else None))
            self._root.addHandler(self.file)

    @property
    def warnings_logged(self) -> int:
        """How many records at WARNING or above were logged (and written to the log file)."""
        return self._counter.count

    def close(self) -> None:
        for handler in (self.terminal, self.file):
            if handler is not None:
                self._root.removeHandler(handler)
                handler.close()
        self._root.setLevel(self._saved_level)
        self._orchestrator.setLevel(self._saved_orchestrator_level)
        logging.getLogger("werkzeug").setLevel(self._saved_werkzeug)
        for handler in self._removed:
            self._orchestrator.addHandler(handler)
        self._removed = []

    def __enter__(self) -> TerminalLogging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
