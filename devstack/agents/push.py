"""What a sample agent pushes, as the marketplace's SDK (orca-agent-sdk 0.1.8) does: after a verified
payment and when the job completed, a POST to the configured URL with the agent's secret in
`X-Agent-Token` and the body `{user_id, wallet_address, job_id, agent_id, access_token,
job_input_hash, job_output}`, where `job_output` is `""` after the payment and the JSON text
`{"result": <output>, "status": "completed"}` at completion. The SDK pushes only on success; so do
the samples. A push that fails is dropped (as the SDK does): the orchestrator still polls."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.agents.jobs import Job

log = logging.getLogger(__name__)

PUSH_TIMEOUT_SECONDS = 10.0  # the SDK's


@dataclass(frozen=True)
class PushTarget:
    url: str  # e.g. http://127.0.0.1:3000/api/agent/access
    agent_token: str


class Pusher:
    """Sends one agent's pushes in the background (an agent's answers never wait for them)."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.target: PushTarget | None = None
        self.sent = 0  # pushes answered 2xx: what tests and benches read

    def payment_verified(self, job: Job) -> None:
        self._send(job, job_output="")

    def completed(self, job: Job) -> None:
        output = job.output if isinstance(job.output, str) else json.dumps(job.output)
        self._send(job, job_output=json.dumps({"result": output, "status": "completed"}))

    def _send(self, job: Job, *, job_output: str) -> None:
        target = self.target
        if target is None:
            return
        body: dict[str, Any] = {
            "user_id": job.sender,
            "wallet_address": job.sender,
            "job_id": job.job_id,
            "agent_id": self.agent_id,
            "access_token": job.access_token or "",
            "job_input_hash": hashlib.sha256(job.job_input.encode()).hexdigest(),
            "job_output": job_output,
        }
        threading.Thread(
            target=self._post, args=(target, body), name=f"push-{job.job_id}", daemon=True
        ).start()

    def _post(self, target: PushTarget, body: dict[str, Any]) -> None:
        try:
            response = httpx.post(
                target.url,
                json=body,
                headers={"X-Agent-Token": target.agent_token},
                timeout=PUSH_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            log.info("push of job %s to %s failed: %s", body["job_id"], target.url, exc)
            return
        if response.is_success:
            self.sent += 1
        else:
            log.info(
                "push of job %s answered %s: %s", body["job_id"], response.status_code, response.text[:200]
            )
