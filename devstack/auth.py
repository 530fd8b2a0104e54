"""Identity on the local stack: a local stand-in for Supabase Auth and API Gateway's JWT authorizer.

In AWS, Supabase Auth issues the person's access token (an asymmetrically signed JWT, `aud`
"authenticated") and the HttpApi's JWT authorizer (template.yaml, `SupabaseJwt`) checks it before a
Lambda runs; the handlers read the caller from `requestContext.authorizer.jwt.claims.sub`.

Locally:

- `LocalIssuer` signs tokens with an RSA key (RS256) generated once and kept under the stack's
  data dir (`<data_dir>/auth/`), so tokens survive restarts. API Gateway's JWT authorizer only
  accepts RSA-signed tokens, so the local issuer uses the algorithm production has to use.
  Its issuer URL is the local API's URL + `/auth/v1` (like `https://<project>.supabase.co/auth/v1`);
  the local API serves its discovery document and JWKS under that path, and the JWKS also at
  `/.well-known/jwks.json`.
- `JwtAuthorizer` does what API Gateway's JWT authorizer does for a route that uses it: take the
  token from the identity source (optionally prefixed with `Bearer`), check the algorithm (RSA
  only), the `kid` against the key set, the signature, `iss`, `aud` (or `client_id` when there is
  no `aud`), `exp`, `nbf` and `iat`; anything wrong is `Unauthorized`, which the gateway answers
  with 401 `{"message":"Unauthorized"}` without invoking the function.
- `event_authorizer_context` is what a valid token adds to the payload 2.0 event:
  `{"jwt": {"claims": {...every claim as a string...}, "scopes": None}}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# Where the issuer lives under the local API (Supabase Auth: https://<project>.supabase.co/auth/v1).
ISSUER_PATH = "/auth/v1"
AUDIENCE = "authenticated"
ALGORITHM = "RS256"
# API Gateway's JWT authorizer: "Currently, only RSA-based algorithms are supported."
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
# The user `orch token` and the tests act as unless told otherwise (Supabase user ids are uuids).
DEV_USER_ID = "00000000-0000-4000-8000-00000000d0e5"
DEV_USER_EMAIL = "dev@localhost"

KEY_FILE = "jwt-signing-key.pem"
ISSUER_FILE = "issuer"


def auth_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "auth"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The key at `path`; generated (and written with mode 0600) if there is none yet.

    Two processes starting at once (`orch up` and `orch token`) end up with the same key: the file
    is linked into place only if it does not exist, and the loser reads the winner's key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The key as a JWK with `kid` = its RFC 7638 thumbprint, `alg` and `use` as Supabase lists them."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    required = {name: jwk[name] for name in ("e", "kty", "n")}
    thumbprint = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode())
    return {**required, "kid": _b64url(thumbprint.digest()), "alg": ALGORITHM, "use": "sig"}


@dataclass
class LocalIssuer:
    """Signs Supabase-like access tokens for local users."""

    private_key: rsa.RSAPrivateKey
    issuer: str
    audience: str = AUDIENCE
    jwk: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.jwk = public_jwk(self.private_key.public_key())

    @classmethod
    def load_or_create(
        cls, data_dir: Path, issuer: str | None = None, *, default_issuer: str | None = None
    ) -> LocalIssuer:
        """The data dir's issuer. With `issuer`, that URL is recorded for `orch token`; without, the
        recorded one is used, or `default_issuer` when no stack recorded one there."""
        folder = auth_dir(data_dir)
        key = _load_or_create_key(folder / KEY_FILE)
        issuer_file = folder / ISSUER_FILE
        if issuer is not None:
            issuer_file.write_text(issuer + "\n")
        elif issuer_file.exists():
            issuer = issuer_file.read_text().strip()
        issuer = issuer or default_issuer
        if not issuer:
            raise ValueError(f"{issuer_file} records no issuer and no default_issuer was given")
        return cls(key, issuer=issuer)

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        """The key set, as served at `{issuer}/.well-known/jwks.json`."""
        return {"keys": [dict(self.jwk)]}

    def openid_configuration(self) -> dict[str, Any]:
        """The discovery document API Gateway reads at `{issuer}/.well-known/openid-configuration`."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "subject_types_supported": ["public"],
            "response_types_supported": ["code"],
        }

    def claims(
        self, user_id: str, email: str | None = None, expires_in: int = 3600, now: float | None = None
    ) -> dict[str, Any]:
        """The claims Supabase Auth puts in a user's access token."""
        issued_at = int(time.time() if now is None else now)
        return {
            "iss": self.issuer,
            "sub": user_id,
            "aud": self.audience,
            "exp": issued_at + expires_in,
            "iat": issued_at,
            "email": email or "",
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "role": "authenticated",
            "aal": "aal1",
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
        }

    def mint_token(
        self,
        user_id: str,
        email: str | None = None,
        expires_in: int = 3600,
        *,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token for `user_id`; `extra_claims` override or add claims (tests use
        them for wrong audiences and the like)."""
        payload = {**self.claims(user_id, email, expires_in), **(extra_claims or {})}
        return jwt.encode(payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


_SIGNATURE_ONLY: Any = {
    "verify_signature": True,
    **{f"verify_{claim}": False for claim in ("exp", "nbf", "iat", "aud", "iss", "sub", "jti")},
}


class Unauthorized(Exception):
    """The request does not carry a token the authorizer accepts (API Gateway answers 401)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class JwtAuthorizer:
    """API Gateway's JWT authorizer, for one issuer, its audiences and its key set."""

    issuer: str
    audiences: list[str]
    jwks: dict[str, Any]

    def token_from(self, header_value: str | None) -> str:
        """The token in the identity source: the token alone, or prefixed with `Bearer`."""
        value = (header_value or "").strip()
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "bearer":
            value = rest.strip()
        if not value:
            raise Unauthorized("no token was provided")
        return value

    def verify(self, header_value: str | None, now: float | None = None) -> dict[str, Any]:
        """The token's claims, if API Gateway would let the request through; else `Unauthorized`."""
        token = self.token_from(header_value)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("the token is not a valid JWT") from exc
        algorithm = header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise Unauthorized(f"signing method {algorithm} is invalid")
        key = next((k for k in self.jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
        if key is None:
            raise Unauthorized("the token's kid does not match a key of the issuer")
        public_key = RSAAlgorithm.from_jwk(key)
        if isinstance(public_key, rsa.RSAPrivateKey):  # a key set lists public keys; be safe anyway
            public_key = public_key.public_key()
        try:
            # pyjwt checks the signature only; the claims are checked below, in API Gateway's terms.
            claims: dict[str, Any] = jwt.decode(
                token, public_key, algorithms=[algorithm], options=_SIGNATURE_ONLY
            )
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("the token's signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the token is not a valid JWT") from exc
        self.check_claims(claims, time.time() if now is None else now)
        return claims

    def check_claims(self, claims: dict[str, Any], now: float) -> None:
        if claims.get("iss") != self.issuer:
            raise Unauthorized("the token does not have a valid issuer")
        audience = claims.get("aud", claims.get("client_id"))
        offered = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self.audiences for a in offered):
            raise Unauthorized("the token does not have a valid audience")
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float) or exp <= now:
            raise Unauthorized("the token has expired")
        if nbf is not None and (not isinstance(nbf, int | float) or nbf > now):
            raise Unauthorized("the token is not valid yet")
        if iat is not None and (not isinstance(iat, int | float) or iat > now):
            raise Unauthorized("the token was issued in the future")


def claim_string(value: Any) -> str:
    """A claim value as API Gateway passes it on: strings as they are, numbers in plain digits,
    arrays and objects printed the way Go's fmt prints them (`[a b]`, `map[k:v]`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return "<nil>"
    if isinstance(value, list):
        return "[" + " ".join(claim_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{claim_string(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def event_authorizer_context(claims: dict[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` of a payload 2.0 event for a route with a JWT authorizer."""
    return {"jwt": {"claims": {name: claim_string(value) for name, value in claims.items()}, "scopes": None}}
