"""Agents built with the marketplace's own SDK (orca-agent-sdk, unmodified), for the local stack's tests.

`run_agent.py` serves one of them and runs in its own venv (`.venv-agents`, `make sdk-agents`);
`launch` (this package, the project's venv) starts it as a subprocess and gives its marketplace
record (README.md beside this file).
"""

from devstack.sdk_agents.launch import AGENTS_PYTHON, SDK_AGENTS, SdkAgentProcess, SdkAgentSpec

__all__ = ["AGENTS_PYTHON", "SDK_AGENTS", "SdkAgentProcess", "SdkAgentSpec"]
