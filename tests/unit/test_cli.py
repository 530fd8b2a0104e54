"""`orch`'s words: the help with its defaults, the cost line, the failure lines, the funds check, the
planner in the banner, and what its logging shows of the libraries' records (a port clash, which
needs a socket to hold the port: tests/integration/test_cli_port_clash.py)."""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.cli import build_parser, main
from devstack.demo import Paid, ended_line, failure_lines, funds_lines, paid_line
from devstack.logs import (
    MOTO_EVAL_LOGGER,
    TRACER_LOGGER,
    DropDomainErrorTraces,
    DropExpectedMotoFailures,
    TerminalLogging,
    fail_state_errors,
    quiet_expected_failures,
)
from devstack.stack import StackConfig, planner_description
from devstack.template import load_template

# --- --help: every option says its default ---------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


@pytest.mark.parametrize("command", ["up", "demo", "token"])
def test_every_option_shows_its_default_in_help(command: str) -> None:
    sub = _subparsers(build_parser())[command]
    options = [a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert options
    for action in options:
        assert action.help and "default" in action.help, (
            f"{command} {action.option_strings[0]}: {action.help}"
        )
    text = " ".join(sub.format_help().split())
    for action in options:
        assert "default" in " ".join((action.help or "").split())
    if command == "up":
        defaults = StackConfig()
        assert f"--api-port API_PORT the HTTP API and web pages (default: {defaults.api_port})" in text
        assert f"(default: {defaults.agents_base_port})" in text
        assert "template.yaml" not in text  # up's payment timeout is StackConfig's own
    if command == "demo":
        assert "dev ledger algod port (default: any free port)" in text
        assert "(default: a temporary directory, removed afterwards)" in text
        assert "--fail-agent SLUG" in text and "movie-recommender" in text


def test_help_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"])
    assert exited.value.code == 0
    assert "(default: 180)" in capsys.readouterr().out


def test_demo_options_parse() -> None:
    args = build_parser().parse_args(
        ["demo", "--fail-agent", "movie-recommender", "--cancel-at-step", "2", "--dev-funds", "0.5"]
    )
    assert args.fail_agent == ["movie-recommender"]
    assert args.cancel_at_step == 2 and args.dev_funds == 0.5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--fail-agent", "no-such-agent"])


# --- amounts, cost, failures ------------------------------------------------------------------------


def receipt(amount: int, fee: int, txids: int = 2) -> dict[str, Any]:
    return {
        "txn_ids": [f"TX{amount}{i}" for i in range(txids)],
        "confirmed_round": 5,
        "amount_microalgo": amount,
        "receiver": "R",
        "fee_microalgo": fee,
    }


def step(number: int, status: str, **fields: Any) -> dict[str, Any]:
    return {"step_number": number, "agent_name": f"Agent {number}", "status": status, **fields}


def test_cost_only_for_what_was_paid() -> None:
    workflow = {
        "status": "failed",
        "steps": [
            step(1, "succeeded", receipt=receipt(500_000, 2_000)),
            # a step paid before, whose job the agent lost: its earlier receipt counts too
            step(2, "failed", receipt=None, earlier_receipts=[receipt(300_000, 2_000)]),
            step(3, "pending"),
        ],
    }
    paid = Paid.of(workflow)
    assert (paid.amount_microalgo, paid.fee_microalgo, paid.transactions) == (800_000, 4_000, 4)
    assert paid_line(paid) == "paid 0.804 ALGO (0.004 ALGO fees) in 4 transactions"
    assert paid_line(Paid.of({"steps": [step(1, "cancelled"), step(2, "pending")]})) == "nothing was paid"
    assert paid_line(Paid.of({"steps": [step(1, "succeeded", receipt=receipt(0, 1_000, 1))]})) == (
        "paid 0.001 ALGO (0.001 ALGO fees) in 1 transaction"
    )


def test_one_line_per_failure_in_words() -> None:
    failed = {
        "workflow_id": "w1",
        "status": "failed",
        "current_step": 2,
        "error": {"code": "AgentJobFailed", "message": "The agent reported the job as failed."},
        "steps": [
            step(1, "succeeded", receipt=receipt(500_000, 2_000)),
            step(
                2,
                "failed",
                error={"code": "AgentJobFailed", "message": "The agent reported the job as failed."},
            ),
        ],
    }
    assert failure_lines(failed) == [
        "step 2 (Agent 2) failed: AgentJobFailed: The agent reported the job as failed."
    ]
    assert ended_line(failed) == (
        "workflow w1 failed: step 2 (Agent 2) failed: AgentJobFailed: The agent reported the job as failed. "
        "— paid 0.502 ALGO (0.002 ALGO fees) in 2 transactions"
    )
    halted = {
        "workflow_id": "w2",
        "status": "cancelled",
        "current_step": 1,
        "error": {"code": "WorkflowCancelled", "message": "The workflow was cancelled."},
        "steps": [step(1, "awaiting_payment"), step(2, "pending")],
    }
    assert failure_lines(halted) == [
        "workflow cancelled at step 1 (Agent 1): WorkflowCancelled: The workflow was cancelled."
    ]
    assert ended_line(halted).endswith("— nothing was paid")
    for line in failure_lines(failed) + failure_lines(halted):
        assert "{" not in line and "Exception" not in line


def test_funds_lines_say_the_figures_and_the_sentence() -> None:
    funds = {
        "wallet_address": "WALLET",
        "balance_microalgo": 1_200_000,
        "min_balance_microalgo": 100_000,
        "spendable_microalgo": 1_100_000,
        "agents_microalgo": 800_000,
        "fees_microalgo": 2_000,
        "total_microalgo": 802_000,
        "can_pay": True,
        "message": "This plan costs 0.802 ALGO with network fees: you can pay it.",
    }
    figures, sentence = funds_lines(funds)
    assert figures == (
        "wallet WALLET holds 1.2 ALGO (0.1 ALGO must stay as the minimum balance, 1.1 ALGO can be spent); "
        "the plan costs 0.802 ALGO with network fees (0.8 ALGO for the agents + 0.002 ALGO fees)"
    )
    assert sentence == funds["message"]
    unread = {**funds, "balance_microalgo": None, "min_balance_microalgo": None, "spendable_microalgo": None}
    assert funds_lines(unread)[0].startswith("the plan costs 0.802 ALGO with network fees")


# --- the planner in the banner ----------------------------------------------------------------------


def test_planner_description_names_the_planner_and_model() -> None:
    assert planner_description({}).startswith("offline (")
    assert "OPENAI_API_KEY" in planner_description({})
    openai = planner_description({"OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "gpt-4.1-mini"})
    assert openai.startswith("OpenAI, model gpt-4.1-mini")
    assert "sk-test" not in openai
    at = planner_description({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"})
    assert "at http://127.0.0.1:9/v1 " in at


# --- logging: expected outcomes dropped, the rest one line each -------------------------------------


def moto_record(
    error: str, details: str = '{"taskFailedEventDetails": {"error": "X", "cause": "why"}}'
) -> logging.LogRecord:
    return logging.LogRecord(
        MOTO_EVAL_LOGGER,
        logging.ERROR,
        __file__,
        1,
        "%s at '%s'",
        (
            f"Exception=FailureEventException, Error={error}, Details={details}",
            "(StateFail| {<moto.big repr>})",
        ),
        None,
    )


def test_expected_moto_failures_are_dropped_others_kept() -> None:
    fails = fail_state_errors(load_template().state_machine_definition({}))
    assert {"WorkflowFailed", "WorkflowCancelled"} <= fails
    quiet_expected_failures(fails)
    (moto_filter,) = [
        f for f in logging.getLogger(MOTO_EVAL_LOGGER).filters if isinstance(f, DropExpectedMotoFailures)
    ]
    for expected in ("WorkflowFailed", "WorkflowCancelled", "States.Timeout", "AgentJobFailed"):
        assert not moto_filter.filter(moto_record(expected))
    assert moto_filter.filter(moto_record("States.Runtime"))


def traced(exc: Exception) -> logging.LogRecord:
    try:
        raise exc
    except Exception:
        info = sys.exc_info()
    return logging.LogRecord(
        TRACER_LOGGER, logging.ERROR, __file__, 1, "Exception received from correlated", (), info
    )


def test_the_tracer_keeps_unexpected_exceptions_only() -> None:
    from orchestrator.errors import WorkflowCancelled

    drop = DropDomainErrorTraces()
    assert not drop.filter(traced(WorkflowCancelled("The workflow was cancelled.")))
    assert drop.filter(traced(KeyError("x")))


def test_terminal_lines_are_one_line_each_with_the_detail_in_the_log(tmp_path: Path) -> None:
    terminal = io.StringIO()
    log_file = tmp_path / "orch.log"
    with TerminalLogging(log_file, stream=terminal) as logs:
        log = logging.getLogger("devstack.lambdas")
        try:
            empty: dict[str, int] = {}
            empty["missing"]
        except KeyError as exc:
            log.error("StepStartJobFunction raised", exc_info=exc)
        logging.getLogger(MOTO_EVAL_LOGGER).handle(moto_record("States.Runtime"))
        # a Lambda task's exception as moto reports it again: the record above is the one shown
        logging.getLogger(MOTO_EVAL_LOGGER).handle(
            moto_record(
                "KeyError", '{"taskFailedEventDetails": {"cause": "{\\"errorType\\": \\"KeyError\\"}"}}'
            )
        )
        logging.getLogger(TRACER_LOGGER).handle(traced(KeyError("missing")))
        logging.getLogger("orchestrator").warning("agent slow")
        logging.getLogger("some.library").info("chatter")
        assert logs.warnings_logged >= 3
    lines = terminal.getvalue().splitlines()
    assert lines[0].startswith(
        "error: devstack: StepStartJobFunction raised: KeyError: 'missing' (at tests/unit/test_cli.py:"
    )
    assert lines[0].endswith(f"the full record is in {log_file})")
    assert (
        lines[1]
        == f"error: the state machine stopped on States.Runtime: why (the full record is in {log_file})"
    )
    assert lines[2] == "warning: orchestrator: agent slow"
    assert len(lines) == 3, lines
    assert not any("moto." in line or "Exception=" in line or "Traceback" in line for line in lines)
    detail = log_file.read_text()
    assert "Traceback (most recent call last)" in detail and "agent slow" in detail
    assert "chatter" not in detail
    # closed: its handlers are gone
    assert not any(
        isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is terminal
        for h in logging.getLogger().handlers
    )
