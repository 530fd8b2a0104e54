"""Secrets in AWS: SSM Parameter Store SecureStrings or Secrets Manager, read through Powertools
Parameters (cached per container for `SECRET_CACHE_SECONDS`). A value given directly wins, so the
local stack and tests pass secrets as plain environment variables."""

from __future__ import annotations

from orchestrator.config import ConfigError

SECRET_CACHE_SECONDS = 300
SECRETS_MANAGER_PREFIX = "secretsmanager:"


def resolve_secret(value: str | None, reference: str | None, *, what: str) -> str | None:
    """`value` if set; else the secret `reference` names (SSM name, or secretsmanager:<id>); else None."""
    if value:
        return value
    if not reference:
        return None
    from aws_lambda_powertools.utilities import parameters  # boto3: only when a secret is read

    try:
        if reference.startswith(SECRETS_MANAGER_PREFIX):
            secret = parameters.get_secret(
                reference[len(SECRETS_MANAGER_PREFIX) :], max_age=SECRET_CACHE_SECONDS
            )
        else:
            secret = parameters.get_parameter(reference, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError(f"the {what} could not be read from {reference}: {exc}") from exc
    text = secret.decode() if isinstance(secret, bytes) else str(secret or "")
    if not text.strip():
        raise ConfigError(f"the {what} at {reference} is empty")
    return text.strip()
