"""What a person may browse: the agents they can hire (GET /api/agents) and their own workflows, newest
first, a page at a time (GET /api/workflows).

A page's `next_cursor` is opaque to clients: URL-safe base64 of the last listed workflow's position
(its creation time and id), from which the next page goes on. A cursor this API did not give out is
refused (400 BadRequest naming `cursor`)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from orchestrator.catalog import check_catalog
from orchestrator.dependencies import Dependencies
from orchestrator.errors import BadRequest
from orchestrator.models import WorkflowPosition
from orchestrator.schemas.api import (
    DEFAULT_LIST_LIMIT,
    AgentCard,
    AgentList,
    WorkflowList,
    WorkflowSummary,
    workflow_id_in_path,
)

MAX_CURSOR_CHARS = 256


def list_agents(deps: Dependencies) -> AgentList:
    """The agents a plan can use (active, and with what hiring and paying them needs), by name."""
    hireable = check_catalog(
        deps.store.list_agents(active_only=True), url_template=deps.settings.agent_url_template
    ).hireable
    cards = [
        AgentCard(
            id=agent.id,
            name=agent.name,
            description=agent.description,
            price_microalgo=agent.price,
            tags=agent.tags,
            data_input=agent.data_input,
            example_input=agent.example_input,
        )
        for agent in hireable
    ]
    return AgentList(agents=sorted(cards, key=lambda card: (card.name.casefold(), card.name, card.id)))


def encode_cursor(position: WorkflowPosition) -> str:
    created_at, workflow_id = position
    text = json.dumps(
        {"created_at": created_at.isoformat(), "workflow_id": workflow_id}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> WorkflowPosition:
    """The position a cursor names, or BadRequest."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
        created_at = datetime.fromisoformat(data["created_at"])
        workflow_id = workflow_id_in_path(data["workflow_id"])
        if created_at.tzinfo is None or workflow_id is None:
            raise ValueError("not a position")
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "The cursor is not one this API gave out: ask for the first page again, without a cursor.",
            details=[{"field": "cursor", "problem": "is not a cursor this API gave out"}],
        ) from exc
    return created_at, workflow_id


def list_workflows(
    deps: Dependencies, user_id: str, *, limit: int = DEFAULT_LIST_LIMIT, cursor: str | None = None
) -> WorkflowList:
    """A page of the caller's workflows, newest first, and the cursor of the next page (None on the
    last). One extra row is read to know whether there is a next page."""
    after = decode_cursor(cursor) if cursor is not None else None
    headers = deps.store.list_user_workflows(user_id, limit=limit + 1, after=after)
    page = headers[:limit]
    next_cursor = encode_cursor((page[-1].created_at, page[-1].workflow_id)) if len(headers) > limit else None
    return WorkflowList(
        workflows=[WorkflowSummary.model_validate(header.model_dump(exclude={"user_id"})) for header in page],
        next_cursor=next_cursor,
    )
