"""Network presets: ALGORAND_NETWORK fills the chain settings; explicit variables win (that a node of
another network is refused, on the dev ledger: tests/integration/test_networks_on_the_dev_ledger.py)."""

from __future__ import annotations

import pytest
from orchestrator.config import ConfigError, settings_from_env
from orchestrator.networks import NETWORKS

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
