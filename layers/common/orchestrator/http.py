"""What every Lambda shares: the HTTP resolver with JSON errors, the caller's identity, and the
split between API Gateway events and state-machine task payloads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, ValidationError

from orchestrator.config import ConfigError
from orchestrator.errors import OrchestratorError
from orchestrator.observability import logger


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(status_code=status, content_type="application/json", body={"error": error})


def json_response(model: BaseModel, status: int = 200) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=model.model_dump(mode="json"))


def _describe_validation_errors(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in errors:
        location = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        details.append({"field": ".".join(location) or "body", "problem": err.get("msg", "invalid")})
    if any(err.get("type") == "json_invalid" for err in errors):
        return "The request body is not valid JSON.", details
    sentence = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
    return f"The request is not valid: {sentence}.", details


class RequestScopedResolver(APIGatewayHttpResolver):
    """Powertools keeps the request being resolved on the router *class* and its route context on the
    instance: right for Lambda, where a container handles one request at a time, wrong for the local
    stack, which serves many requests at once in one process (one user's request could read another's
    claims). Here both live in the resolving thread; in Lambda that changes nothing."""

    _request = threading.local()

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
        self._request.event = self._to_proxy_event(dict(event))
        self._request.context = {}
        return super().resolve(event, context)


def make_resolver() -> APIGatewayHttpResolver:
    app = RequestScopedResolver(enable_validation=True)

    @app.exception_handler(OrchestratorError)
    def _domain_error(exc: OrchestratorError) -> Response:
        logger.info("request refused", extra={"code": exc.code, "error_message": exc.message})
        return Response(
            status_code=exc.http_status, content_type="application/json", body={"error": exc.to_dict()}
        )

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        message, details = _describe_validation_errors(list(exc.errors()))
        return error_response(400, "BadRequest", message, details)

    @app.exception_handler(ValidationError)
    def _invalid_model(exc: ValidationError) -> Response:
        message, details = _describe_validation_errors([dict(e) for e in exc.errors()])
        return error_response(400, "BadRequest", message, details)

    @app.exception_handler(NotFoundError)
    def _no_route(exc: NotFoundError) -> Response:
        return error_response(404, "RouteNotFound", "There is no such route.")

    @app.exception_handler(ConfigError)
    def _misconfigured(exc: ConfigError) -> Response:
        logger.error("configuration error", extra={"error_message": str(exc)})
        return error_response(
            503, "ServiceMisconfigured", "The service is misconfigured; an operator has to fix it."
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "InternalError", "Something went wrong on our side; please try again.")

    return app


def current_user(app: APIGatewayHttpResolver) -> str | None:
    """The caller's user id from the JWT authorizer's claims, when the route has an authorizer."""
    context = app.current_event.raw_event.get("requestContext", {})
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    sub = claims.get("sub")
    return str(sub) if sub else None


def is_http_event(event: dict[str, Any]) -> bool:
    return isinstance(event, dict) and "requestContext" in event and "routeKey" in event


def handle(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: Any,
    task: Callable[[dict[str, Any]], BaseModel | None] | None = None,
) -> dict[str, Any]:
    """Route API Gateway events to `app`, anything else (a state-machine task payload) to `task`.

    A task's domain error propagates: the Lambda runtime reports it with the exception's class
    name as `errorType`, which is the error name the state machine's Retry/Catch see.
    """
    if is_http_event(event) or task is None:
        return app.resolve(event, context)
    result = task(event)
    return result.model_dump(mode="json") if result is not None else {"ok": True}
