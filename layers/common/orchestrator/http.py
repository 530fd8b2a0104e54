"""What every Lambda shares: the HTTP resolver with JSON errors, the caller's identity, and the
split between API Gateway events and state-machine task payloads.

Every request body is screened here, once for every route, before a handler (or Powertools'
validation) sees it: a body must be sent as `application/json` (else 415 `UnsupportedMediaType`), be
at most `MAX_BODY_BYTES` (else 413 `PayloadTooLarge`), be UTF-8 and one JSON document nesting at most
`MAX_JSON_DEPTH` levels (else 400 `BadRequest`); then the route's model refuses unknown fields (422
`UnknownFields`, naming them) and invalid ones (400 `BadRequest`, naming each and why). No input
makes a handler fail with a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, ValidationError

from orchestrator.config import ConfigError
from orchestrator.errors import (
    BadRequest,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InternalError,
    OrchestratorError,
    PayloadTooLarge,
    RouteNotFound,
    ServiceMisconfigured,
    StoreUnavailable,
    Unauthorized,
    UnknownFields,
    UnsupportedMediaType,
)
from orchestrator.observability import logger
from orchestrator.schemas.api import MAX_BODY_BYTES, ErrorResponse, GatewayMessage, JsonBodyError, read_json

if TYPE_CHECKING:
    from orchestrator.dependencies import Dependencies

# --- errors of the HTTP edge ---------------------------------------------------------------------


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    """An error answer in the API's shape; the orchestrator's own codes go through
    `domain_error_response` (their status and code come from their class)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(status_code=status, content_type="application/json", body={"error": error})


def domain_error_response(error: OrchestratorError) -> Response[Any]:
    """`{"error": {"code", "message", "details"?}}` with the error's HTTP status."""
    return Response(
        status_code=error.http_status, content_type="application/json", body={"error": error.to_dict()}
    )


def json_response(model: BaseModel, status: int = 200) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=model.model_dump(mode="json"))


def _refusal_response(exc: OrchestratorError) -> Response[Any]:
    """A refused request's answer, logged."""
    logger.info("request refused", extra={"code": exc.code, "error_message": exc.message})
    return domain_error_response(exc)


# --- the request body ----------------------------------------------------------------------------

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"


def _header(event: APIGatewayProxyEventV2, name: str) -> str | None:
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return None
    value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name), None)
    return value if isinstance(value, str) else None


def _check_media_type(content_type: str | None) -> None:
    media_type, _, parameters = (content_type or "").partition(";")
    charset = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in parameters.split(";"))
            if name.strip().lower() == "charset"
        ),
        None,
    )
    if media_type.strip().lower() != JSON_MEDIA_TYPE or charset not in (None, "utf-8", "utf8"):
        shown = (content_type or "none")[:100]
        raise UnsupportedMediaType(
            f"This route takes a JSON body: send it with Content-Type: {JSON_MEDIA_TYPE} (UTF-8); "
            f"this one came as {shown}.",
            details={"content_type": content_type[:100] if content_type else None},
        )


