"""Deterministic development accounts: the same keys on every run, derived from a seed string."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from algosdk import encoding, mnemonic
from nacl.signing import SigningKey


@dataclass(frozen=True)
class DevAccount:
    address: str
    private_key: str  # algosdk's form: base64 of the 32-byte ed25519 seed followed by the public key
    mnemonic: str


def account_from_seed(seed: bytes) -> DevAccount:
    """The account whose ed25519 seed (32 bytes) is `seed`."""
    signing_key = SigningKey(seed)
    public_key = bytes(signing_key.verify_key)
    private_key = base64.b64encode(bytes(signing_key) + public_key).decode()
    return DevAccount(
        address=encoding.encode_address(public_key),
        private_key=private_key,
        mnemonic=mnemonic.from_private_key(private_key),
    )


def dev_account(seed: str, index: int) -> DevAccount:
    """The account whose ed25519 seed is sha256(f"{seed}:{index}")."""
    return account_from_seed(hashlib.sha256(f"{seed}:{index}".encode()).digest())


def dev_accounts(count: int = 3, seed: str = "orch-devstack") -> list[DevAccount]:
    """`count` accounts derived from `seed`; the first n of a longer list are the same n accounts."""
    if count < 0:
        raise ValueError("count must not be negative")
    return [dev_account(seed, index) for index in range(count)]
