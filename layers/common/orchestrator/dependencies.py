"""The one place where adapters are chosen from configuration.

Domain code receives a `Dependencies` bundle and never asks whether it runs in AWS or locally.
Each adapter is created lazily, once per process (Lambda container), on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from orchestrator.config import ConfigError, Settings, get_settings
from orchestrator.models import utcnow

if TYPE_CHECKING:
    from orchestrator.agents import AgentClient
    from orchestrator.engine import Engine
    from orchestrator.observability import WorkflowMetrics
    from orchestrator.payments.verification import ChainVerifier
    from orchestrator.planner import Planner
    from orchestrator.store import Store


# The time now (UTC) as the use cases read it: tests pass a clock they move.
Clock = Callable[[], datetime]


class Dependencies:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep  # use cases that wait (a long poll) sleep through it: tests pass a fake

    @cached_property
    def store(self) -> Store:
        if self.settings.store_backend == "sqlite":
            from orchestrator.store.sqlite import SQLiteStore

            return SQLiteStore(self.settings.sqlite_path)
        if self.settings.store_backend == "supabase":
            from orchestrator.secrets import resolve_secret
            from orchestrator.store.supabase import SupabaseStore

            key = resolve_secret(
                self.settings.supabase_service_role_key,
                self.settings.supabase_service_role_key_parameter,
                what="Supabase service role key",
            )
            return SupabaseStore(
                self.settings.supabase_url or "", key or "", self.settings.supabase_timeout_seconds
            )
        raise ConfigError(f"store backend {self.settings.store_backend!r} is not available in this build")

    @cached_property
    def planner(self) -> Planner:
        from orchestrator.planner import planner_from_settings

        return planner_from_settings(self.settings)

    @cached_property
    def engine(self) -> Engine:
        from orchestrator.engine import StepFunctionsEngine

        return StepFunctionsEngine(self.settings.state_machine_arn, self.settings.aws_region)

    @cached_property
    def agents(self) -> AgentClient:
        from orchestrator.agents import HttpAgentClient

        return HttpAgentClient(
            timeout_seconds=self.settings.agent_timeout_seconds,
            retries=self.settings.agent_retries,
            url_template=self.settings.agent_url_template,
        )

    @cached_property
    def metrics(self) -> WorkflowMetrics:
        """CloudWatch EMF through Powertools; prints nothing when POWERTOOLS_METRICS_DISABLED is set."""
        from orchestrator.observability import EmfMetrics

        return EmfMetrics()

    @cached_property
    def chain(self) -> ChainVerifier:
        from orchestrator.payments.verification import chain_verifier_from_settings

        return chain_verifier_from_settings(self.settings)


@lru_cache(maxsize=1)
def get_dependencies() -> Dependencies:
    return Dependencies(get_settings())


def reset_dependencies() -> None:
    """Forget cached settings and adapters (the local stack calls this after changing the environment)."""
    get_dependencies.cache_clear()
    get_settings.cache_clear()
