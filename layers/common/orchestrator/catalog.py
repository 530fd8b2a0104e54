"""Which marketplace agents can be hired: the catalog as the marketplace keeps it, checked before any
plan is made, so that a record missing what payment needs is found at start-up, not after approval.

A record is hireable when it is active (`status = 'active'`), has a price, can be reached (a
`base_url` override, or a `subdomain` and AGENT_URL_TEMPLATE), and, when it charges, names a valid
`agent_address` to pay and the `app_id` its payment group calls (the marketplace's agents pay through
an ABI call `pay(pay)void` to their app).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.models import AgentMetadata


@dataclass(frozen=True)
class CatalogCheck:
    """The active agents split into the hireable ones and the others, each with why not."""

    hireable: list[AgentMetadata] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=dict)  # "name (id)" -> problems

    def describe_left_out(self) -> list[str]:
        return [f"{who}: {'; '.join(problems)}" for who, problems in self.left_out.items()]


def payment_problems(agent: AgentMetadata, *, url_template: str | None) -> list[str]:
    """What keeps an agent from being hired and paid, in words; empty when nothing does."""
    from algosdk import encoding

    problems = []
    if agent.price_microalgo is None:
        problems.append("no price_microalgo")
    if not agent.base_url and not (agent.subdomain and url_template):
        problems.append(
            "no base_url, and no subdomain with AGENT_URL_TEMPLATE set"
            if url_template is None
            else "no subdomain"
        )
    if agent.price:
        if not agent.agent_address:
            problems.append("no agent_address to pay")
        elif not encoding.is_valid_address(agent.agent_address):
            problems.append(f"agent_address {agent.agent_address!r} is not a valid Algorand address")
        if not agent.app_id:
            problems.append("no app_id for its payment group's app call")
    return problems


def check_catalog(agents: list[AgentMetadata], *, url_template: str | None) -> CatalogCheck:
    check = CatalogCheck()
    for agent in agents:
        if not agent.is_active:
            continue
        problems = payment_problems(agent, url_template=url_template)
        if problems:
            check.left_out[f"{agent.name} ({agent.id})"] = problems
        else:
            check.hireable.append(agent)
    return check
