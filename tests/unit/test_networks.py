"""Network presets: ALGORAND_NETWORK fills the chain settings; explicit variables win; a node of
another network is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orchestrator.config import ConfigError, settings_from_env
from orchestrator.errors import ChainUnavailable
from orchestrator.networks import NETWORKS
from orchestrator.payments.verification import chain_verifier_from_settings

from devstack.ledger import Ledger, LedgerServer, genesis_hash_for

TESTNET_GENESIS = "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI="
MAINNET_GENESIS = "wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8="


def test_default_is_localnet_on_the_dev_ledger_ports_trusting_its_genesis() -> None:
    settings = settings_from_env({})
    assert settings.algorand_network == "localnet"
    assert settings.algod_url == "http://127.0.0.1:4001"
    assert settings.indexer_url == "http://127.0.0.1:8980"
    assert settings.genesis_hash is None


@pytest.mark.parametrize(
    ("network", "genesis", "algod", "indexer"),
    [
        (
            "testnet",
            TESTNET_GENESIS,
            "https://testnet-api.4160.nodely.dev",
            "https://testnet-idx.4160.nodely.dev",
        ),
        (
            "mainnet",
            MAINNET_GENESIS,
            "https://mainnet-api.4160.nodely.dev",
            "https://mainnet-idx.4160.nodely.dev",
        ),
    ],
)
def test_public_network_presets(network: str, genesis: str, algod: str, indexer: str) -> None:
    settings = settings_from_env({"ALGORAND_NETWORK": network})
    assert (settings.algod_url, settings.indexer_url, settings.genesis_hash) == (algod, indexer, genesis)
    assert NETWORKS[network].genesis_id == f"{network}-v1.0"


def test_explicit_variables_override_the_preset() -> None:
    settings = settings_from_env(
        {"ALGORAND_NETWORK": "testnet", "ALGOD_URL": "https://node.example/", "ALGOD_TOKEN": "t" * 64}
    )
    assert settings.algod_url == "https://node.example"
    assert settings.algod_token == "t" * 64
    assert settings.indexer_url == "https://testnet-idx.4160.nodely.dev"
    assert settings.genesis_hash == TESTNET_GENESIS


def test_custom_network_needs_an_algod_url() -> None:
    with pytest.raises(ConfigError, match="ALGOD_URL is required when ALGORAND_NETWORK is custom"):
        settings_from_env({"ALGORAND_NETWORK": "custom"})
    with pytest.raises(ConfigError, match="ALGORAND_NETWORK"):
        settings_from_env({"ALGORAND_NETWORK": "betanet"})


@pytest.fixture(scope="module")
def dev_ledger() -> Iterator[LedgerServer]:
    server = LedgerServer(Ledger(block_time=600), algod_port=0, indexer_port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


def test_explorer_link_comes_from_the_network_and_can_be_overridden() -> None:
    assert settings_from_env({}).explorer_txn_url is None  # LocalNet: no public explorer
    testnet = settings_from_env({"ALGORAND_NETWORK": "testnet"}).explorer_txn_url
    assert testnet == "https://lora.algokit.io/testnet/transaction/{txid}"
    mainnet = settings_from_env({"ALGORAND_NETWORK": "mainnet"}).explorer_txn_url
    assert mainnet == "https://lora.algokit.io/mainnet/transaction/{txid}"
    custom = settings_from_env(
        {"ALGORAND_NETWORK": "testnet", "EXPLORER_TXN_URL": "https://explorer.example/tx/{txid}"}
    )
    assert custom.explorer_txn_url == "https://explorer.example/tx/{txid}"
    with pytest.raises(ConfigError, match="EXPLORER_TXN_URL"):
        settings_from_env({"EXPLORER_TXN_URL": "https://explorer.example/tx/"})
