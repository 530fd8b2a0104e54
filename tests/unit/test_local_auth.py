"""devstack/auth.py (the local issuer and API Gateway's JWT authorizer) and how the local gateway uses
it: which routes need a token is read from template.yaml, refusals are API Gateway's 401, and a valid
token's claims reach the function as strings."""

from __future__ import annotations

import json
import stat
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.test import Client

from devstack.apigw import HttpApiApp
from devstack.auth import (
    AUDIENCE,
    DEV_USER_ID,
    JwtAuthorizer,
    LocalIssuer,
    Unauthorized,
    auth_dir,
    claim_string,
    event_authorizer_context,
)
from devstack.cli import main as orch
from devstack.lambdas import FunctionRegistry
from devstack.template import load_template

ISSUER = "http://127.0.0.1:3999/auth/v1"
NOW = 2_000_000_000  # "now" in parameters (test_claims_api_gateway_checks_are_enforced)
UNAUTHORIZED = {"message": "Unauthorized"}


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("auth"), issuer=ISSUER)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def authorizer_for(issuer: LocalIssuer) -> JwtAuthorizer:
    return JwtAuthorizer(issuer=issuer.issuer, audiences=[AUDIENCE], jwks=issuer.jwks())


def signed(key: Any, claims: dict[str, Any], kid: str, algorithm: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


# --- the issuer ---------------------------------------------------------------------------------


def test_key_is_generated_once_and_kept_private_in_the_data_dir(tmp_path: Path) -> None:
    first = LocalIssuer.load_or_create(tmp_path, issuer=ISSUER)
    key_file = auth_dir(tmp_path) / "jwt-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.mint_token("user-1")
    again = LocalIssuer.load_or_create(tmp_path)  # a restart, or `orch token`
    assert again.kid == first.kid
    assert again.issuer == ISSUER  # the issuer URL the stack recorded
    assert authorizer_for(again).verify(f"Bearer {token}")["sub"] == "user-1"


def test_a_data_dir_the_stack_never_ran_in_uses_the_default_issuer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert LocalIssuer.load_or_create(tmp_path, default_issuer=ISSUER).issuer == ISSUER
    with pytest.raises(ValueError, match="no default_issuer"):
        LocalIssuer.load_or_create(tmp_path)
    # `orch token`'s default: the issuer `orch up` has with its default address.
    assert orch(["token", "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "http://127.0.0.1:3000/auth/v1"


def test_processes_creating_the_key_at_once_end_up_with_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        kids = set(
            pool.map(lambda _: LocalIssuer.load_or_create(tmp_path, default_issuer=ISSUER).kid, range(4))
        )
    assert len(kids) == 1
    assert [p.name for p in auth_dir(tmp_path).iterdir()] == ["jwt-signing-key.pem"]


def test_minted_token_carries_supabase_like_claims(issuer: LocalIssuer) -> None:
    before = int(time.time())
    token = issuer.mint_token("5b1c0c8e-0000-4000-8000-000000000001", "ada@example.com", expires_in=600)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == issuer.kid and header["typ"] == "JWT"
    claims = jwt.decode(
        token, issuer.private_key.public_key(), algorithms=["RS256"], audience="authenticated"
    )
    assert claims["sub"] == "5b1c0c8e-0000-4000-8000-000000000001"
    assert claims["aud"] == "authenticated"
    assert claims["role"] == "authenticated"
    assert claims["iss"] == ISSUER
    assert claims["email"] == "ada@example.com"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 600


def test_jwks_lists_the_public_key_under_its_thumbprint(issuer: LocalIssuer) -> None:
    jwks = issuer.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [issuer.kid]
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key and "p" not in key  # public parts only
    assert jwt.PyJWK(key).key.public_numbers() == issuer.private_key.public_key().public_numbers()
    # RFC 7638 thumbprint: 43 base64url characters of a SHA-256 digest.
    assert len(issuer.kid) == 43
    assert issuer.openid_configuration()["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert issuer.openid_configuration()["issuer"] == ISSUER


# --- the authorizer ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_valid_token_is_accepted_alone_or_after_bearer(issuer: LocalIssuer, prefix: str) -> None:
    claims = authorizer_for(issuer).verify(prefix + issuer.mint_token(DEV_USER_ID))
    assert claims["sub"] == DEV_USER_ID


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer   "])
def test_missing_token_is_refused(issuer: LocalIssuer, header: str | None) -> None:
    with pytest.raises(Unauthorized, match="no token"):
        authorizer_for(issuer).verify(header)


@pytest.mark.parametrize("header", ["Bearer abc", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer x y"])
def test_malformed_token_is_refused(issuer: LocalIssuer, header: str) -> None:
    with pytest.raises(Unauthorized, match="not a valid JWT"):
        authorizer_for(issuer).verify(header)


def test_token_signed_by_another_key_is_refused(issuer: LocalIssuer, other_key: rsa.RSAPrivateKey) -> None:
    forged = signed(other_key, issuer.claims(DEV_USER_ID), kid=issuer.kid)
    with pytest.raises(Unauthorized, match="signature"):
        authorizer_for(issuer).verify(f"Bearer {forged}")


def test_token_with_a_tampered_payload_is_refused(issuer: LocalIssuer) -> None:
    head, _, signature = issuer.mint_token(DEV_USER_ID).split(".")
    other_payload = issuer.mint_token("someone-else").split(".")[1]
    with pytest.raises(Unauthorized, match="signature"):
        authorizer_for(issuer).verify(f"{head}.{other_payload}.{signature}")


def test_unknown_kid_is_refused(issuer: LocalIssuer) -> None:
    token = signed(issuer.private_key, issuer.claims(DEV_USER_ID), kid="another-kid")
    with pytest.raises(Unauthorized, match="kid"):
        authorizer_for(issuer).verify(token)


def test_non_rsa_algorithms_are_refused_as_api_gateway_does(issuer: LocalIssuer) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    es256 = signed(ec_key, issuer.claims(DEV_USER_ID), kid=issuer.kid, algorithm="ES256")
    # The classic confusion attack: HMAC keyed with something public.
    hs256 = signed(b"k" * 32, issuer.claims(DEV_USER_ID), kid=issuer.kid, algorithm="HS256")
    unsigned = jwt.encode(issuer.claims(DEV_USER_ID), "", algorithm="none", headers={"kid": issuer.kid})
    for token, algorithm in ((es256, "ES256"), (hs256, "HS256"), (unsigned, "none")):
        with pytest.raises(Unauthorized, match=f"signing method {algorithm} is invalid"):
            authorizer_for(issuer).verify(token)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"iss": "https://elsewhere.supabase.co/auth/v1"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"aud": "anon"}, "audience"),
        ({"aud": ["anon", "service"]}, "audience"),
        ({"aud": None}, "audience"),
        ({"exp": NOW - 1}, "expired"),
        ({"exp": None}, "expired"),
        ({"exp": "tomorrow"}, "expired"),
        ({"nbf": NOW + 300}, "not valid yet"),
        ({"iat": NOW + 300}, "issued in the future"),
    ],
)
def test_claims_api_gateway_checks_are_enforced(
    issuer: LocalIssuer, changes: dict[str, Any], reason: str
) -> None:
    # Times are relative to when the test runs, not to when it was collected (minutes earlier in a
    # full run): NOW in a parameter stands for "now".
    now = int(time.time())
    changes = {k: now + (v - NOW) if isinstance(v, int) and v >= NOW - 10 else v for k, v in changes.items()}
    claims = {k: v for k, v in {**issuer.claims(DEV_USER_ID), **changes}.items() if v is not None}
    token = signed(issuer.private_key, claims, kid=issuer.kid)
    with pytest.raises(Unauthorized, match=reason):
        authorizer_for(issuer).verify(f"Bearer {token}")


def test_audience_may_be_a_list_or_client_id_when_aud_is_absent(issuer: LocalIssuer) -> None:
    base = {k: v for k, v in issuer.claims(DEV_USER_ID).items() if k != "aud"}
    as_list = signed(issuer.private_key, {**base, "aud": ["other", AUDIENCE]}, kid=issuer.kid)
    as_client = signed(issuer.private_key, {**base, "client_id": AUDIENCE}, kid=issuer.kid)
    both = signed(issuer.private_key, {**base, "aud": "other", "client_id": AUDIENCE}, kid=issuer.kid)
    assert authorizer_for(issuer).verify(as_list)["sub"] == DEV_USER_ID
    assert authorizer_for(issuer).verify(as_client)["sub"] == DEV_USER_ID
    with pytest.raises(Unauthorized, match="audience"):  # aud wins over client_id
        authorizer_for(issuer).verify(both)


def test_expired_token_from_mint_token_is_refused(issuer: LocalIssuer) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        authorizer_for(issuer).verify(issuer.mint_token(DEV_USER_ID, expires_in=-1))


# --- the claims in the event ---------------------------------------------------------------------


def test_claims_are_passed_on_as_strings() -> None:
    claims = {
        "sub": "u1",
        "exp": 1718722804,
        "ratio": 1.5,
        "whole": 2.0,
        "is_anonymous": False,
        "verified": True,
        "groups": ["a", "b"],
        "app_metadata": {"providers": ["email"], "provider": "email"},
        "nothing": None,
    }
    assert event_authorizer_context(claims) == {
        "jwt": {
            "claims": {
                "sub": "u1",
                "exp": "1718722804",
                "ratio": "1.5",
                "whole": "2",
                "is_anonymous": "false",
                "verified": "true",
                "groups": "[a b]",
                "app_metadata": "map[provider:email providers:[email]]",
                "nothing": "<nil>",
            },
            "scopes": None,
        }
    }
    assert claim_string({}) == "map[]" and claim_string([]) == "[]"


# --- the local gateway ---------------------------------------------------------------------------

ECHO_APP = """
import json

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"].get("authorizer")})}
"""


def echo_template(tmp_path: Path) -> Path:
    """An HttpApi with a JWT authorizer as template.yaml declares it, over a function that echoes
    what the gateway put in the event."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(ECHO_APP)
    (tmp_path / "sm.json").write_text('{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}')
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """
            Parameters:
              JwtIssuer: {Type: String}
              JwtAudience: {Type: String, Default: authenticated}
            Resources:
              HttpApi:
                Type: AWS::Serverless::HttpApi
                Properties:
                  Auth:
                    Authorizers:
                      SupabaseJwt:
                        IdentitySource: $request.header.Authorization
                        JwtConfiguration:
                          issuer: !Ref JwtIssuer
                          audience: [!Ref JwtAudience]
                    DefaultAuthorizer: SupabaseJwt
              EchoFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: echo/
                  Handler: app.lambda_handler
                  Events:
                    Guarded: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: GET, Path: /guarded}}
                    Open:
                      Type: HttpApi
                      Properties: {ApiId: !Ref HttpApi, Method: GET, Path: /open, Auth: {Authorizer: NONE}}
              Machine:
                Type: AWS::Serverless::StateMachine
                Properties: {DefinitionUri: sm.json}
            """
        )
    )
    return path


class CountingRegistry(FunctionRegistry):
    """The real registry, counting invocations (to see that a refused request never reaches one)."""

    invocations = 0

    def invoke(self, name: str, event: Any) -> Any:
        self.invocations += 1
        return super().invoke(name, event)


def test_template_routes_use_the_default_authorizer_unless_they_opt_out() -> None:
    template = load_template()
    spec = template.authorizers["SupabaseJwt"]
    assert spec.header == "Authorization"
    assert [template.resolve(a) for a in spec.audience] == ["authenticated"]
    guarded = {route.route_key: route.authorizer for route, _ in template.routes()}
    assert guarded["GET /api/health"] is None
    # Agents push without a person's token: that route checks the agent's own (X-Agent-Token).
    open_routes = {"GET /api/health", "GET /api/openapi.json", "POST /api/agent/access"}
    assert {key for key, name in guarded.items() if name is None} == open_routes
    assert all(name == "SupabaseJwt" for key, name in guarded.items() if key not in open_routes)
    assert guarded["POST /api/workflows/create"] == "SupabaseJwt"


def test_gateway_refuses_without_invoking_and_passes_claims_on(tmp_path: Path, issuer: LocalIssuer) -> None:
    registry = CountingRegistry(load_template(echo_template(tmp_path)))
    client = Client(HttpApiApp(registry, issuer=issuer))

    refused = client.get("/guarded")
    assert refused.status_code == 401
    assert refused.get_data(as_text=True) == '{"message":"Unauthorized"}'
    assert refused.headers["content-type"] == "application/json"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    expired = client.get(
        "/guarded", headers={"Authorization": f"Bearer {issuer.mint_token('u', expires_in=-5)}"}
    )
    assert expired.status_code == 401 and expired.get_json() == UNAUTHORIZED
    assert registry.invocations == 0

    open_route = client.get("/open")
    assert open_route.status_code == 200 and json.loads(open_route.get_data()) == {"authorizer": None}

    token = issuer.mint_token("user-7", "seven@example.com")
    answered = client.get("/guarded", headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 200
    context = json.loads(answered.get_data())["authorizer"]
    expected = jwt.decode(token, options={"verify_signature": False})
    assert context == {
        "jwt": {"claims": {name: claim_string(value) for name, value in expected.items()}, "scopes": None}
    }
    assert context["jwt"]["claims"]["sub"] == "user-7"
    assert context["jwt"]["claims"]["exp"] == str(expected["exp"])
    assert registry.invocations == 2


def test_gateway_serves_the_issuer_documents(tmp_path: Path, issuer: LocalIssuer) -> None:
    client = Client(HttpApiApp(FunctionRegistry(load_template(echo_template(tmp_path))), issuer=issuer))
    assert client.get("/.well-known/jwks.json").get_json() == issuer.jwks()
    assert client.get("/auth/v1/.well-known/jwks.json").get_json() == issuer.jwks()
    discovery = client.get("/auth/v1/.well-known/openid-configuration").get_json()
    assert discovery["issuer"] == ISSUER and discovery["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert json.loads(client.get("/.well-known/jwks.json").get_data())["keys"][0]["kid"] == issuer.kid
