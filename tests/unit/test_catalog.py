"""Which marketplace agents can be hired (orchestrator.catalog), and the local stack's `--catalog FILE`
(devstack.stack.load_catalog_file): marketplace rows in, the hireable ones planned, the others named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from orchestrator.catalog import CatalogCheck, check_catalog, payment_problems
from orchestrator.models import AgentMetadata

from devstack.stack import load_catalog_file
from tests.catalog_rows import ADDRESS, SECRET, marketplace_row, write

TEMPLATE = "https://{subdomain}.0rca.live"


def agent(**fields: Any) -> AgentMetadata:
    base: dict[str, Any] = dict(
        id="a1",
        name="Poet",
        status="active",
        price_microalgo=250_000,
        agent_address=ADDRESS,
        app_id=4242,
        base_url="http://127.0.0.1:9",
    )
    return AgentMetadata.model_validate({**base, **fields})


# --- payment_problems --------------------------------------------------------------------------------


def test_a_priced_reachable_agent_with_address_and_app_has_no_problem() -> None:
    assert payment_problems(agent(), url_template=None) == []
    assert payment_problems(agent(base_url=None, subdomain="poet"), url_template=TEMPLATE) == []


@pytest.mark.parametrize(
    ("fields", "url_template", "problems"),
    [
        ({"price_microalgo": None}, None, ["no price_microalgo"]),
        (
            {"base_url": None, "subdomain": "poet"},
            None,
            ["no base_url, and no subdomain with AGENT_URL_TEMPLATE set"],
        ),
        ({"base_url": None, "subdomain": None}, TEMPLATE, ["no subdomain"]),
        ({"agent_address": None}, None, ["no agent_address to pay"]),
        (
            {"agent_address": "NOT-AN-ADDRESS"},
            None,
            ["agent_address 'NOT-AN-ADDRESS' is not a valid Algorand address"],
        ),
        ({"app_id": None}, None, ["no app_id for its payment group's app call"]),
        ({"app_id": 0}, None, ["no app_id for its payment group's app call"]),
    ],
)
def test_each_problem_is_named(fields: dict[str, Any], url_template: str | None, problems: list[str]) -> None:
    assert payment_problems(agent(**fields), url_template=url_template) == problems


def test_every_problem_at_once() -> None:
    bare = AgentMetadata(id="b", name="Bare", status="active", price_microalgo=1)
    assert payment_problems(bare, url_template=None) == [
        "no base_url, and no subdomain with AGENT_URL_TEMPLATE set",
        "no agent_address to pay",
        "no app_id for its payment group's app call",
    ]
    assert payment_problems(bare.model_copy(update={"price_microalgo": None}), url_template=TEMPLATE) == [
        "no price_microalgo",
        "no subdomain",
    ]


def test_a_free_agent_needs_no_address_or_app() -> None:
    assert (
        payment_problems(agent(price_microalgo=0, agent_address=None, app_id=None), url_template=None) == []
    )


# --- check_catalog -----------------------------------------------------------------------------------


def test_check_catalog_splits_the_active_agents_and_skips_the_others() -> None:
    good = agent(id="good", name="Good")
    unpaid = agent(id="unpaid", name="Unpaid", agent_address=None)
    unreachable = agent(id="far", name="Far", base_url=None, subdomain="far", app_id=None)
    retired = agent(id="old", name="Old", status="inactive", agent_address=None)
    pending = agent(id="new", name="New", status="pending")
    checked = check_catalog([good, unpaid, retired, unreachable, pending], url_template=None)
    assert checked.hireable == [good]
    assert checked.left_out == {
        "Unpaid (unpaid)": ["no agent_address to pay"],
        "Far (far)": [
            "no base_url, and no subdomain with AGENT_URL_TEMPLATE set",
            "no app_id for its payment group's app call",
        ],
    }
    assert checked.describe_left_out() == [
        "Unpaid (unpaid): no agent_address to pay",
        "Far (far): no base_url, and no subdomain with AGENT_URL_TEMPLATE set; "
        "no app_id for its payment group's app call",
    ]
    with_template = check_catalog([good, unreachable], url_template=TEMPLATE)
    assert with_template.left_out == {"Far (far)": ["no app_id for its payment group's app call"]}


def test_check_catalog_of_nothing_is_empty() -> None:
    assert check_catalog([], url_template=None) == CatalogCheck()


# --- load_catalog_file -------------------------------------------------------------------------------


def test_a_marketplace_row_is_read_and_its_other_columns_dropped(tmp_path: Path) -> None:
    loaded = load_catalog_file(write(tmp_path, [marketplace_row()]))
    assert loaded.left_out == []
    [record] = loaded.records
    assert record == AgentMetadata.model_validate(marketplace_row()).model_dump(mode="json")
    assert SECRET not in json.dumps(loaded.records)
    assert "agent_token" not in record and "created_at" not in record
    seen = AgentMetadata.model_validate(record)
    assert (seen.name, seen.agent_address, seen.app_id, seen.price, seen.is_active) == (
        "Verse Writer",
        ADDRESS,
        4242,
        250_000,
        True,
    )
    assert seen.capabilities == ["poem", "poetry", "verse", "Writing"]


def test_a_record_missing_agent_address_is_reported_by_name_and_left_out(tmp_path: Path) -> None:
    unpaid = marketplace_row(id="b2", name="Haiku Bot", agent_address=None)
    del unpaid["agent_address"]
    loaded = load_catalog_file(write(tmp_path, [marketplace_row(), unpaid]))
    assert [r["name"] for r in loaded.records] == ["Verse Writer"]
    assert loaded.left_out == ["Haiku Bot (b2): no agent_address to pay"]


def test_inactive_and_unreachable_records_are_reported_with_every_reason(tmp_path: Path) -> None:
    rows = [
        marketplace_row(),
        marketplace_row(id="p", name="Pending Poet", status="pending", app_id=None),
        marketplace_row(id="s", name="Subdomain Poet", base_url=None),
    ]
    path = write(tmp_path, rows)
    assert load_catalog_file(path).left_out == [
        "Pending Poet (p): status 'pending', not 'active'; no app_id for its payment group's app call",
        "Subdomain Poet (s): no base_url, and no subdomain with AGENT_URL_TEMPLATE set",
    ]
    # With AGENT_URL_TEMPLATE, the subdomain is where the agent is reached.
    with_template = load_catalog_file(path, url_template=TEMPLATE)
    assert [r["name"] for r in with_template.records] == ["Verse Writer", "Subdomain Poet"]
    assert with_template.left_out == [
        "Pending Poet (p): status 'pending', not 'active'; no app_id for its payment group's app call"
    ]


def test_the_earlier_local_column_names_are_pointed_out(tmp_path: Path) -> None:
    old_shape = {
        "id": "foreign-poet",
        "name": "Old Poet",
        "capabilities": ["poem"],
        "price_microalgo": 1,
        "address": ADDRESS,
        "app_id": 1,
        "is_active": True,
        "base_url": "http://127.0.0.1:7002",
    }
    loaded = load_catalog_file(write(tmp_path, [marketplace_row(), old_shape]))
    assert loaded.left_out == [
        "Old Poet (foreign-poet): status 'pending', not 'active'; no agent_address to pay; "
        "(the marketplace's columns: address is agent_address, is_active is status, capabilities is tags)"
    ]


def test_no_hireable_agent_at_all_ends_the_start_naming_each(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            marketplace_row(agent_address="NOPE"),
            marketplace_row(id="x", name="Retired", status="inactive"),
        ],
    )
    with pytest.raises(SystemExit) as exited:
        load_catalog_file(path)
    assert str(exited.value) == (
        f"no agent in the catalog {path} can be hired:\n"
        f"  Verse Writer ({marketplace_row()['id']}): agent_address 'NOPE' is not a valid Algorand address\n"
        "  Retired (x): status 'inactive', not 'active'"
    )
    assert SECRET not in str(exited.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{not json", "cannot read the catalog {path}: Expecting property name"),
        ('{"agents": []}', "the catalog {path} must be a JSON list of agent records (rows of `agents`)"),
        ("[]", "the catalog {path} holds no agent records"),
        ([marketplace_row(), "Verse Writer"], "the catalog {path}: record 2 is not a JSON object"),
        (
            [{"name": "Nameless", "agent_token": SECRET}],
            "the catalog {path}: record 1 ('Nameless') is not an agent record: id: Field required",
        ),
        (
            [marketplace_row(), marketplace_row(id="neg", price_microalgo=-5, app_id="many")],
            "the catalog {path}: record 2 ('Verse Writer', id 'neg') is not an agent record: "
            "app_id: Input should be a valid integer, unable to parse string as an integer; "
            "price_microalgo: Input should be greater than or equal to 0",
        ),
        (
            [{"id": 7, "name": "Seven", "tags": 3}],
            "the catalog {path}: record 1 ('Seven', id 7) is not an agent record: id: Input should be a "
            "valid string; tags: Input should be a valid list",
        ),
        (
            [marketplace_row(), marketplace_row(name="Again")],
            "the catalog {path}: record 2 ('Again', id '5c1e3f0e-7a51-4d0b-9d6e-2f3a4b5c6d7e') repeats the "
            "id '5c1e3f0e-7a51-4d0b-9d6e-2f3a4b5c6d7e' of record 1",
        ),
    ],
)
def test_a_malformed_file_ends_the_start_naming_the_file_and_the_record(
    tmp_path: Path, content: Any, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(SystemExit) as exited:
        load_catalog_file(path)
    assert str(exited.value).startswith(message.format(path=path))
    assert SECRET not in str(exited.value)


def test_a_missing_file_ends_the_start(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        load_catalog_file(tmp_path / "nowhere.json")
    assert str(exited.value).startswith(f"cannot read the catalog {tmp_path / 'nowhere.json'}:")


# --- the local stack with --catalog --------------------------------------------------------------------
