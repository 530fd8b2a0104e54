"""Configuration from environment variables, validated once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from orchestrator.models import OrchestratorModel
from orchestrator.networks import NETWORKS, NetworkName
from orchestrator.polling import PollSchedule


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


class Settings(OrchestratorModel):
    """Every knob of the orchestrator. Field names are the environment variables, upper-cased."""

    # --- storage -------------------------------------------------------------------------------
    store_backend: Literal["sqlite", "supabase"] = "sqlite"
    sqlite_path: str = ".local/orchestrator.sqlite3"
    supabase_url: str | None = None
    supabase_service_role_key: str | None = None
    # In AWS, secrets come from SSM Parameter Store (a SecureString name) or Secrets Manager
    # ("secretsmanager:<name or arn>"); a value set directly (local runs) wins.
    supabase_service_role_key_parameter: str | None = None
    supabase_timeout_seconds: float = Field(default=10.0, gt=0)  # per PostgREST request

    # --- workflow engine -----------------------------------------------------------------------
    state_machine_arn: str | None = None
    aws_region: str = "us-east-1"

    # --- planner -------------------------------------------------------------------------------
    openai_api_key: str | None = None
    openai_api_key_parameter: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = 30.0
    # The whole planning of one create request (every try of every model call, and the retry with
    # the validation's feedback) ends within this: well inside API Gateway's 30 s integration timeout
    # and the create function's Lambda timeout (template.yaml), so the person gets an answer.
    planning_deadline_seconds: float = Field(default=24.0, gt=0, lt=30)
    max_steps: int = Field(default=10, ge=1, le=50)

    # --- agents --------------------------------------------------------------------------------
    agent_url_template: str | None = None  # e.g. https://{subdomain}.0rca.live
    agent_timeout_seconds: float = Field(default=10.0, gt=0)
    agent_retries: int = Field(default=2, ge=0)
    # The poll schedule (orchestrator.polling): template.yaml sets these for AWS and the local stack.
    poll_fast_seconds: int = Field(default=2, ge=1)
    poll_fast_window_seconds: int = Field(default=60, ge=0)
    poll_max_seconds: int = Field(default=30, ge=1)
    poll_deadline_seconds: int = Field(default=900, ge=1)
    poll_max_errors: int = Field(default=3, ge=1)

    # --- repairs (orchestrator.services.reconcile: the sweep) -----------------------------------------
    payment_timeout_seconds: int = Field(default=900, ge=1)  # the state machine's PaymentTimeoutSeconds
    sweep_margin_seconds: int = Field(default=300, ge=0)  # grace past a step's deadline before a repair

    # --- chain ---------------------------------------------------------------------------------
    # A preset (orchestrator/networks.py) fills what the variables below leave empty.
    algorand_network: NetworkName = "localnet"
    algod_url: str = ""
    algod_token: str = ""
    indexer_url: str | None = None
    indexer_token: str = ""
    genesis_hash: str | None = None  # base64; when neither it nor the preset sets one, algod's is trusted
    max_fee_microalgo: int = Field(default=10_000, ge=1000)
    # A transaction's page on a block explorer, with `{txid}`; the preset's (Lora on TestNet and
    # MainNet, none on LocalNet) unless set.
    explorer_txn_url: str | None = None
    max_validity_rounds: int = Field(default=1000, ge=1)
    # A submit_payment request must end well inside the 30 s API Gateway limit: retries of at most this
    # long, plus one agent request (AGENT_TIMEOUT_SECONDS) and the chain checks.
    submit_payment_retry_seconds: float = Field(default=12.0, ge=0, le=15)

    # --- idempotency (orchestrator.idempotency) ------------------------------------------------------
    # DynamoDB table of Idempotency-Key records. Unset: idempotency is off and the header is ignored.
    idempotency_table: str | None = None
    idempotency_expiry_seconds: int = Field(default=86_400, ge=60)  # how long a key is remembered

    @model_validator(mode="after")
    def _network_defaults(self) -> Settings:
        preset = NETWORKS[self.algorand_network]
        self.algod_url = self.algod_url or (preset.algod_url or "")
        if not self.algod_url:
            raise ValueError("ALGOD_URL is required when ALGORAND_NETWORK is custom")
        # Only what was not given: an explicit None (no indexer, trust algod's genesis) stays None.
        if "indexer_url" not in self.model_fields_set:
            self.indexer_url = preset.indexer_url
        if "genesis_hash" not in self.model_fields_set:
            self.genesis_hash = preset.genesis_hash
        if "explorer_txn_url" not in self.model_fields_set:
            self.explorer_txn_url = preset.explorer_txn_url
        if self.explorer_txn_url is not None and "{txid}" not in self.explorer_txn_url:
            raise ValueError("EXPLORER_TXN_URL must contain {txid}, where the transaction id goes")
        return self

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(
            fast_seconds=self.poll_fast_seconds,
            fast_window_seconds=self.poll_fast_window_seconds,
            max_seconds=self.poll_max_seconds,
        )

    @field_validator("algod_url", "indexer_url", "openai_base_url", "agent_url_template")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {
        name: env[name.upper()]
        for name in Settings.model_fields
        if name.upper() in env and env[name.upper()] != ""
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
