"""A node of another network is refused, the configured one accepted: the chain verifier asks the dev
ledger (on loopback) for its genesis hash."""

from __future__ import annotations

import pytest
from orchestrator.config import settings_from_env
from orchestrator.errors import ChainUnavailable
from orchestrator.payments.verification import chain_verifier_from_settings

from devstack.ledger import LedgerServer, genesis_hash_for
from tests.dev_ledgers import DevLedgers

pytestmark = pytest.mark.integration

TESTNET_GENESIS = "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI="


@pytest.fixture(scope="module")
def dev_ledger(ledger_servers: DevLedgers) -> LedgerServer:
    return ledger_servers.start(block_time=600)


def test_a_node_of_another_network_is_refused(dev_ledger: LedgerServer) -> None:
    settings = settings_from_env({"ALGORAND_NETWORK": "testnet", "ALGOD_URL": dev_ledger.algod_url})
    verifier = chain_verifier_from_settings(settings)
    with pytest.raises(ChainUnavailable, match="configured for " + TESTNET_GENESIS.replace("+", r"\+")):
        verifier.genesis_hash()


def test_the_configured_network_is_accepted(dev_ledger: LedgerServer) -> None:
    served = dev_ledger.ledger.genesis_hash
    settings = settings_from_env({"ALGOD_URL": dev_ledger.algod_url, "GENESIS_HASH": served})
    assert chain_verifier_from_settings(settings).genesis_hash() == served
    assert served == genesis_hash_for(dev_ledger.ledger.genesis_id)
