"""When the state machine looks at a running job again: a pure function of how long the job has run.

Every look costs one state transition (the WatchJob task re-entered after its timeout) and one
Lambda call; a change of the interval costs two more (the task completes, a Choice and the task
again). So the interval is short and flat while most jobs end (the first minute: a job is noticed
at most `fast_seconds` after it ends, and the seed's page looked every 3 s), then doubles at a few
fixed points, keeping the lateness under about a tenth of the job's length, up to `max_seconds`.
Agents that push their completion are noticed at once whatever this says (services/agent_push.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PollSchedule:
    fast_seconds: int = 2  # the interval during the first `fast_window_seconds` of a job
    fast_window_seconds: int = 60
    max_seconds: int = 30
    # After the window the interval is the largest `fast_seconds * 2**k` at most this share of the
    # job's age, so a 10-minute job is noticed within a minute of its end, at a few transitions a minute.
    growth: float = 0.1

    def __post_init__(self) -> None:
        if self.fast_seconds < 1 or self.max_seconds < 1 or self.fast_window_seconds < 0 or self.growth < 0:
            raise ValueError(f"inconsistent poll schedule: {self}")

    def wait_seconds(self, job_age_seconds: float, *, remaining_seconds: float | None = None) -> int:
        """Seconds until the next look at a job that has run `job_age_seconds` (≥ 1; never past the
        poll deadline `remaining_seconds` away, so the deadline is enforced on time)."""
        wait = min(self.fast_seconds, self.max_seconds)
        if job_age_seconds >= self.fast_window_seconds:
            target = min(job_age_seconds * self.growth, self.max_seconds)
            while wait * 2 <= target:
                wait *= 2
            if target >= self.max_seconds:
                wait = self.max_seconds
        if remaining_seconds is not None:
            wait = min(wait, max(1, int(remaining_seconds) + 1))
        return max(1, wait)
