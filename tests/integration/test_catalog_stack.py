"""The local stack starts on a catalog file: it plans with the hireable records and names the others
(it starts servers, so it is an integration test; the catalog checks themselves are tests/unit/test_catalog.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from orchestrator.models import AgentMetadata

from devstack.stack import LocalStack, StackConfig
from tests.catalog_rows import SECRET, marketplace_row, write


@pytest.mark.integration
def test_the_stack_plans_with_the_hireable_records_and_names_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestrator.dependencies import get_dependencies

    unpaid = marketplace_row(id="b2", name="Haiku Bot", agent_address=None)
    catalog = write(tmp_path, [marketplace_row(), unpaid])
    stale = AgentMetadata.model_validate(marketplace_row(id="from-an-earlier-run", name="Stale"))
    config = StackConfig.ephemeral(
        tmp_path / "data", catalog_file=catalog, persist_ledger=False, execution_watch_seconds=None
    )
    # An agent an earlier run left active in the same database is set inactive.
    with LocalStack(config) as first:
        get_dependencies().store.upsert_agents([stale])
        assert first.catalog_left_out == ["Haiku Bot (b2): no agent_address to pay"]
    with LocalStack(config) as stack:
        store = get_dependencies().store
        assert [a.name for a in store.list_agents(active_only=True)] == ["Verse Writer"]
        assert {a.id: a.status for a in store.list_agents(active_only=False)} == {
            marketplace_row()["id"]: "active",
            "from-an-earlier-run": "inactive",
        }
        described = stack.describe()
    assert "left out of planning (cannot be hired):\n  Haiku Bot (b2): no agent_address to pay" in described
    assert "Verse Writer" in described and SECRET not in described
    err = capsys.readouterr().err
    assert err.count("catalog: left out of planning: Haiku Bot (b2): no agent_address to pay\n") == 2
    assert SECRET not in err
