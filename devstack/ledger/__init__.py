"""The dev ledger: an embedded Algorand stand-in for local development and tests.

It answers on algod- and indexer-compatible HTTP endpoints, so py-algorand-sdk's `AlgodClient`,
`IndexerClient` and `transaction.wait_for_confirmation` work against it unchanged. Signed groups
are validated as algod's transaction pool would (signatures, group ids, genesis, fees, validity
window, balances, minimum balance, duplicates, rekeying) and confirmed by a block producer every
`block_time` seconds; the indexer sees each block `indexer_lag_seconds` late.

It does NOT execute AVM programs: application calls (`appl`) are accepted, charged their fee and
recorded for any application id, but no approval program runs and no application state is kept.
Only `pay` and `appl` transactions and plain single signatures are supported (no logic signatures,
multisig, assets or key registration). Receivers need no minimum balance. See README.md.
"""

from devstack.ledger.accounts import DevAccount, dev_accounts
from devstack.ledger.chain import AccountView, Ledger, TxnRecord, genesis_hash_for
from devstack.ledger.errors import LedgerError
from devstack.ledger.server import LedgerServer

__all__ = [
    "AccountView",
    "DevAccount",
    "Ledger",
    "LedgerError",
    "LedgerServer",
    "TxnRecord",
    "dev_accounts",
    "genesis_hash_for",
]
