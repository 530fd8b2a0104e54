"""Start SDK agents (devstack/sdk_agents/run_agent.py in `.venv-agents`) as subprocesses, and their
marketplace records: rows of the marketplace's `agents` table plus a local `base_url`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import sqlite3
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from devstack.agents.catalog import agent_address

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AGENTS_PYTHON = PROJECT_ROOT / ".venv-agents" / "bin" / "python"
LAUNCHER = Path(__file__).resolve().with_name("run_agent.py")
LISTENING = "listening on "


def terminate(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited `grace` seconds later; returns once it has exited."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass(frozen=True)
class SdkAgentSpec:
    """One SDK agent: which handler of run_agent.py it serves, where it is paid, what it costs."""

    slug: str  # its subdomain and repo_name; its keys derive from it
    handler: str  # run_agent.py's --handler
    name: str
    description: str
    category: str
    tags: list[str]
    price_microalgo: int
    app_id: int
    data_input: str
    example_input: str
    example_output: str

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"orch-sdk-agent:{self.slug}"))

    @property
    def agent_address(self) -> str:
        """Its receiver: a deterministic dev key (seed sha256 of "orch-sdk-agent:<slug>"), never for real funds."""
        return agent_address(f"orch-sdk-agent:{self.slug}")

    @property
    def agent_token(self) -> str:
        """Its secret (the marketplace's `agents.agent_token`, the X-Agent-Token of its pushes): derived
        from the slug like its keys, a dev value only."""
        return "sdk-dev-" + hashlib.sha256(f"orch-sdk-agent-token:{self.slug}".encode()).hexdigest()[:40]

    def catalog_record(self, base_url: str) -> dict[str, Any]:
        """The row the marketplace's `agents` table would hold for it, with `base_url` for the local stack."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "subdomain": self.slug,
            "status": "active",
            "agent_address": self.agent_address,
            "app_id": self.app_id,
            "price_microalgo": self.price_microalgo,
            "category": self.category,
            "tags": list(self.tags),
            "data_input": self.data_input,
            "example_input": self.example_input,
            "example_output": self.example_output,
            "repo_owner": "0rca",
            "repo_name": self.slug,
            "github_url": f"https://github.com/0rca/{self.slug}",
            "agent_token": self.agent_token,
            "base_url": base_url,
        }


SDK_AGENTS = (
    SdkAgentSpec(
        slug="sdk-summarizer",
        handler="summarize",
        name="Text Summarizer",
        description="Summarizes a text: its first sentence and how many words it has.",
        category="Text",
        tags=["summary", "summarize", "text"],
        price_microalgo=200_000,
        app_id=1101,
        data_input="Plain text to summarise",
        example_input="The park was calm. Children played by the pond.",
        example_output="Summary: The park was calm. (9 words)",
    ),
    SdkAgentSpec(
        slug="sdk-word-stats",
        handler="word-stats",
        name="Sentiment and Word Stats",
        description="Tells the sentiment (mood) of a text and counts its words.",
        category="Text",
        tags=["sentiment", "mood", "word", "stats"],
        price_microalgo=150_000,
        app_id=1102,
        data_input="Plain text to analyse",
        example_input="A calm and happy day.",
        example_output="Sentiment: positive (+2); words: 5, distinct: 5; top: calm(1), day(1), happy(1)",
    ),
)


class SdkJob(NamedTuple):
    """One job as the SDK records it in its SQLite db (`jobs_local`)."""

    job_id: str
    job_input: str
    txn_ids: str  # the txids of the payment it accepted, comma-separated; "" before any
    status: str


@dataclass
class SdkAgentProcess:
    """One SDK agent served by run_agent.py in a subprocess; `start` returns once it listens."""

    spec: SdkAgentSpec
    algod_url: str
    indexer_url: str
    db_path: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (the agent prints the one it bound)
    log_path: Path | None = None  # its stderr (request log, tracebacks); default: next to db_path
    python: Path = AGENTS_PYTHON
    base_url: str = ""
    push_url: str = ""  # where the SDK pushes (the orchestrator's POST /api/agent/access); "": no push
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _log: IO[str] | None = field(default=None, repr=False)

    def command(self) -> list[str]:
        spec = self.spec
        return [
            str(self.python),
            str(LAUNCHER),
            *("--handler", spec.handler, "--agent-id", spec.id, "--receiver", spec.agent_address),
            *("--price", str(spec.price_microalgo), "--app-id", str(spec.app_id)),
            *("--algod-url", self.algod_url, "--indexer-url", self.indexer_url),
            *("--db", str(self.db_path), "--host", self.host, "--port", str(self.port)),
            *(
                ("--agent-token", spec.agent_token, "--remote-server-url", self.push_url)
                if self.push_url
                else ()
            ),
        ]

    def launch(self) -> None:
        """Start the process without waiting for it (several agents start in parallel; `wait` after)."""
        if not self.python.exists():
            raise FileNotFoundError(f"{self.python} is missing: run `make sdk-agents`")
        log_path = self.log_path or self.db_path.with_suffix(".log")
        self._log = log_path.open("w")
        self._process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=self.db_path.parent
        )

    def wait(self, timeout: float = 30.0) -> SdkAgentProcess:
        """Block until the agent prints that it listens; its base_url from then on."""
        process = self._process
        assert process is not None and process.stdout is not None, "launch() first"
        stdout = process.stdout
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise TimeoutError(
                f"{self.spec.slug} did not start within {timeout:g}s: {self.log_text()}"
            ) from None
        if not line.startswith(LISTENING):
            self.stop()
            raise RuntimeError(f"{self.spec.slug} did not start ({line!r}): {self.log_text()}")
        self.base_url = line[len(LISTENING) :].strip()
        return self

    def start(self, timeout: float = 30.0) -> SdkAgentProcess:
        self.launch()
        return self.wait(timeout)

    @property
    def runs_path(self) -> Path:
        """Where run_agent.py's counting handlers (`flaky`, `always-fail`, `slow`) count their runs per
        input (sha256 of the input → runs): `<db>.runs.json` beside the SDK's SQLite file."""
        return self.db_path.with_name(self.db_path.name + ".runs.json")

    def jobs(self) -> list[SdkJob]:
        """Every job the agent's SDK recorded in its db."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            rows = db.execute("SELECT job_id, job_input, txn_ids, status FROM jobs_local").fetchall()
        return [SdkJob(str(r[0]), str(r[1]), str(r[2] or ""), str(r[3])) for r in rows]

    def access_tokens(self) -> list[str]:
        """The job id of each access token the SDK issued (one per payment it accepted), oldest first."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return [str(row[0]) for row in db.execute("SELECT job_id FROM access_tokens ORDER BY id")]

    def runs(self) -> dict[str, int]:
        """A counting handler's runs per input (sha256), as run_agent.py counts them in `runs_path`."""
        path = self.runs_path
        return {k: int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text()[-4000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, grace=10)
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> SdkAgentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
