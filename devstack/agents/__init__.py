"""Sample agents of the local stack: stand-ins for marketplace agents, speaking the same protocol."""

from devstack.agents.catalog import SAMPLE_AGENTS, SampleAgentSpec, agent_address
from devstack.agents.server import AgentBehaviour, SampleAgentServer, start_sample_agents

__all__ = [
    "SAMPLE_AGENTS",
    "AgentBehaviour",
    "SampleAgentServer",
    "SampleAgentSpec",
    "agent_address",
    "start_sample_agents",
]
