"""What a person may browse (services/catalog_view): the hireable agents by name, and their own
workflows newest first, a page at a time, with a cursor this API gave out (any other is refused)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from orchestrator.errors import BadRequest
from orchestrator.models import WorkflowStatus
from orchestrator.services.catalog_view import (
    MAX_CURSOR_CHARS,
    decode_cursor,
    encode_cursor,
    list_agents,
    list_workflows,
)

from tests.builders import OTHER_USER, USER, World, agent_metadata, hireable_agent, planned_workflow, world


def test_the_hireable_agents_are_listed_by_name(w: World) -> None:
    w.add_agents(
        hireable_agent(name="zebra", tags=["z"]),
        hireable_agent(name="Apple", data_input="a text", example_input="hello"),
        hireable_agent(name="apple", price=0),
        hireable_agent(name="Paused", status="paused"),
        hireable_agent(name="Unpayable", agent_address=None),
        agent_metadata(name="Unreachable", subdomain=None),
    )
    cards = list_agents(w.deps).agents
    assert [card.name for card in cards] == ["Apple", "apple", "zebra"]
    apple = cards[0]
    assert (apple.price_microalgo, apple.data_input, apple.example_input) == (250_000, "a text", "hello")
    assert apple.description == "Apple, for tests" and cards[2].tags == ["z"]


def test_agents_of_the_same_name_are_ordered_by_id(w: World) -> None:
    w.add_agents(
        hireable_agent("00000000-0000-4000-8000-00000000000b", "Twin"),
        hireable_agent("00000000-0000-4000-8000-00000000000a", "Twin"),
    )
    assert [card.id[-1] for card in list_agents(w.deps).agents] == ["a", "b"]


def test_an_agent_reached_through_the_url_template_is_hireable(tmp_path: Path, w: World) -> None:
    w.add_agents(agent_metadata(name="Templated", price_microalgo=0))  # a subdomain, no base URL
    assert list_agents(w.deps).agents == []
    templated = world(tmp_path / "templated", agent_url_template="https://{subdomain}.agents.test")
    try:
        templated.add_agents(agent_metadata(name="Templated", price_microalgo=0))
        assert [card.name for card in list_agents(templated.deps).agents] == ["Templated"]
    finally:
        templated.close()


def stored_workflows(w: World, count: int, user_id: str = USER) -> list[str]:
    """`count` workflows created a second apart (two at the same moment when count > 3), newest last."""
    base = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    made = []
    for n in range(count):
        offset = n if n < 3 else n - 1  # the 3rd and 4th at the same moment: ordered by id
        workflow, steps = planned_workflow(
            ["agent"] * (1 + n % 2), user_id=user_id, created_at=base + timedelta(seconds=offset)
        )
        w.store.create_workflow(workflow, steps)
        made.append((workflow.created_at, workflow.workflow_id))
    return [workflow_id for _, workflow_id in sorted(made)]


def test_a_persons_workflows_come_newest_first_a_page_at_a_time(w: World) -> None:
    oldest_first = stored_workflows(w, 5)
    stored_workflows(w, 2, user_id=OTHER_USER)
    pages, cursor = [], None
    while True:
        page = list_workflows(w.deps, USER, limit=2, cursor=cursor)
        pages.append([summary.workflow_id for summary in page.workflows])
        cursor = page.next_cursor
        if cursor is None:
            break
    newest_first = list(reversed(oldest_first))
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    whole = list_workflows(w.deps, USER, limit=5)
    assert whole.next_cursor is None and [s.workflow_id for s in whole.workflows] == newest_first
    first = whole.workflows[0]
    assert (first.status, first.step_count, first.current_step) == (WorkflowStatus.PLANNED, 1, 1)
    assert "user_id" not in first.model_dump()
    assert list_workflows(w.deps, "someone-new").workflows == []


def test_a_cursor_names_the_position_it_was_made_from() -> None:
    position = (datetime(2026, 11, 30, 12, 0, 0, 5, tzinfo=UTC), "5b1c0c8e-0000-4000-8000-0000000000aa")
    cursor = encode_cursor(position)
    assert "=" not in cursor and decode_cursor(cursor) == position
    upper = (position[0], position[1].upper())
    assert decode_cursor(encode_cursor(upper)) == position  # ids are compared as stored: lowercase


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        b64("not json"),
        b64(json.dumps({"created_at": "2026-11-30T12:00:00+00:00"})),
        b64(
            json.dumps(
                {"created_at": "2026-11-30T12:00:00", "workflow_id": "5b1c0c8e-0000-4000-8000-0000000000aa"}
            )
        ),
        b64(json.dumps({"created_at": "yesterday", "workflow_id": "5b1c0c8e-0000-4000-8000-0000000000aa"})),
        b64(json.dumps({"created_at": "2026-11-30T12:00:00+00:00", "workflow_id": "not-a-uuid"})),
        b64(json.dumps(["a", "list"])),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "A" * (MAX_CURSOR_CHARS + 1),
    ],
)
def test_a_cursor_this_api_did_not_give_out_is_refused(w: World, cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        list_workflows(w.deps, USER, cursor=cursor)
    assert refused.value.details == [{"field": "cursor", "problem": "is not a cursor this API gave out"}]
