"""What the orchestrator asks the chain (`ChainVerifier`), answered through algod (recent
transactions) and the indexer (older ones) by `AlgodChainVerifier`."""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from algosdk import error as sdk_error

from orchestrator.errors import ChainUnavailable, PaymentNotConfirmed

if TYPE_CHECKING:
    from algosdk.v2client.algod import AlgodClient
    from algosdk.v2client.indexer import IndexerClient

    from orchestrator.config import Settings

CHAIN_TIMEOUT_SECONDS = 10
_NETWORK_ERRORS = (urllib.error.URLError, OSError, TimeoutError)


@dataclass(frozen=True)
class AccountFunds:
    """An account's balance as algod reports it (`amount`, `min-balance`)."""

    amount_microalgo: int
    min_balance_microalgo: int
    min_fee_microalgo: int  # the network's minimum fee per transaction


class ChainVerifier(Protocol):
    """What the orchestrator asks the chain: the round, the network, whether txids are confirmed, and
    what a wallet holds. Each raises `ChainUnavailable` when the chain cannot be read."""

    def current_round(self) -> int: ...

    def genesis_hash(self) -> str: ...

    def account_funds(self, address: str) -> AccountFunds: ...

    def confirmed_round(self, txid: str) -> int | None: ...

    def require_confirmed(self, txids: list[str]) -> int:
        """The round by which every txid is confirmed; `PaymentNotConfirmed` if one is not."""
        ...


class AlgodChainVerifier:
    """`ChainVerifier` through algod and, for transactions older than algod keeps, the indexer."""

    def __init__(
        self,
        algod: AlgodClient,
        indexer: IndexerClient | None = None,
        *,
        expected_genesis_hash: str | None = None,
    ) -> None:
        self.algod = algod
        self.indexer = indexer
        self.expected_genesis_hash = expected_genesis_hash
        self._genesis_hash: str | None = None

    def current_round(self) -> int:
        status = self._algod("status")
        return int(status["last-round"])

    def account_funds(self, address: str) -> AccountFunds:
        """What `address` holds and must keep (Algorand's minimum balance) on the configured network,
        and the network's minimum fee per transaction: two algod requests (suggested params, which
        also say which network the node serves, then the account). An unfunded account holds 0."""
        params = self._algod("suggested_params")
        self._check_network(str(params.gh))  # a node of another network would report another account
        info = self._algod("account_info", address, exclude="all")
        try:
            return AccountFunds(int(info["amount"]), int(info["min-balance"]), int(params.min_fee))
        except (KeyError, TypeError, ValueError) as exc:
            raise ChainUnavailable(f"algod's account answer has no amount or min-balance: {exc}") from exc

    def genesis_hash(self) -> str:
        """The network algod serves; refuses a node of another network than the configured one."""
        if self._genesis_hash is None:
            self._check_network(str(self._algod("suggested_params").gh))
        assert self._genesis_hash is not None
        return self._genesis_hash

    def _check_network(self, served: str) -> None:
        if self.expected_genesis_hash and served != self.expected_genesis_hash:
            raise ChainUnavailable(
                f"algod serves the network with genesis hash {served}, but this deployment is "
                f"configured for {self.expected_genesis_hash} (ALGORAND_NETWORK / GENESIS_HASH)."
            )
        self._genesis_hash = served

    def confirmed_round(self, txid: str) -> int | None:
        """The round that confirmed `txid`, or None if the chain does not show it confirmed."""
        try:
            info = self.algod.pending_transaction_info(txid, timeout=CHAIN_TIMEOUT_SECONDS)
        except sdk_error.AlgodHTTPError as exc:
            if exc.code != 404:
                raise ChainUnavailable(f"algod could not tell whether {txid} is confirmed: {exc}") from exc
            # algod forgets transactions a while after they are confirmed: ask the indexer.
            return self._indexed_round(txid)
        except _NETWORK_ERRORS as exc:
            raise ChainUnavailable(f"algod is unreachable: {exc}") from exc
        if isinstance(info, dict) and int(info.get("confirmed-round") or 0) > 0:
            return int(info["confirmed-round"])
        return None

    def require_confirmed(self, txids: list[str]) -> int:
        """The round that confirmed the whole group; PaymentNotConfirmed names a missing txid."""
        if not txids:
            raise PaymentNotConfirmed("No transaction ids were submitted.")
        rounds = []
        for txid in txids:
            confirmed = self.confirmed_round(txid)
            if confirmed is None:
                raise PaymentNotConfirmed(
                    f"Transaction {txid} is not confirmed on chain yet. Wait for confirmation, then submit again."
                )
            rounds.append(confirmed)
        return max(rounds)

    def _indexed_round(self, txid: str) -> int | None:
        if self.indexer is None:
            return None
        try:
            response = self.indexer.transaction(txid, timeout=CHAIN_TIMEOUT_SECONDS)
        except sdk_error.IndexerHTTPError:
            return None  # not indexed (yet)
        except _NETWORK_ERRORS as exc:
            raise ChainUnavailable(f"the indexer is unreachable: {exc}") from exc
        txn = response.get("transaction") if isinstance(response, dict) else None
        if isinstance(txn, dict) and txn.get("id") == txid and int(txn.get("confirmed-round") or 0) > 0:
            return int(txn["confirmed-round"])
        return None

    def _algod(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.algod, method)(*args, **kwargs, timeout=CHAIN_TIMEOUT_SECONDS)
        except sdk_error.AlgodHTTPError as exc:
            raise ChainUnavailable(f"algod answered an error: {exc}") from exc
        except _NETWORK_ERRORS as exc:
            raise ChainUnavailable(f"algod is unreachable: {exc}") from exc
        except ValueError as exc:  # not JSON (a proxy's HTML error page)
            raise ChainUnavailable(f"algod's answer could not be read: {exc}") from exc


def chain_verifier_from_settings(settings: Settings) -> ChainVerifier:
    from algosdk.v2client.algod import AlgodClient
    from algosdk.v2client.indexer import IndexerClient

    # Hosted nodes (Nodely, AlgoNode) take no token; a LocalNet takes its 64-char token.
    algod = AlgodClient(
        settings.algod_token, settings.algod_url, headers={"User-Agent": "agent-orchestrator"}
    )
    indexer = (
        IndexerClient(
            settings.indexer_token, settings.indexer_url, headers={"User-Agent": "agent-orchestrator"}
        )
        if settings.indexer_url
        else None
    )
    return AlgodChainVerifier(algod, indexer, expected_genesis_hash=settings.genesis_hash)