def screen_body(event: APIGatewayProxyEventV2, max_body_bytes: int = MAX_BODY_BYTES) -> bool:
    """Refuse a request body that no route reads (see the module's docstring), by raising the
    error to answer; True when there is a body and it is UTF-8 JSON text within the size limit. A
    request without a body passes: the route says whether it needs one."""
    context = event.get("requestContext") or {}
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else None
    if not isinstance(method, str) or method.upper() not in BODY_METHODS:
        return False
    body = event.get("body")
    if body is None or body == "":
        return False
    if not isinstance(body, str):
        raise BadRequest("The request body could not be read.")
    _check_media_type(_header(event, "content-type"))
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("The request body could not be read.") from exc
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > max_body_bytes:
        raise PayloadTooLarge(
            f"The request body is {len(raw)} bytes; this route takes at most {max_body_bytes}.",
            details={"limit_bytes": max_body_bytes},
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("The request body is not UTF-8 text.") from exc
    return True


def _json_body(text: str, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The resolver's JSON reader (Powertools calls it for `Body()` parameters): within the limits,
    and a refusal is a 400 naming the problem, never an exception that escapes."""
    try:
        return read_json(text, max_bytes)
    except JsonBodyError as exc:
        raise BadRequest(str(exc)) from exc


# --- validation errors ---------------------------------------------------------------------------


def _field_of(err: Mapping[str, Any]) -> str:
    location = [str(p) for p in err.get("loc", ()) if p != "body"]
    field = ".".join(location) or "body"
    return field if len(field) <= 64 else field[:64] + "…"


def _describe_validation_errors(errors: list[Any]) -> OrchestratorError:
    """The answer to a body or parameter the route's model refused: 422 `UnknownFields` when it has
    fields the route does not know (each named), else 400 `BadRequest` naming each invalid field."""
    details = [
        {"field": _field_of(err), "problem": str(err.get("msg", "invalid"))}
        for err in errors
        if isinstance(err, Mapping)
    ]
    unknown = [
        _field_of(err) for err in errors if isinstance(err, Mapping) and err.get("type") == "extra_forbidden"
    ]
    if any(isinstance(err, Mapping) and err.get("type") == "json_invalid" for err in errors):
        return BadRequest("The request body is not valid JSON.", details=details)
    sentence = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
    if unknown:
        return UnknownFields(
            f"The request has fields this route does not know: {', '.join(unknown)}.",
            details={"unknown_fields": unknown, "problems": details},
        )
    return BadRequest(f"The request is not valid: {sentence}.", details=details)


# --- the resolver --------------------------------------------------------------------------------


class RequestScopedResolver(APIGatewayHttpResolver):
    """Powertools keeps the request being resolved on the router *class* and its route context on the
    instance: right for Lambda, where a container handles one request at a time, wrong for the local
    stack, which serves many requests at once in one process (one user's request could read another's
    claims). Here both live in the resolving thread; in Lambda that changes nothing.

    It also screens the body (`screen_body`) before any route runs."""

    _request = threading.local()
    max_body_bytes = MAX_BODY_BYTES  # what make_resolver's caller says a body may take

    @property  # type: ignore[override]
    def current_event(self) -> APIGatewayProxyEventV2:
        event: APIGatewayProxyEventV2 = self._request.event
        return event

    @current_event.setter
    def current_event(self, value: APIGatewayProxyEventV2) -> None:
        self._request.event = value

    @property
    def context(self) -> dict[str, Any]:
        if not hasattr(self._request, "context"):
            self._request.context = {}
        context: dict[str, Any] = self._request.context
        return context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._request.context = value

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        # Powertools' resolve() sets the event on the router class, which the property above hides:
        # the event of this thread is set here.
        self._request.event = self._to_proxy_event(dict(event))
        self._request.context = {}
        try:
            screened = screen_body(self._request.event, self.max_body_bytes)
        except OrchestratorError as refused:
            builder: ResponseBuilder[Any] = ResponseBuilder(_refusal_response(refused), self._serializer)
            return builder.build(self._request.event, self._cors)
        if screened:  # Powertools matches the media type case-sensitively: hand it the canonical one
            headers = {
                k: v for k, v in (event.get("headers") or {}).items() if str(k).lower() != "content-type"
            }
            event = {**event, "headers": {**headers, "content-type": JSON_MEDIA_TYPE}}
            self._request.event = self._to_proxy_event(dict(event))
        return super().resolve(event, context)


def make_resolver(max_body_bytes: int = MAX_BODY_BYTES) -> APIGatewayHttpResolver:
    app = RequestScopedResolver(
        enable_validation=True, json_body_deserializer=lambda text: _json_body(text, max_body_bytes)
    )
    app.max_body_bytes = max_body_bytes

    @app.exception_handler(OrchestratorError)
    def _domain_error(exc: OrchestratorError) -> Response[Any]:
        return _refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        return _refusal_response(_describe_validation_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    def _invalid_model(exc: ValidationError) -> Response[Any]:
        return _refusal_response(_describe_validation_errors([dict(e) for e in exc.errors()]))

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(exc: RequestUnsupportedContentType) -> Response[Any]:
        return _refusal_response(
            UnsupportedMediaType(
                f"This route takes a JSON body: send it with Content-Type: {JSON_MEDIA_TYPE}."
            )
        )

    @app.exception_handler(NotFoundError)
    def _no_route(exc: NotFoundError) -> Response[Any]:
        return domain_error_response(RouteNotFound("There is no such route."))

    @app.exception_handler(ConfigError)
    def _misconfigured(exc: ConfigError) -> Response[Any]:
        logger.error("configuration error", extra={"error_message": str(exc)})
        return domain_error_response(
            ServiceMisconfigured("The service is misconfigured; an operator has to fix it.")
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return domain_error_response(InternalError("Something went wrong on our side; please try again."))

    return app


# --- the OpenAPI document: what each route answers -------------------------------------------------

_ERROR_CONTENT: dict[str, Any] = {"application/json": {"model": ErrorResponse}}
# Answers API Gateway may give itself ({"message": ...}) as well as the handler's error body.
_ERROR_OR_GATEWAY_CONTENT: dict[str, Any] = {"application/json": {"model": ErrorResponse | GatewayMessage}}
_GATEWAY_TOO: frozenset[int] = frozenset({401, 413, 503, 504})

BODY_ERRORS: dict[int, str] = {
    400: "The body is not UTF-8 JSON, nests too deep, or a field is missing, of the wrong type or out "
    f"of range ({BadRequest.code}; `details` names each field and why)",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes ({PayloadTooLarge.code}; API Gateway's own 413 "
    "past its 10 MB)",
    415: f"The body is not sent as Content-Type: application/json ({UnsupportedMediaType.code})",
    422: f"The body has fields this route does not know ({UnknownFields.code}; `details.unknown_fields`)",
}
SIGNED_IN_ERRORS: dict[int, str] = {
    401: 'No valid access token: API Gateway\'s JWT authorizer answers {"message":"Unauthorized"}; '
    "a valid token that names no user (sub) is Unauthorized",
    503: "A service the API needs (database, Step Functions, idempotency table) is unavailable or "
    f"misconfigured ({StoreUnavailable.code}, {ServiceMisconfigured.code}, …)",
}


IDEMPOTENCY_ERRORS: dict[int, str] = {
    409: f"The Idempotency-Key was used with another body ({IdempotencyKeyReused.code}), or its first "
    f"request is still running ({IdempotencyInProgress.code})",
}


def api_responses(
    status: int,
    description: str,
    errors: Mapping[int, str] | None = None,
    *,
    body: bool = True,
    signed_in: bool = True,
    idempotent: bool = False,
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success `status` (the route's return model) and every
    error it can give, each `{"error": {"code", "message", "details"?}}` (or API Gateway's own
    `{"message"}` where the gateway may answer first). `errors` adds the route's own errors (their
    description joins the common one for the same status)."""
    documented: dict[int, str] = {}
    groups = (
        BODY_ERRORS if body else {},
        SIGNED_IN_ERRORS if signed_in else {},
        errors or {},
        IDEMPOTENCY_ERRORS if idempotent else {},
    )
    for common in groups:
        for code, text in common.items():
            documented[code] = f"{documented[code]}. {text}" if code in documented else text
    answers: dict[int, OpenAPIResponse] = {status: {"description": description}}
    for code in sorted(documented):
        # On an open route (no JWT authorizer) a 401 is the route's own, never the gateway's.
        gateway_too = code in _GATEWAY_TOO and (signed_in or code != 401)
        content = _ERROR_OR_GATEWAY_CONTENT if gateway_too else _ERROR_CONTENT
        answers[code] = {"description": documented[code], "content": dict(content)}
    return answers


# --- the caller ------------------------------------------------------------------------------------

_NO_TOKEN = object()


def _token_subject(event: APIGatewayProxyEventV2) -> Any:
    """The `sub` of the bearer token as the token has it (any JSON type, or `_NO_TOKEN` when the
    request carries no readable token). API Gateway has already verified the token; its claims in the
    event are strings (`123` arrives as "123", null as "<nil>"), so only the token itself tells
    whether `sub` is really a string. Used to refuse, never to accept."""
    value = (_header(event, "authorization") or "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16 * 1024:
        return _NO_TOKEN
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        return _NO_TOKEN
    return payload.get("sub") if isinstance(payload, dict) else _NO_TOKEN


def current_user(app: APIGatewayHttpResolver) -> str:
    """The caller's user id: the JWT authorizer's `sub` claim. A route that needs a caller and has
    none (no authorizer, or a validly signed token without a non-empty string `sub`) is refused:
    "no user" never means "any user"."""
    context = app.current_event.raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    token_sub = _token_subject(app.current_event)
    named = isinstance(sub, str) and bool(sub.strip()) and len(sub) <= 255 and sub.isprintable()
    if not named or (token_sub is not _NO_TOKEN and token_sub != sub):
        raise Unauthorized("This request needs a signed-in user: the access token names no user (sub).")
    assert isinstance(sub, str)
    return sub


def is_http_event(event: dict[str, Any]) -> bool:
    return isinstance(event, dict) and "requestContext" in event and "routeKey" in event


def handle(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: Any,
    task: Callable[[dict[str, Any], Dependencies], BaseModel | None] | None = None,
) -> dict[str, Any]:
    """Route API Gateway events to `app`, anything else (a state-machine task payload) to `task`,
    with the Dependencies the app's routes get (`dependencies_of`: a test's override, if any).

    A task's domain error propagates: the Lambda runtime reports it with the exception's class
    name as `errorType`, which is the error name the state machine's Retry/Catch see.
    """
    if is_http_event(event) or task is None:
        return app.resolve(event, context)
    from orchestrator.dependencies import dependencies_of  # only functions with a task need it

    result = task(event, dependencies_of(app))
    return result.model_dump(mode="json") if result is not None else {"ok": True}
