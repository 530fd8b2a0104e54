"""API Gateway HTTP API emulation: routes from template.yaml, payload format 2.0 events."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack.auth import ISSUER_PATH, JwtAuthorizer, LocalIssuer, Unauthorized, event_authorizer_context
from devstack.lambdas import FunctionError, FunctionRegistry
from devstack.serving import json_response
from devstack.template import LOCAL_ACCOUNT, Route

# Extra handlers for paths outside the API (the static site of a later issue, for instance).
FallbackApp = Callable[[Request], Response | None]


def build_http_event(request: Request, route: Route, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload 2.0) sends to a Lambda integration."""
    body_bytes = request.get_data()
    is_text = True
    try:
        body: str | None = body_bytes.decode("utf-8") if body_bytes else None
    except UnicodeDecodeError:
        body, is_text = base64.b64encode(body_bytes).decode(), False
    headers = {key.lower(): value for key, value in request.headers.items()}
    cookies = [f"{k}={v}" for k, v in request.cookies.items()]
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body
    return event


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def response_from_result(result: Any) -> Response:
    """Turn a Lambda's result into an HTTP response, as API Gateway does for payload 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return json_response(result)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(key, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def unauthorized(description: str) -> Response:
    """API Gateway's answer when a JWT authorizer refuses a request (the function is not invoked)."""
    return Response(
        json.dumps({"message": "Unauthorized"}, separators=(",", ":")),
        status=401,
        content_type="application/json",
        headers={
            "www-authenticate": f'Bearer scope="" error="invalid_token" error_description="{description}"'
        },
    )


class HttpApiApp:
    """The HttpApi of template.yaml. With `issuer`, routes guarded by a JWT authorizer accept only
    tokens of that local issuer, as API Gateway would with the deployed issuer; without one (unit
    tests of the routing alone), authorizers are not emulated and events carry no claims."""

    def __init__(
        self,
        registry: FunctionRegistry,
        fallback: FallbackApp | None = None,
        issuer: LocalIssuer | None = None,
    ) -> None:
        self.registry = registry
        self.routes = registry.template.routes()
        self.fallback = fallback
        self.issuer = issuer

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path_matched = False
        for route, function in self.routes:
            params = route.match(request.method, request.path)
            if params is not None:
                event = build_http_event(request, route, params)
                if route.authorizer is not None and self.issuer is not None:
                    try:
                        claims = self.authorizer(route.authorizer).verify(
                            request.headers.get(self.registry.template.authorizers[route.authorizer].header)
                        )
                    except Unauthorized as refused:
                        return self._with_cors(unauthorized(refused.description))
                    event["requestContext"]["authorizer"] = event_authorizer_context(claims)
                return self._invoke(function.logical_id, event)
            if route.match(route.method, request.path) is not None:
                path_matched = True
        if request.method == "OPTIONS" and path_matched:
            return Response(status=204, headers=_cors_headers())
        if request.method == "GET" and self.issuer is not None:
            document = self._issuer_document(request.path)
            if document is not None:
                return self._with_cors(json_response(document))
        if self.fallback is not None:
            found = self.fallback(request)
            if found is not None:
                return found
        # API Gateway answers any unmatched route (whatever the method) with 404.
        return _error(404, "RouteNotFound", f"There is no route {request.method} {request.path}.")

    def authorizer(self, name: str) -> JwtAuthorizer:
        """The template's authorizer `name`, for the local issuer: its issuer URL stands in for the
        deployed one (`JwtIssuer`); the audiences are the template's (parameter defaults)."""
        assert self.issuer is not None
        spec = self.registry.template.authorizers[name]
        return JwtAuthorizer(
            issuer=self.issuer.issuer,
            audiences=[str(self.registry.template.resolve(a)) for a in spec.audience],
            jwks=self.issuer.jwks(),
        )

    def _issuer_document(self, path: str) -> dict[str, Any] | None:
        """The local issuer's key set and discovery document (Supabase serves them under /auth/v1)."""
        assert self.issuer is not None
        if path in ("/.well-known/jwks.json", f"{ISSUER_PATH}/.well-known/jwks.json"):
            return self.issuer.jwks()
        if path == f"{ISSUER_PATH}/.well-known/openid-configuration":
            return self.issuer.openid_configuration()
        return None

    @staticmethod
    def _with_cors(response: Response) -> Response:
        for key, value in _cors_headers().items():
            response.headers.setdefault(key, value)
        return response

    def _invoke(self, function_name: str, event: dict[str, Any]) -> Response:
        try:
            result = self.registry.invoke(function_name, event)
        except FunctionError:
            # API Gateway answers an unhandled Lambda error with a bare 500.
            return _error(500, "InternalServerError", "Internal Server Error")
        return self._with_cors(response_from_result(result))


def _cors_headers() -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key",
    }
