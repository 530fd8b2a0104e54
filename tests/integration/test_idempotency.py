"""orchestrator.idempotency: the Idempotency-Key contract of the API routes, on Powertools' DynamoDB
persistence layer with moto's DynamoDB, through a real resolver from `orchestrator.http`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext
from moto import mock_aws
from orchestrator.config import Settings
from orchestrator.errors import InvalidState
from orchestrator.http import current_user, error_response, json_response, make_resolver
from orchestrator.idempotency import (
    REPLAYED_HEADER,
    IdempotencyKeyHeader,
    idempotent_response,
    reset_idempotency,
)
from pydantic import BaseModel

REGION = "us-east-1"
TABLE = "idempotency-test"
SETTINGS = Settings(idempotency_table=TABLE, aws_region=REGION, idempotency_expiry_seconds=3600)


class OrderRequest(BaseModel):
    item: str
    quantity: int = 1


class OrderView(BaseModel):
    number: int
    item: str
    quantity: int
    user: str | None


class Context(LambdaContext):
    """The parts of a Lambda context Powertools reads."""

    function_name = "unit-test"
    aws_request_id = "req-1"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:unit-test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@dataclass
class Shop:
    """Two routes whose work is counted; `refuse`, `teapot` and `gate` shape the next answers."""

    settings: Settings = field(default_factory=lambda: SETTINGS)
    orders: list[OrderView] = field(default_factory=list)
    refuse: bool = False  # raise a domain error (409 InvalidState)
    teapot: bool = False  # return an error answer without raising
    gate: threading.Event | None = None  # block inside the work until set
    entered: threading.Event = field(default_factory=threading.Event)
    huge_answer: bool = False
    app: APIGatewayHttpResolver = field(init=False)

    def __post_init__(self) -> None:
        self.app = make_resolver()

        @self.app.post("/orders")
        def order(
            body: Annotated[OrderRequest, Body()], idempotency_key: IdempotencyKeyHeader = None
        ) -> Response[OrderView]:
            return self._serve("orders", body, idempotency_key)

        @self.app.post("/kettles")
        def kettle(
            body: Annotated[OrderRequest, Body()], idempotency_key: IdempotencyKeyHeader = None
        ) -> Response[Any]:
            # No response model: error answers returned (not raised) reach the client as they are.
            return self._serve("kettles", body, idempotency_key)

        @self.app.post("/gifts")
        def gift(
            body: Annotated[OrderRequest, Body()], idempotency_key: IdempotencyKeyHeader = None
        ) -> Response[OrderView]:
            return self._serve("gifts", body, idempotency_key)

    def _serve(self, operation: str, body: OrderRequest, key: str | None) -> Response[Any]:
        user_id = current_user(self.app)
        return idempotent_response(
            self.app,
            operation=operation,
            key=key,
            user_id=user_id,
            request=body,
            answer=lambda: self._work(body, user_id),
            settings=self.settings,
        )

    def _work(self, body: OrderRequest, user_id: str | None) -> Response[Any]:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.refuse:
            raise InvalidState("The shop is closed.")
        if self.teapot:
            return error_response(418, "Teapot", "I am a teapot.")
        item = body.item * 250_000 if self.huge_answer else body.item
        view = OrderView(number=len(self.orders) + 1, item=item, quantity=body.quantity, user=user_id)
        self.orders.append(view)
        return json_response(view, status=201)

    def post(
        self,
        path: str,
        body: Any,
        key: str | None = None,
        user: str | None = "user-a",
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if key is not None:
            headers["idempotency-key"] = key
        context: dict[str, Any] = {
            "http": {"method": "POST", "path": path},
            "routeKey": f"POST {path}",
            "stage": "$default",
            "requestId": "r",
        }
        if user is not None:
            context["authorizer"] = {"jwt": {"claims": {"sub": user}, "scopes": None}}
        event = {
            "version": "2.0",
            "routeKey": f"POST {path}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": context,
            "body": body if isinstance(body, str) else json.dumps(body),
            "isBase64Encoded": False,
        }
        return dict(self.app.resolve(event, Context()))


def body_of(result: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(result["body"]))


def error_code(result: dict[str, Any]) -> str:
    return str(body_of(result)["error"]["code"])


def replayed(result: dict[str, Any]) -> bool:
    return (result.get("headers") or {}).get(REPLAYED_HEADER) == "true"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        reset_idempotency()
        yield client
    reset_idempotency()


def records(client: Any) -> list[dict[str, Any]]:
    return list(client.scan(TableName=TABLE)["Items"])


def test_same_key_and_body_returns_the_first_answer_and_works_once(dynamodb: Any) -> None:
    shop = Shop()
    first = shop.post("/orders", {"item": "tea"}, key="k-1")
    second = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert first["statusCode"] == second["statusCode"] == 201
    assert second["body"] == first["body"]
    assert body_of(first) == {"number": 1, "item": "tea", "quantity": 1, "user": "user-a"}
    assert len(shop.orders) == 1
    assert not replayed(first)
    assert replayed(second)
    [record] = records(dynamodb)
    assert record["status"]["S"] == "COMPLETED"


def test_the_same_body_spelled_differently_is_the_same_request(dynamodb: Any) -> None:
    shop = Shop()
    first = shop.post("/orders", '{"item":"tea"}', key="k-1")
    second = shop.post("/orders", '{ "quantity": 1,  "item": "tea" }', key="k-1")
    assert second["body"] == first["body"]
    assert replayed(second)
    assert len(shop.orders) == 1


def test_same_key_with_another_body_is_409_key_reused_and_does_nothing(dynamodb: Any) -> None:
    shop = Shop()
    shop.post("/orders", {"item": "tea"}, key="k-1")
    other = shop.post("/orders", {"item": "tea", "quantity": 2}, key="k-1")
    assert other["statusCode"] == 409
    assert error_code(other) == "IdempotencyKeyReused"
    assert len(shop.orders) == 1
    # The first answer is still what the key replays.
    again = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert body_of(again)["number"] == 1


def test_keys_are_scoped_by_user(dynamodb: Any) -> None:
    shop = Shop()
    alice = shop.post("/orders", {"item": "tea"}, key="shared", user="alice")
    bob = shop.post("/orders", {"item": "tea"}, key="shared", user="bob")
    assert (alice["statusCode"], bob["statusCode"]) == (201, 201)
    assert body_of(alice)["user"] == "alice" and body_of(bob)["user"] == "bob"
    assert [o.number for o in shop.orders] == [1, 2]
    assert body_of(shop.post("/orders", {"item": "tea"}, key="shared", user="alice"))["number"] == 1
    # Bob's other body under the same key is not Alice's business: reused only within Bob's scope.
    assert (
        error_code(shop.post("/orders", {"item": "milk"}, key="shared", user="bob")) == "IdempotencyKeyReused"
    )
    assert len(records(dynamodb)) == 2


def test_keys_are_scoped_by_route(dynamodb: Any) -> None:
    shop = Shop()
    order = shop.post("/orders", {"item": "tea"}, key="k-1")
    gift = shop.post("/gifts", {"item": "tea"}, key="k-1")
    assert body_of(order)["number"] == 1 and body_of(gift)["number"] == 2
    assert not replayed(gift)
    ids = sorted(r["id"]["S"] for r in records(dynamodb))
    assert [i.split("#")[0] for i in ids] == ["orchestrator.gifts", "orchestrator.orders"]
    assert all("k-1" not in i for i in ids)  # the key is hashed with its scope, not stored in clear


def test_without_the_header_every_request_works_and_nothing_is_stored(dynamodb: Any) -> None:
    shop = Shop()
    first = shop.post("/orders", {"item": "tea"})
    second = shop.post("/orders", {"item": "tea"})
    assert [body_of(first)["number"], body_of(second)["number"]] == [1, 2]
    assert not replayed(second)
    assert records(dynamodb) == []


def test_without_a_table_the_header_is_ignored() -> None:
    # No mock and no table: any DynamoDB call would fail, so none is made.
    shop = Shop(settings=Settings(idempotency_table=None, aws_region=REGION))
    first = shop.post("/orders", {"item": "tea"}, key="k-1")
    second = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert [body_of(first)["number"], body_of(second)["number"]] == [1, 2]
    assert not replayed(second)


def test_a_raised_domain_error_is_not_remembered(dynamodb: Any) -> None:
    shop = Shop(refuse=True)
    refused = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert refused["statusCode"] == 409
    assert error_code(refused) == "InvalidState"
    assert records(dynamodb) == []  # the key was released
    # The same request once the state allows it runs afresh, and is then remembered.
    shop.refuse = False
    fixed = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert fixed["statusCode"] == 201 and not replayed(fixed)
    assert shop.post("/orders", {"item": "tea"}, key="k-1")["body"] == fixed["body"]
    assert len(shop.orders) == 1


def test_a_returned_error_answer_is_not_remembered(dynamodb: Any) -> None:
    shop = Shop(teapot=True)
    teapot = shop.post("/kettles", {"item": "tea"}, key="k-1")
    assert teapot["statusCode"] == 418
    assert error_code(teapot) == "Teapot"
    assert records(dynamodb) == []
    shop.teapot = False
    brewed = shop.post("/kettles", {"item": "tea"}, key="k-1")
    assert brewed["statusCode"] == 201 and not replayed(brewed)
    assert shop.post("/kettles", {"item": "tea"}, key="k-1")["body"] == brewed["body"]
    assert len(shop.orders) == 1


def test_a_request_still_in_progress_is_409_in_progress(dynamodb: Any) -> None:
    shop = Shop(gate=threading.Event())
    results: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: results.append(shop.post("/orders", {"item": "tea"}, key="k-1")))
    first.start()
    try:
        assert shop.entered.wait(5)
        [record] = records(dynamodb)
        assert record["status"]["S"] == "INPROGRESS"
        # Powertools bounds the in-progress state by the Lambda's remaining time (30 s here).
        in_progress_until = int(record["in_progress_expiration"]["N"]) / 1000
        assert 25 < in_progress_until - time.time() <= 31
        meanwhile = shop.post("/orders", {"item": "tea"}, key="k-1")
        assert meanwhile["statusCode"] == 409
        assert error_code(meanwhile) == "IdempotencyInProgress"
    finally:
        assert shop.gate is not None
        shop.gate.set()
        first.join(10)
    assert [r["statusCode"] for r in results] == [201]
    later = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert later["body"] == results[0]["body"] and replayed(later)
    assert len(shop.orders) == 1


def test_record_expires_after_the_configured_time_and_is_then_forgotten(dynamodb: Any) -> None:
    shop = Shop()
    before = time.time()
    shop.post("/orders", {"item": "tea"}, key="k-1")
    [record] = records(dynamodb)
    assert before + 3600 - 2 <= int(record["expiration"]["N"]) <= time.time() + 3600 + 2
    # Let the record expire (DynamoDB's TTL deletes lazily; an expired record counts as absent).
    dynamodb.update_item(
        TableName=TABLE,
        Key={"id": record["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert again["statusCode"] == 201 and not replayed(again)
    assert body_of(again)["number"] == 2


def test_unreachable_store_is_503_and_nothing_is_done(dynamodb: Any) -> None:
    shop = Shop(settings=Settings(idempotency_table="no-such-table", aws_region=REGION))
    result = shop.post("/orders", {"item": "tea"}, key="k-1")
    assert result["statusCode"] == 503
    assert error_code(result) == "IdempotencyUnavailable"
    assert shop.orders == []
    # Without a key the route does not depend on the store.
    assert shop.post("/orders", {"item": "tea"})["statusCode"] == 201


def test_an_answer_that_cannot_be_stored_is_still_returned_and_not_redone(dynamodb: Any) -> None:
    shop = Shop(huge_answer=True)  # larger than a DynamoDB item may be (400 KB)
    first = shop.post("/orders", {"item": "ab"}, key="k-1")
    assert first["statusCode"] == 201
    assert len(body_of(first)["item"]) == 500_000
    # The record stays in progress (until the function's timeout): a retry does not do the work again.
    retry = shop.post("/orders", {"item": "ab"}, key="k-1")
    assert retry["statusCode"] == 409
    assert error_code(retry) == "IdempotencyInProgress"
    assert len(shop.orders) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_an_invalid_key_is_a_400(dynamodb: Any, key: str) -> None:
    shop = Shop()
    result = shop.post("/orders", {"item": "tea"}, key=key)
    assert result["statusCode"] == 400
    assert error_code(result) == "BadRequest"
    assert "idempotency-key" in body_of(result)["error"]["message"].lower()
    assert shop.orders == []


def test_the_longest_valid_key_works(dynamodb: Any) -> None:
    shop = Shop()
    key = "K" * 255
    first = shop.post("/orders", {"item": "tea"}, key=key)
    assert shop.post("/orders", {"item": "tea"}, key=key)["body"] == first["body"]
    assert len(shop.orders) == 1
