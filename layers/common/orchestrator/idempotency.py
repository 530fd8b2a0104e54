"""`Idempotency-Key` for the API routes that change things: create, start and submit_payment.

A client that may send a request twice (a retry after a timeout, a double click) sends the header
`Idempotency-Key: <1 to 255 printable ASCII characters>`, e.g. a fresh UUID per intended action:

- the same key with the same body, by the same user, on the same route, within
  `IDEMPOTENCY_EXPIRY_SECONDS` (default 24 h) gets the first answer again (same status code and
  body, plus the header `Idempotent-Replayed: true`) and no work is done twice;
- the same key with a different body: 409 `IdempotencyKeyReused`;
- the same key while the first request is still running: 409 `IdempotencyInProgress` (try again);
- an error answer (4xx or 5xx) is not remembered: the key is released, so a corrected or retried
  request with the same key runs afresh;
- without the header, a route works exactly as it does without this module.

Keys are scoped by route and by user (the JWT's `sub`), so two users never share a key. Bodies are
compared after parsing (camelCase and snake_case spellings of one body are the same body).

Records live in the DynamoDB table named by `IDEMPOTENCY_TABLE` (Powertools'
`DynamoDBPersistenceLayer`: partition key `id`, TTL attribute `expiration`). When the setting is
unset, idempotency is off and the header is ignored (after validation). When the table cannot be
reached, a request with a key is refused with 503 `IdempotencyUnavailable` before any work is done,
rather than run without the guarantee the client asked for. If the answer cannot be remembered after
the work was done, the answer is still returned; the key then stays "in progress" until the
function's own timeout has passed (Powertools' in-progress expiry), so a retry cannot repeat the work
meanwhile.

boto3 and the persistence layer are imported and created only when a request carries a key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel

from orchestrator.errors import IdempotencyInProgress, IdempotencyKeyReused, IdempotencyUnavailable
from orchestrator.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from orchestrator.config import Settings


IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

# The route parameter every idempotent route declares (it also documents the header in OpenAPI).
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x20-\x7e]+$",
        description=(
            "Optional, e.g. a UUID per action. Within 24 h (by default), the same key and body "
            "replays the first successful answer (header Idempotent-Replayed: true) without doing "
            "the work again; another body: 409 IdempotencyKeyReused; the first still running: 409 "
            "IdempotencyInProgress. Scoped per route and user; error answers are not remembered."
        ),
    ),
]


class _NotRemembered(Exception):
    """An error answer returned (not raised) by the work: released, never stored as a success."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__(response.status_code)
        self.response = response


_lock = threading.Lock()
_clients: dict[str, Any] = {}
_layers: dict[tuple[str, str, str, int], DynamoDBPersistenceLayer] = {}


def _key_prefix(operation: str) -> str:
    return f"orchestrator.{operation}"


def _config(expiry_seconds: int, lambda_context: Any) -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[route, user, key]",  # the scope: route and user, then the client's key
        payload_validation_jmespath="body",  # same key, another body: IdempotencyKeyReused
        expires_after_seconds=expiry_seconds,
        hash_function="sha256",
        lambda_context=lambda_context,
    )


def _persistence_layer(
    table: str, region: str, operation: str, expiry_seconds: int
) -> DynamoDBPersistenceLayer:
    """One layer per table, route and expiry, created once per process (Lambda container).

    A layer takes its settings from the first configuration it sees and keeps a per-route key prefix,
    so routes do not share layers; it is configured here, under the lock, before any thread uses it.
    """
    cache_key = (table, region, operation, expiry_seconds)
    with _lock:
        layer = _layers.get(cache_key)
        if layer is None:
            import boto3  # heavy; only requests that carry a key pay for it
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

            client = _clients.get(region)
            if client is None:
                client = _clients[region] = boto3.session.Session().client("dynamodb", region_name=region)
            layer = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
            layer.configure(_config(expiry_seconds, None), key_prefix=_key_prefix(operation))
            _layers[cache_key] = layer
    return layer


def reset_idempotency() -> None:
    """Forget cached clients and layers (tests that start and stop moto call this)."""
    with _lock:
        _clients.clear()
        _layers.clear()


def _stored(response: Response[Any]) -> dict[str, Any]:
    """What is remembered of a success. The body is kept as JSON text: Powertools stores the record
    with sorted keys, and a replay should keep the body's own key order."""
    headers = {k: v for k, v in (response.headers or {}).items() if k.lower() != REPLAYED_HEADER.lower()}
    return {
        "status_code": int(response.status_code),
        "headers": headers,
        "body_json": json.dumps(response.body, separators=(",", ":"), default=str),
    }


def _replayed(stored: dict[str, Any]) -> Response[Any]:
    headers = {**(stored.get("headers") or {}), REPLAYED_HEADER: "true"}
    body = json.loads(stored["body_json"])
    return Response(status_code=int(stored["status_code"]), body=body, headers=headers)


def idempotent_response(
    app: APIGatewayHttpResolver,
    *,
    operation: str,
    key: str | None,
    user_id: str | None,
    request: BaseModel,
    answer: Callable[[], Response[Any]],
    settings: Settings,
) -> Response[Any]:
    """`answer()` at most once per (operation, user, key) with one body; see the module docstring.

    `operation` names the route (the key's scope); `request` is the parsed body; `answer` does the
    work and returns the route's response. Domain errors `answer` raises propagate as usual (after
    releasing the key), and so the resolver turns them into JSON errors.
    """
    if key is None or not settings.idempotency_table:
        return answer()

    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyInconsistentStateError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    layer = _persistence_layer(
        settings.idempotency_table, settings.aws_region, operation, settings.idempotency_expiry_seconds
    )
    outcome: dict[str, Any] = {}

    def work(request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = answer()
        except Exception as exc:
            outcome["error"] = exc
            raise  # Powertools deletes the in-progress record: the key is free again
        outcome["response"] = response
        if int(response.status_code) >= 400:
            raise _NotRemembered(response)
        return _stored(response)

    guarded = idempotent_function(
        work,
        data_keyword_argument="request",
        persistence_store=layer,
        config=_config(settings.idempotency_expiry_seconds, getattr(app, "lambda_context", None)),
        key_prefix=_key_prefix(operation),
    )
    payload = {"route": operation, "user": user_id, "key": key, "body": request.model_dump(mode="json")}
    try:
        stored = guarded(request=payload)
    except _NotRemembered as exc:
        return exc.response
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a request with a different body; "
            "use a new key for a new request."
        ) from exc
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError) as exc:
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still being processed; try again shortly."
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        if "error" in outcome:
            # The work failed and its record could not be released; the work's own error is the answer.
            logger.error("idempotency record not released", extra={"operation": operation, "cause": str(exc)})
            raise outcome["error"] from None
        if "response" in outcome:
            # The work was done but its answer could not be stored: answer anyway.
            logger.error("idempotent answer not stored", extra={"operation": operation, "cause": str(exc)})
            unstored: Response[Any] = outcome["response"]
            return unstored
        logger.error("idempotency store unavailable", extra={"operation": operation, "cause": str(exc)})
        raise IdempotencyUnavailable(
            "The request could not be checked against its Idempotency-Key; nothing was done. "
            "Try again shortly."
        ) from exc
    if "response" in outcome:
        answered: Response[Any] = outcome["response"]
        return answered
    logger.info("idempotent replay", extra={"operation": operation})
    return _replayed(stored)
