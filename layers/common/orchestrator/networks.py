"""The Algorand networks the orchestrator knows: where their nodes are, and which chain they serve.

`ALGORAND_NETWORK` picks a preset; `ALGOD_URL`, `INDEXER_URL`, tokens and `GENESIS_HASH` override
its parts. The public endpoints are Nodely's free tier (no token), which has rate limits: use your
own node or a paid endpoint for real traffic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NetworkName = Literal["localnet", "testnet", "mainnet", "custom"]


@dataclass(frozen=True)
class NetworkPreset:
    """Constants, not input: a plain record (no pydantic model to build at every cold start)."""

    name: NetworkName
    algod_url: str | None
    indexer_url: str | None
    genesis_id: str | None
    genesis_hash: str | None  # base64; None: whatever the node reports (every LocalNet differs)
    # A transaction's page on a block explorer, `{txid}` to fill in; None: no public explorer.
    explorer_txn_url: str | None = None


NETWORKS: dict[str, NetworkPreset] = {
    # AlgoKit LocalNet and the local stack's dev ledger listen on the same ports.
    "localnet": NetworkPreset(
        name="localnet",
        algod_url="http://127.0.0.1:4001",
        indexer_url="http://127.0.0.1:8980",
        genesis_id=None,
        genesis_hash=None,
    ),
    "testnet": NetworkPreset(
        name="testnet",
        algod_url="https://testnet-api.4160.nodely.dev",
        indexer_url="https://testnet-idx.4160.nodely.dev",
        genesis_id="testnet-v1.0",
        genesis_hash="SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=",
        explorer_txn_url="https://lora.algokit.io/testnet/transaction/{txid}",
    ),
    "mainnet": NetworkPreset(
        name="mainnet",
        algod_url="https://mainnet-api.4160.nodely.dev",
        indexer_url="https://mainnet-idx.4160.nodely.dev",
        genesis_id="mainnet-v1.0",
        genesis_hash="wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8=",
        explorer_txn_url="https://lora.algokit.io/mainnet/transaction/{txid}",
    ),
    # Everything from ALGOD_URL / INDEXER_URL / GENESIS_HASH.
    "custom": NetworkPreset(
        name="custom", algod_url=None, indexer_url=None, genesis_id=None, genesis_hash=None
    ),
}
