"""Payments: decoding agents' transaction groups, the safety rules, and on-chain verification."""
