"""Fixtures of the use-case tests: a world of fakes (tests/builders.py `world`) and its agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orchestrator.models import AgentMetadata

from tests.builders import SUMMARIZER, TRANSLATOR, World, hireable_agent, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    fakes = world(tmp_path)
    yield fakes
    fakes.close()


@pytest.fixture
def paid_agent(w: World) -> AgentMetadata:
    """An agent that charges: its group pays its price to its address and calls its app."""
    return w.add_agents(hireable_agent(SUMMARIZER, "Summarizer"))[0]


@pytest.fixture
def free_agent(w: World) -> AgentMetadata:
    """An agent that charges nothing: no group, its job runs at once."""
    return w.add_agents(hireable_agent(TRANSLATOR, "Translator", price=0))[0]
