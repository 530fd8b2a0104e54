"""Serve one marketplace agent built with the marketplace's own SDK, orca-agent-sdk, unmodified.

Runs in the agents' venv (`make sdk-agents`; pins in requirements.txt beside this file), never in
the project's, and imports nothing of the project:

    .venv-agents/bin/python devstack/sdk_agents/run_agent.py --handler summarize \\
        --agent-id sdk-summarizer --receiver ADDRESS --price 200000 --app-id 1101 \\
        --algod-url http://127.0.0.1:4001 --indexer-url http://127.0.0.1:8980 --port 0

It prints one line, `listening on http://HOST:PORT`, once the port is bound (port 0: any free
one), and serves until SIGTERM or Ctrl-C. Two deterministic handlers, `handler(job_input) -> str`
as the SDK calls them, make a two-step workflow: `summarize` (the first sentence and a word count)
and `word-stats` (sentiment by a small word list, counts, the most frequent words), which is meant
to be fed the first one's output.

Two more make a paid job fail, for the tests of what the orchestrator does then: `flaky` raises the
first time it runs a given input and echoes it on every later run; `always-fail` raises every time.
Both count their runs per input (sha256) in `<db>.runs.json` next to the SDK's SQLite file (the SDK
runs each job in a thread of this one process). So does `slow`, which sleeps `--slow-seconds`
(default: `$SLOW_HANDLER_SECONDS`, else 3) before it echoes the input: a job that is still running
when the agent is killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orca_agent_sdk import AgentConfig, AgentServer
from werkzeug.serving import make_server

WORD = re.compile(r"[A-Za-z0-9']+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
POSITIVE = frozenset({"good", "great", "happy", "love", "better", "best", "nice", "calm", "glad", "enjoy"})
NEGATIVE = frozenset(
    {"bad", "terrible", "awful", "sad", "hate", "worst", "pain", "headache", "sick", "tired"}
)
COMMON = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "but", "for", "in", "is", "it", "of", "the", "to"}
)


def summarize(job_input: str) -> str:
    """The first sentence of the text and how many words the text has."""
    text = " ".join(job_input.split())
    first = SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    return f"Summary: {first} ({len(WORD.findall(text))} words)"


def word_stats(job_input: str) -> str:
    """Sentiment (positive minus negative words of a small list), counts and the most frequent words."""
    words = [word.lower() for word in WORD.findall(job_input)]
    score = sum(word in POSITIVE for word in words) - sum(word in NEGATIVE for word in words)
    mood = "positive" if score > 0 else "negative" if score < 0 else "neutral"
    counts = Counter(word for word in words if word not in COMMON and not word.isdigit())
    top = ", ".join(f"{word}({n})" for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    return (
        f"Sentiment: {mood} ({score:+d}); words: {len(words)}, distinct: {len(set(words))}; top: {top or '-'}"
    )


HANDLERS: dict[str, Callable[[str], str]] = {"summarize": summarize, "word-stats": word_stats}


class HandlerFailed(RuntimeError):
    """What `flaky` and `always-fail` raise: the SDK then marks the job `failed`."""


class RunCounter:
    """How many times each input was run, by its sha256, in a JSON file (written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @staticmethod
    def key(job_input: str) -> str:
        return hashlib.sha256(job_input.encode()).hexdigest()

    def runs(self) -> dict[str, int]:
        try:
            return {str(k): int(v) for k, v in json.loads(self.path.read_text()).items()}
        except FileNotFoundError:
            return {}

    def count(self, job_input: str) -> int:
        """Count one more run of `job_input`; the runs so far, this one included."""
        with self._lock:
            runs = self.runs()
            key = self.key(job_input)
            runs[key] = runs.get(key, 0) + 1
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(runs, indent=2, sort_keys=True))
            os.replace(temporary, self.path)
            return runs[key]


def flaky(counter: RunCounter) -> Callable[[str], str]:
    """Raises on the first run of each input; echoes it (and the run) on every later one."""

    def handler(job_input: str) -> str:
        run = counter.count(job_input)
        if run == 1:
            raise HandlerFailed(f"flaky: the first run of this input fails (run {run})")
        return f"Echo (run {run}): {' '.join(job_input.split())}"

    return handler


def always_fail(counter: RunCounter) -> Callable[[str], str]:
    """Raises on every run."""

    def handler(job_input: str) -> str:
        raise HandlerFailed(f"always-fail: run {counter.count(job_input)} fails like every run")

    return handler


def slow(counter: RunCounter, seconds: float) -> Callable[[str], str]:
    """Counts the run, sleeps `seconds`, then echoes the input (and the run)."""

    def handler(job_input: str) -> str:
        run = counter.count(job_input)
        time.sleep(seconds)
        return f"Echo (run {run}, after {seconds:g}s): {' '.join(job_input.split())}"

    return handler


# Handlers that keep state next to the SDK's db: built from a RunCounter at start.
COUNTING_HANDLERS: dict[str, Callable[[RunCounter], Callable[[str], str]]] = {
    "flaky": flaky,
    "always-fail": always_fail,
}
DEFAULT_SLOW_SECONDS = 3.0


def runs_path(db_path: str | Path) -> Path:
    """Where the counting handlers keep their runs: `<db>.runs.json` beside the SDK's SQLite file."""
    db = Path(db_path)
    return db.with_name(db.name + ".runs.json")


def make_handler(name: str, db_path: str | Path, slow_seconds: float | None = None) -> Callable[[str], str]:
    if name == "slow":
        if slow_seconds is None:
            slow_seconds = float(os.environ.get("SLOW_HANDLER_SECONDS") or DEFAULT_SLOW_SECONDS)
        return slow(RunCounter(runs_path(db_path)), slow_seconds)
    if name in COUNTING_HANDLERS:
        return COUNTING_HANDLERS[name](RunCounter(runs_path(db_path)))
    return HANDLERS[name]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve one orca-agent-sdk AgentServer.")
    parser.add_argument("--handler", choices=sorted([*HANDLERS, *COUNTING_HANDLERS, "slow"]), required=True)
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=None,
        help=f"how long `slow` sleeps (default: $SLOW_HANDLER_SECONDS, else {DEFAULT_SLOW_SECONDS:g})",
    )
    parser.add_argument("--agent-id", required=True)
    parser.add_argument("--receiver", required=True, help="the Algorand address the agent is paid at")
    parser.add_argument("--price", type=int, required=True, help="µAlgo per job")
    parser.add_argument("--app-id", type=int, required=True, help="the app its pay(pay)void call names")
    parser.add_argument("--algod-url", required=True)
    parser.add_argument("--algod-token", default="")
    parser.add_argument("--indexer-url", required=True)
    parser.add_argument("--indexer-token", default="")
    parser.add_argument("--db", default="agent_local.db", help="the SDK's SQLite file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--agent-token", default=None, help="X-Agent-Token for pushes (default: no push)")
    parser.add_argument("--remote-server-url", default="", help="where the SDK pushes (default: nowhere)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = AgentConfig(
        agent_id=args.agent_id,
        receiver_address=args.receiver,
        price_microalgos=args.price,
        agent_token=args.agent_token,
        algod_url=args.algod_url,
        algod_token=args.algod_token,
        indexer_url=args.indexer_url,
        indexer_token=args.indexer_token,
        app_id=args.app_id,
        db_path=args.db,
        remote_server_url=args.remote_server_url,
    )
    agent: Any = AgentServer(config, make_handler(args.handler, args.db, args.slow_seconds))
    server = make_server(args.host, args.port, agent.app, threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
