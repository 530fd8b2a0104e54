"""`orch`: the local stack's command line.

orch up     serve the whole stack on loopback until Ctrl-C
orch demo   run one workflow end to end on an in-process stack and print what happened
orch token  print an access token for a local user (the stack's JWT authorizer wants one)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from devstack.auth import DEV_USER_EMAIL, DEV_USER_ID, ISSUER_PATH, LocalIssuer
from devstack.frontend import frontend_for, site_built
from devstack.stack import LocalStack, StackConfig

SEED_EXAMPLE = "I have a headache and runny nose and want a movie recommendation"
# The defaults of the options below are StackConfig's: an option not given is not passed on.
DEFAULTS = StackConfig()


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog", type=Path, help="JSON list of agent records replacing the sample catalog"
    )
    parser.add_argument("--block-time", type=float, default=None, help="seconds between dev ledger rounds")
    parser.add_argument("--indexer-lag", type=float, default=None, help="seconds the dev indexer lags algod")
    parser.add_argument("--payment-timeout", type=int, default=None, help="seconds a step waits for payment")


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
    stack = LocalStack(StackConfig(**_apply_stack_options(args, {**values, "access_log": True})))
    # The web pages (frontend/dist) from the same server, when built; the API's routes come first.
    with_pages = site_built()
    if with_pages:
        stack.fallback = frontend_for(stack)
    try:
        stack.start()
    except OSError as exc:
        print(f"orch up: could not start the local stack: {exc} (is another stack running?)", file=sys.stderr)
        return 1
    print("The local stack is up.\n")
    print(stack.describe())
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
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from devstack.demo import WorkflowDriver
    from devstack.wallet import DevWallet

    quiet = args.json
    say = (lambda line: None) if quiet else (lambda line: print(line, flush=True))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="orch-demo-") as tmp:
        data_dir = Path(tmp) if args.data_dir is None else args.data_dir
        values = _apply_stack_options(
            args,
            dict(
                persist_ledger=False,
                payment_timeout_seconds=120,
                **_given(args, "algod_port", "indexer_port"),
            ),
        )
        config = StackConfig.ephemeral(data_dir, **values)
        say("starting the local stack…")
        with LocalStack(config) as stack:
            say(f"local stack up in {time.monotonic() - started:.1f}s (API {stack.api_url})")
            account = stack.dev_accounts[0]
            wallet = DevWallet(account.address, account.private_key, stack.algod_url)
            assert stack.issuer is not None
            token = stack.issuer.mint_token(DEV_USER_ID, DEV_USER_EMAIL, expires_in=int(args.timeout) + 600)
            driver = WorkflowDriver(stack.api_url, wallet, say=say, token=token)
            say(f'request: "{args.message}"')
            try:
                result = driver.run(args.message, timeout_seconds=args.timeout)
            finally:
                driver.close()
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
    print()
    print(f"workflow {result.workflow_id}: {result.status}  ({result.elapsed_seconds:.1f}s)")
    if result.error:
        print(f"error: {result.error.get('code')}: {result.error.get('message')}")
    print(f"total cost: {result.total_cost_microalgo} µAlgo")
    for step in result.steps:
        print(f"\nstep {step.step_number}: {step.agent_name} — {step.status}")
        if step.txn_ids:
            print(f"  paid: {', '.join(step.txn_ids)} (confirmed in round {step.confirmed_round})")
        if step.error:
            print(f"  error: {step.error.get('code')}: {step.error.get('message')}")
        if step.output is not None:
            print("  output: " + json.dumps(step.output, indent=2).replace("\n", "\n  "))
    if result.final_output is not None:
        print("\nfinal output:\n" + json.dumps(result.final_output, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orch", description="The orchestrator's local stack.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="serve the local stack on loopback until Ctrl-C")
    up.add_argument("--host", help=f"default {DEFAULTS.host}")
    up.add_argument("--api-port", type=int, help=f"default {DEFAULTS.api_port}")
    up.add_argument("--lambda-port", type=int, help=f"default {DEFAULTS.lambda_port}")
    up.add_argument("--algod-port", type=int, help=f"default {DEFAULTS.algod_port}")
    up.add_argument("--indexer-port", type=int, help=f"default {DEFAULTS.indexer_port}")
    up.add_argument(
        "--agents-port",
        type=int,
        dest="agents_base_port",
        metavar="AGENTS_PORT",
        help=f"first port of the sample agents (default {DEFAULTS.agents_base_port})",
    )
    up.add_argument(
        "--data-dir", type=Path, help=f"where state survives restarts (default {DEFAULTS.data_dir})"
    )
    up.add_argument(
        "--sweep-interval",
        type=float,
        help="seconds between runs of the sweep that repairs stuck workflows "
        f"(0: never; default {DEFAULTS.sweep_interval_seconds:g})",
    )
    _stack_options(up)
    up.set_defaults(func=cmd_up)

    demo = commands.add_parser("demo", help="run one workflow end to end and print the outcome")
    demo.add_argument("--message", default=SEED_EXAMPLE, help="the request to plan and run")
    demo.add_argument("--json", action="store_true", help="print one JSON object, whatever the outcome")
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the workflow")
    demo.add_argument(
        "--data-dir", type=Path, default=None, help="keep the demo's state here (default: temp)"
    )
    demo.add_argument("--algod-port", type=int, help="dev ledger algod port (default: any free)")
    demo.add_argument("--indexer-port", type=int, help="dev ledger indexer port (default: any free)")
    _stack_options(demo)
    demo.set_defaults(func=cmd_demo)

    token = commands.add_parser(
        "token",
        help="print an access token for a local user",
        description="Prints a Supabase-like access token signed with the key `orch up` uses for the "
        "same data dir; send it as `Authorization: Bearer <token>`.",
    )
    token.add_argument("--user", default=DEV_USER_ID, help=f"the user id (sub); default {DEV_USER_ID}")
    token.add_argument("--email", default=None, help="the email claim")
    token.add_argument("--expires-in", type=int, default=3600, help="seconds the token is valid")
    token.add_argument("--data-dir", type=Path, help=f"the stack's data dir (default {DEFAULTS.data_dir})")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
