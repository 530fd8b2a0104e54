"""An agent's jobs: created by /start_job, released by a verified payment, run in the background."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class Job:
    job_id: str
    sender: str
    job_input: str
    txn_ids: list[str]
    price_microalgo: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: JobStatus = JobStatus.AWAITING_PAYMENT
    output: Any = None
    access_token: str | None = None  # issued once paid; "" for a free job
    confirmed_round: int | None = None
    completed_at: datetime | None = None  # when it ended (what benches measure the orchestrator from)

    def accepts(self, token: str | None) -> bool:
        if self.access_token is None:
            return False
        if self.access_token == "":
            return True  # free jobs are open to whoever knows the job id
        return token is not None and hmac.compare_digest(token.encode(), self.access_token.encode())

    def view(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": str(self.status),
            "output": self.output,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True)
class JobRunPlan:
    skill: Callable[[str], Any]
    seconds: float
    fail: bool


class JobBook:
    """The jobs of one agent, safe across the server's request threads."""

    def __init__(self, plan: JobRunPlan, on_finished: Callable[[Job], None] | None = None) -> None:
        self._plan = plan
        self._on_finished = on_finished  # called once a job has ended well (the agent's push)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.job_id] = job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def view(self, job: Job) -> dict[str, Any]:
        """The job as /job shows it, read whole (never a status without its output)."""
        with self._lock:
            return job.view()

    def release(self, job: Job, *, free: bool = False, confirmed_round: int | None = None) -> str:
        """Issue the access token and start the job; a job already released keeps its token."""
        with self._lock:
            if job.access_token is not None:
                return job.access_token
            job.access_token = "" if free else secrets.token_urlsafe(24)
            job.confirmed_round = confirmed_round
            job.status = JobStatus.QUEUED
            token = job.access_token
        threading.Thread(target=self._run, args=(job,), name=f"job-{job.job_id}", daemon=True).start()
        return token

    def stop(self) -> None:
        self._stopping.set()

    def _run(self, job: Job) -> None:
        with self._lock:
            job.status = JobStatus.RUNNING
        if self._stopping.wait(self._plan.seconds):
            return  # the agent is shutting down
        if self._plan.fail:
            status, output = JobStatus.FAILED, "Sample agent configured to fail: the job did not complete."
        else:
            try:
                status, output = JobStatus.SUCCEEDED, self._plan.skill(job.job_input)
            except Exception as exc:  # a skill bug is the job's failure, reported to the caller
                status, output = JobStatus.FAILED, f"The job failed: {type(exc).__name__}: {exc}"
        with self._lock:
            job.status, job.output, job.completed_at = status, output, datetime.now(UTC)
        if status == JobStatus.SUCCEEDED and self._on_finished is not None:
            self._on_finished(job)
