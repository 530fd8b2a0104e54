"""Secrets from SSM Parameter Store and Secrets Manager (moto), and the planner choosing OpenAI
only when a key can be read."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from orchestrator.config import ConfigError, Settings
from orchestrator.planner import planner_from_settings
from orchestrator.planner.offline import OfflinePlanner
from orchestrator.planner.openai_planner import OpenAIPlanner
from orchestrator.secrets import resolve_secret

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()
    with mock_aws():
        yield
    parameters.clear_caches()


def test_a_value_given_directly_wins_and_nothing_is_read() -> None:
    assert resolve_secret("sk-direct", "/never/read", what="key") == "sk-direct"
    assert resolve_secret(None, None, what="key") is None


def test_ssm_secure_string_is_read_decrypted(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/agent-orchestrator/openai-api-key", Value="sk-from-ssm", Type="SecureString"
    )
    assert resolve_secret(None, "/agent-orchestrator/openai-api-key", what="key") == "sk-from-ssm"


def test_secrets_manager_secret_is_read(aws: None) -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="orchestrator/supabase", SecretString="service-role-jwt\n"
    )
    assert resolve_secret(None, "secretsmanager:orchestrator/supabase", what="key") == "service-role-jwt"


def test_a_missing_secret_is_a_configuration_error_naming_it(aws: None) -> None:
    with pytest.raises(ConfigError, match=r"the OpenAI API key could not be read from /missing/key"):
        resolve_secret(None, "/missing/key", what="OpenAI API key")


def test_an_empty_secret_is_a_configuration_error(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/blank", Value=" ", Type="SecureString")
    with pytest.raises(ConfigError, match="is empty"):
        resolve_secret(None, "/blank", what="key")


def test_planner_uses_openai_when_the_key_parameter_resolves(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/k", Value="sk-param", Type="SecureString")
    planner = planner_from_settings(Settings(openai_api_key_parameter="/k"))
    assert isinstance(planner, OpenAIPlanner)
    assert planner._client.api_key == "sk-param"


def test_planner_is_offline_without_any_key() -> None:
    assert isinstance(planner_from_settings(Settings()), OfflinePlanner)
