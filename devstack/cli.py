"""`orch`: the local stack's command line.

orch up     serve the whole stack on loopback until Ctrl-C
orch demo   run one workflow end to end on an in-process stack and print what happened
orch token  print an access token for a local user (the stack's JWT authorizer wants one)

While a stack runs, each warning or error of its logs is one line on stderr; the full records
(tracebacks included) go to a log file the line names (devstack/logs.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID, ISSUER_PATH, LocalIssuer
from devstack.frontend import frontend_for, site_built
from devstack.stack import LocalStack, PortClash, StackConfig, planner_description

SEED_EXAMPLE = "I have a headache and runny nose and want a movie recommendation"
# The defaults of the options below are StackConfig's: an option not given is not passed on.
DEFAULTS = StackConfig()
DEMO_PAYMENT_TIMEOUT = 120  # seconds: the demo pays at once
LOG_FILE = "orch.log"  # in the data dir: the full log records behind the terminal's lines


def _stack_options(parser: argparse.ArgumentParser, *, payment_timeout: int | None) -> None:
    parser.add_argument(
        "--catalog",
        type=Path,
        help="JSON list of agent records replacing the sample catalog (default: the five sample agents)",
    )
    parser.add_argument(
        "--block-time",
        type=float,
        default=None,
        help=f"seconds between dev ledger rounds (default: {DEFAULTS.block_time:g})",
    )
    parser.add_argument(
        "--indexer-lag",
        type=float,
        default=None,
        help=f"seconds the dev indexer lags algod (default: {DEFAULTS.indexer_lag_seconds:g})",
    )
    parser.add_argument(
        "--payment-timeout",
        type=int,
        default=None,
        help="seconds a step waits for payment (default: "
        + (f"{payment_timeout})" if payment_timeout else "template.yaml's PaymentTimeoutSeconds)"),
    )


def _given(args: argparse.Namespace, *fields: str) -> dict[str, Any]:
    """The StackConfig `fields` whose options were given (each option's dest is its field's name)."""
    return {field: getattr(args, field) for field in fields if getattr(args, field) is not None}


def _apply_stack_options(args: argparse.Namespace, values: dict[str, Any]) -> dict[str, Any]:
    if args.catalog is not None:
        values["catalog_file"] = args.catalog
    if args.block_time is not None:
        values["block_time"] = args.block_time
    if args.indexer_lag is not None:
        values["indexer_lag_seconds"] = args.indexer_lag
    if args.payment_timeout is not None:
        values["payment_timeout_seconds"] = args.payment_timeout
    return values


def cmd_up(args: argparse.Namespace) -> int:
    values = _given(
        args, "host", "api_port", "lambda_port", "algod_port", "indexer_port", "agents_base_port", "data_dir"
    )
    if args.sweep_interval is not None:
        values["sweep_interval_seconds"] = args.sweep_interval or None  # 0: never
    config = StackConfig(**_apply_stack_options(args, {**values, "access_log": True}))
    stack = LocalStack(config)
    # The web pages (frontend/dist) from the same server, when built; the API's routes come first.
    with_pages = site_built()
    if with_pages:
        stack.fallback = frontend_for(stack)
    # A failed or cancelled run: one line in words (the execution watch tells when one ends).
    from devstack.demo import ended_line
    from devstack.logs import TerminalLogging

    stack.on_workflow_ended = lambda workflow: print(ended_line(workflow), flush=True)
    logs = TerminalLogging(config.data_dir / LOG_FILE, access_log=True)
    try:
        stack.start()
    except PortClash as exc:
        logs.close()
        print(f"orch up: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        logs.close()
        print(f"orch up: could not start the local stack: {exc} (is another stack running?)", file=sys.stderr)
        return 1
    print("The local stack is up.\n")
    print(stack.describe())
    print(f"log             {config.data_dir / LOG_FILE}   (the full records behind warnings and errors)")
    if with_pages:
        print(
            f"\nWeb pages:  {stack.api_url}/orchestrator\n"
            "  (wallet: Mnemonic; paste one of the dev account mnemonics above when it asks)"
        )
    else:
        print("\nThe web pages are not built: run `make frontend` (Node 20.19+ and npm), then restart.")
    print(f"\nTry:  curl -s {stack.api_url}/api/health\nCtrl-C stops the stack.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
        logs.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from devstack.demo import WorkflowDriver
    from devstack.logs import TerminalLogging
    from devstack.wallet import DevWallet

    quiet = args.json

    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    started = time.monotonic()
    # The log's full records: in --data-dir, else in a temp file kept only if something was logged.
    if args.data_dir is not None:
        log_path, keep_log = args.data_dir / LOG_FILE, True
    else:
        handle, name = tempfile.mkstemp(prefix="orch-demo-", suffix=".log")
        os.close(handle)
        log_path, keep_log = Path(name), False
    logs = TerminalLogging(log_path)
    try:
        with tempfile.TemporaryDirectory(prefix="orch-demo-") as tmp:
            data_dir = Path(tmp) if args.data_dir is None else args.data_dir
            values = _apply_stack_options(
                args,
                dict(
                    persist_ledger=False,
                    payment_timeout_seconds=DEMO_PAYMENT_TIMEOUT,
                    failing_agents=list(args.fail_agent or []),
                    **_given(args, "algod_port", "indexer_port"),
                ),
            )
            if args.dev_funds is not None:
                values["dev_account_funds_microalgo"] = round(args.dev_funds * 1_000_000)
            config = StackConfig.ephemeral(data_dir, **values)
            say("starting the local stack…")
            try:
                stack = LocalStack(config).start()
            except PortClash as exc:
                print(f"orch demo: {exc.message}", file=sys.stderr)
                return 1
            try:
                planner = planner_description()
                say(f"local stack up in {time.monotonic() - started:.1f}s (API {stack.api_url})")
                say(f"planner: {planner}")
                account = stack.dev_accounts[0]
                wallet = DevWallet(account.address, account.private_key, stack.algod_url)
                assert stack.issuer is not None
                token = stack.issuer.mint_token(
                    DEV_USER_ID, DEV_USER_EMAIL, expires_in=int(args.timeout) + 600
                )
                driver = WorkflowDriver(stack.api_url, wallet, say=say, token=token)
                say(f'request: "{args.message}"')
                try:
                    result = driver.run(
                        args.message, timeout_seconds=args.timeout, cancel_at_step=args.cancel_at_step
                    )
                finally:
                    driver.close()
            finally:
                stack.stop()
    finally:
        logs.close()
        if not keep_log and not logs.warnings_logged:
            log_path.unlink(missing_ok=True)
    result = result.model_copy(update={"planner": planner})
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        _print_result(result)
    return 0 if result.status == "completed" else 1


def cmd_token(args: argparse.Namespace) -> int:
    """Print a token signed with the data dir's key, for the issuer `orch up` recorded there (or, if
    no stack ran there yet, the one it has with its default address)."""
    issuer = LocalIssuer.load_or_create(
        args.data_dir or DEFAULTS.data_dir,
        default_issuer=f"http://{DEFAULTS.host}:{DEFAULTS.api_port}{ISSUER_PATH}",
    )
    email = args.email if args.email is not None else (DEV_USER_EMAIL if args.user == DEV_USER_ID else None)
    print(issuer.mint_token(args.user, email, expires_in=args.expires_in))
    return 0


def _print_result(result: Any) -> None:
    from devstack.demo import paid_line

    print()
    if result.workflow_id is None:
        print(f"the request was {result.status}: {result.error.get('code')}: {result.error.get('message')}")
        print(f"planner: {result.planner}")
        print(paid_line(result.paid))
        return
    print(f"workflow {result.workflow_id}: {result.status}  ({result.elapsed_seconds:.1f}s)")
    print(f"planner: {result.planner}")
    if result.stopped:
        print(result.stopped)
    for line in result.failures:
        print(line)
    print(paid_line(result.paid))
    for step in result.steps:
        print(f"\nstep {step.step_number}: {step.agent_name} — {step.status}")
        if step.txn_ids:
            print(f"  paid: {', '.join(step.txn_ids)} (confirmed in round {step.confirmed_round})")
        if step.output is not None:
            print("  output: " + json.dumps(step.output, indent=2).replace("\n", "\n  "))
    if result.final_output is not None:
        print("\nfinal output:\n" + json.dumps(result.final_output, indent=2))


def build_parser() -> argparse.ArgumentParser:
    """`orch`'s options; every option's help ends with its default."""
    from devstack.agents.catalog import SAMPLE_AGENTS

    parser = argparse.ArgumentParser(prog="orch", description="The orchestrator's local stack.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser(
        "up", help="serve the local stack on loopback until Ctrl-C", description="Serve the local stack."
    )
    up.add_argument("--host", help=f"the address every part listens on (default: {DEFAULTS.host})")
    up.add_argument("--api-port", type=int, help=f"the HTTP API and web pages (default: {DEFAULTS.api_port})")
    up.add_argument(
        "--lambda-port",
        type=int,
        help=f"the Lambda Invoke endpoint the state machine calls (default: {DEFAULTS.lambda_port})",
    )
    up.add_argument("--algod-port", type=int, help=f"the dev ledger's algod (default: {DEFAULTS.algod_port})")
    up.add_argument(
        "--indexer-port", type=int, help=f"the dev ledger's indexer (default: {DEFAULTS.indexer_port})"
    )
    up.add_argument(
        "--agents-port",
        type=int,
        dest="agents_base_port",
        metavar="AGENTS_PORT",
        help="first port of the sample agents, one port each from there "
        f"(default: {DEFAULTS.agents_base_port})",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        help=f"where state and the log survive restarts (default: {DEFAULTS.data_dir})",
    )
    up.add_argument(
        "--sweep-interval",
        type=float,
        help="seconds between runs of the sweep that repairs stuck workflows "
        f"(0: never; default: {DEFAULTS.sweep_interval_seconds:g})",
    )
    _stack_options(up, payment_timeout=DEFAULTS.payment_timeout_seconds)
    up.set_defaults(func=cmd_up)

    demo = commands.add_parser(
        "demo",
        help="run one workflow end to end and print the outcome",
        description="Run one workflow on a fresh in-process stack, paying each step with a dev "
        "account; exits 0 only if the workflow completed.",
    )
    demo.add_argument(
        "--message", default=SEED_EXAMPLE, help=f'the request to plan and run (default: "{SEED_EXAMPLE}")'
    )
    demo.add_argument(
        "--json", action="store_true", help="print one JSON object, whatever the outcome (default: off)"
    )
    demo.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for the workflow (default: 180)"
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the demo's state and log here (default: a temporary directory, removed afterwards)",
    )
    demo.add_argument("--algod-port", type=int, help="dev ledger algod port (default: any free port)")
    demo.add_argument("--indexer-port", type=int, help="dev ledger indexer port (default: any free port)")
    demo.add_argument(
        "--dev-funds",
        type=float,
        metavar="ALGO",
        help="what each dev account holds at the start, in ALGO (default: "
        f"{DEFAULTS.dev_account_funds_microalgo // 1_000_000})",
    )
    demo.add_argument(
        "--fail-agent",
        action="append",
        choices=[spec.slug for spec in SAMPLE_AGENTS],
        metavar="SLUG",
        help="a sample agent whose jobs fail, to see a failed run; repeatable; one of "
        f"{', '.join(spec.slug for spec in SAMPLE_AGENTS)} (default: none)",
    )
    demo.add_argument(
        "--cancel-at-step",
        type=int,
        metavar="N",
        help="cancel the workflow when step N asks for payment, as a person pressing Cancel (default: never)",
    )
    _stack_options(demo, payment_timeout=DEMO_PAYMENT_TIMEOUT)
    demo.set_defaults(func=cmd_demo)

    token = commands.add_parser(
        "token",
        help="print an access token for a local user",
        description="Prints a Supabase-like access token signed with the key `orch up` uses for the "
        "same data dir; send it as `Authorization: Bearer <token>`.",
    )
    token.add_argument("--user", default=DEV_USER_ID, help=f"the user id (sub) (default: {DEV_USER_ID})")
    token.add_argument(
        "--email",
        default=None,
        help=f"the email claim (default: {DEV_USER_EMAIL} for the default user, else none)",
    )
    token.add_argument(
        "--expires-in", type=int, default=3600, help="seconds the token is valid (default: 3600)"
    )
    token.add_argument("--data-dir", type=Path, help=f"the stack's data dir (default: {DEFAULTS.data_dir})")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
