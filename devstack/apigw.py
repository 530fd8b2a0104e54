"""API Gateway HTTP API emulation: routes from template.yaml, payload format 2.0 events, and the
HTTP API's limits: a request body over 10 MB is refused before routing (413), and an integration
that has not answered within its `TimeoutInMillis` (30 s, the maximum and the default) is answered
503 while the handler goes on running, as a Lambda function does after API Gateway gave up."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from orchestrator.errors import InternalServerError, RouteNotFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from devstack.auth import ISSUER_PATH, JwtAuthorizer, LocalIssuer, Unauthorized, event_authorizer_context
from devstack.lambdas import FunctionError, FunctionRegistry
from devstack.serving import json_response
from devstack.template import LOCAL_ACCOUNT, Route, Template

log = logging.getLogger(__name__)

# API Gateway HTTP API quotas: request payload size (not adjustable), and an integration's timeout
# (50 ms to 30 s; 30 s when not set).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
DEFAULT_INTEGRATION_TIMEOUT_MS = 30_000
_INTEGRATION_TIMEOUT_RANGE_MS = (50, 30_000)

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


def request_too_large(limit: int = MAX_REQUEST_BYTES) -> Response:
    """API Gateway's answer to a request body over its payload limit (the function is not invoked):
    plain text, not JSON."""
    return Response(
        f"HTTP content length exceeded {limit} bytes.", status=413, content_type="text; charset=utf-8"
    )


def service_unavailable() -> Response:
    """HTTP API's answer when an integration has not answered within its timeout."""
    return Response(
        json.dumps({"message": "Service Unavailable"}, separators=(",", ":")),
        status=503,
        content_type="application/json",
    )


def integration_timeouts(template: Template) -> dict[str, float]:
    """Each route's integration timeout in seconds: its HttpApi event's `TimeoutInMillis`, else 30 s."""
    timeouts: dict[str, float] = {}
    for route, function in template.routes():
        resource = template.resources.get(function.logical_id) or {}
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            props = event.get("Properties") or {}
            if (
                event.get("Type") != "HttpApi"
                or str(props.get("Method", "")).upper() != route.method
                or props.get("Path") != route.path
            ):
                continue
            millis = int(template.resolve(props.get("TimeoutInMillis", DEFAULT_INTEGRATION_TIMEOUT_MS)))
            low, high = _INTEGRATION_TIMEOUT_RANGE_MS
            if not low <= millis <= high:
                raise ValueError(f"{route.route_key}: TimeoutInMillis {millis} is outside {low}..{high}")
            timeouts[route.route_key] = millis / 1000
    return timeouts


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
    tests of the routing alone), authorizers are not emulated and events carry no claims.

    Limits as deployed: each route's integration timeout from the template (30 s), which
    `integration_timeout_seconds` replaces for every route (tests), and `max_request_bytes` (10 MB)."""

    def __init__(
        self,
        registry: FunctionRegistry,
        fallback: FallbackApp | None = None,
        issuer: LocalIssuer | None = None,
        *,
        integration_timeout_seconds: float | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.registry = registry
        self.routes = registry.template.routes()
        self.fallback = fallback
        self.issuer = issuer
        self.timeouts = integration_timeouts(registry.template)
        self.integration_timeout_seconds = integration_timeout_seconds
        self.max_request_bytes = max_request_bytes

    def integration_timeout(self, route: Route) -> float:
        """Seconds the gateway waits for the route's function before it answers 503."""
        if self.integration_timeout_seconds is not None:
            return self.integration_timeout_seconds
        return self.timeouts.get(route.route_key, DEFAULT_INTEGRATION_TIMEOUT_MS / 1000)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if self._too_large(request):
            return request_too_large(self.max_request_bytes)
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
                return self._invoke(route, function.logical_id, event)
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
        return _error(404, RouteNotFound.code, f"There is no route {request.method} {request.path}.")

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

    def _too_large(self, request: Request) -> bool:
        """Whether the body is over the payload limit: its Content-Length says so, or (chunked) it
        runs past the limit while read. A body within it is read here once, for the event."""
        request.max_content_length = self.max_request_bytes
        try:
            body = request.get_data()
        except RequestEntityTooLarge:
            return True
        if request.content_length is None and len(body) >= self.max_request_bytes:
            # werkzeug stops reading a chunked body at the limit without saying whether more follows.
            return bool(request.input_stream.read(1))
        return False

    def _invoke(self, route: Route, function_name: str, event: dict[str, Any]) -> Response:
        """The function's answer, or 503 when it has not answered within the route's integration
        timeout. The handler is not stopped then: like a Lambda invocation, it runs to its end."""
        outcome: list[Any] = []
        done = threading.Event()

        def invoke() -> None:
            try:
                outcome.append(self.registry.invoke(function_name, event))
            except Exception as exc:
                outcome.append(exc)
            finally:
                done.set()

        timeout = self.integration_timeout(route)
        threading.Thread(target=invoke, name=f"invoke-{function_name}", daemon=True).start()
        if not done.wait(timeout):
            log.warning(
                "%s: %s did not answer within the %g s integration timeout: answered 503, the handler goes on",
                route.route_key,
                function_name,
                timeout,
            )
            return self._with_cors(service_unavailable())
        result = outcome[0] if outcome else FunctionError("Unknown", "the handler ended abnormally", [])
        if isinstance(result, FunctionError):
            # API Gateway answers an unhandled Lambda error with a bare 500.
            return _error(500, InternalServerError.code, "Internal Server Error")
        if isinstance(result, Exception):
            raise result
        return self._with_cors(response_from_result(result))


def _cors_headers() -> dict[str, str]:
    """template.yaml's CorsConfiguration (a unit test holds the two together)."""
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key, If-None-Match",
        "Access-Control-Expose-Headers": "Idempotent-Replayed, ETag",
    }
