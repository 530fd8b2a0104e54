"""The one place where adapters are chosen from configuration.

Domain code receives a `Dependencies` bundle and never asks whether it runs in AWS or locally.
Each adapter is created lazily, once per process (Lambda container), on first use.

Handlers never call `get_dependencies()` themselves: an HTTP route takes its bundle as a parameter,
`deps: Annotated[Dependencies, Depends(get_dependencies)]` (Powertools resolves it), and a task or
scheduled handler asks its `app` (`dependencies_of(app)`, `TaskApp.dependencies()`). Either way a
test installs its own bundle in `app.dependency_overrides[get_dependencies]` instead of changing the
one the process shares (`Dependencies(settings, planner=...)`, `deps.with_overrides(planner=...)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, overload

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

_Built = TypeVar("_Built")


class _adapter(cached_property[_Built]):  # lower case: a decorator, as cached_property is
    """An adapter of the bundle: the one given to the constructor, else the one of the bundle it was
    derived from (`with_overrides`), else built from the settings on first use, once."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> _Built: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> Self | _Built:
        if isinstance(instance, Dependencies) and instance._derived_from is not None:
            name = self.attrname or ""
            if name not in instance.__dict__:  # shared, never built twice
                instance.__dict__[name] = getattr(instance._derived_from, name)
        return super().__get__(instance, owner)


class Dependencies:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        *,
        store: Store | None = None,
        planner: Planner | None = None,
        engine: Engine | None = None,
        agents: AgentClient | None = None,
        metrics: WorkflowMetrics | None = None,
        chain: ChainVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep  # use cases that wait (a long poll) sleep through it: tests pass a fake
        self._derived_from: Dependencies | None = None
        given = dict(store=store, planner=planner, engine=engine, agents=agents, metrics=metrics, chain=chain)
        # What the adapters below read first (as cached_property does): the given ones are never built.
        self.__dict__.update({name: adapter for name, adapter in given.items() if adapter is not None})

    def with_overrides(
        self,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
        store: Store | None = None,
        planner: Planner | None = None,
        engine: Engine | None = None,
        agents: AgentClient | None = None,
        metrics: WorkflowMetrics | None = None,
        chain: ChainVerifier | None = None,
    ) -> Dependencies:
        """A new bundle with these adapters (and settings, clock, sleep); every other adapter is this
        bundle's, shared (built once, from this bundle's settings, by whichever bundle asks first).
        This bundle does not change."""
        derived = Dependencies(
            self.settings if settings is None else settings,
            self.clock if clock is None else clock,
            self.sleep if sleep is None else sleep,
            store=store,
            planner=planner,
            engine=engine,
            agents=agents,
            metrics=metrics,
            chain=chain,
        )
        derived._derived_from = self
        return derived

    @_adapter
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

    @_adapter
    def planner(self) -> Planner:
        from orchestrator.planner import planner_from_settings

        return planner_from_settings(self.settings)

    @_adapter
    def engine(self) -> Engine:
        from orchestrator.engine import StepFunctionsEngine

        return StepFunctionsEngine(self.settings.state_machine_arn, self.settings.aws_region)

    @_adapter
    def agents(self) -> AgentClient:
        from orchestrator.agents import HttpAgentClient

        return HttpAgentClient(
            timeout_seconds=self.settings.agent_timeout_seconds,
            retries=self.settings.agent_retries,
            url_template=self.settings.agent_url_template,
        )

    @_adapter
    def metrics(self) -> WorkflowMetrics:
        """CloudWatch EMF through Powertools; prints nothing when POWERTOOLS_METRICS_DISABLED is set."""
        from orchestrator.observability import EmfMetrics

        return EmfMetrics()

    @_adapter
    def chain(self) -> ChainVerifier:
        from orchestrator.payments.verification import chain_verifier_from_settings

        return chain_verifier_from_settings(self.settings)


@lru_cache(maxsize=1)
def get_dependencies() -> Dependencies:
    """The production provider: one bundle per process, from the environment's settings."""
    return Dependencies(get_settings())


class OverridableApp(Protocol):
    """A function's app: a Powertools resolver, or a `TaskApp`. `dependency_overrides` maps a
    provider (`get_dependencies`) to the one to call instead, as Powertools' `Depends` reads it."""

    dependency_overrides: dict[Callable[..., Any], Callable[..., Any]]


def dependencies_of(app: OverridableApp) -> Dependencies:
    """The bundle the handlers of `app` get: the override installed for it, else get_dependencies()."""
    provider: Callable[[], Dependencies] = app.dependency_overrides.get(get_dependencies, get_dependencies)
    return provider()


class TaskApp:
    """The app of a function without HTTP routes (a state-machine task, a scheduled or event-driven
    job): where its handler gets its Dependencies, overridable as a resolver's routes are."""

    def __init__(self) -> None:
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}

    def dependencies(self) -> Dependencies:
        return dependencies_of(self)


def reset_dependencies() -> None:
    """Forget cached settings and adapters (the local stack calls this after changing the environment)."""
    get_dependencies.cache_clear()
    get_settings.cache_clear()
