"""Catalog records as the marketplace exports them (its `agents` rows), for the catalog tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack.agents import agent_address

ADDRESS = agent_address("test-catalog")
SECRET = "agent-token-never-shown-0123456789"


def marketplace_row(**fields: Any) -> dict[str, Any]:
    """A row of the marketplace's `agents` table as an export gives it, with the local base_url."""
    row: dict[str, Any] = {
        "id": "5c1e3f0e-7a51-4d0b-9d6e-2f3a4b5c6d7e",
        "user_id": "00000000-0000-4000-8000-00000000d0e5",
        "name": "Verse Writer",
        "description": "Writes a short poem about any topic.",
        "subdomain": "verse-writer",
        "repo_owner": "0rca-network",
        "repo_name": "verse-writer",
        "github_url": "https://github.com/0rca-network/verse-writer",
        "status": "active",
        "runtime_status": "active",
        "agent_address": ADDRESS,
        "app_id": 4242,
        "price_microalgo": 250000,
        "category": "Writing",
        "tags": ["poem", "poetry", "verse"],
        "data_input": 'JSON {"topic": what the poem is about}',
        "example_input": '{"topic": "rain"}',
        "example_output": '{"poem": "Rain on the roof..."}',
        "agent_token": SECRET,
        "created_at": "2025-11-10T06:01:21.290Z",
        "updated_at": "2025-11-10T06:01:21.290Z",
        "base_url": "http://127.0.0.1:7001",
    }
    return {**row, **fields}


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
