"""Powertools keeps the current request on the resolver class: fine in Lambda (one request per
container at a time), wrong in the local stack, which serves many requests at once in one process.
Our resolver keeps each request to its own thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from orchestrator.http import current_user, make_resolver


def _event(workflow_id: str, user: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "GET /api/workflows/{workflow_id}",
        "rawPath": f"/api/workflows/{workflow_id}",
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": {
            "http": {"method": "GET", "path": f"/api/workflows/{workflow_id}", "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": user}, "scopes": None}},
            "routeKey": "GET /api/workflows/{workflow_id}",
            "stage": "$default",
            "requestId": f"req-{workflow_id}",
        },
        "isBase64Encoded": False,
    }


def test_concurrent_requests_each_see_their_own_path_and_user() -> None:
    app = make_resolver()
    both_inside = threading.Barrier(2, timeout=5)

    @app.get("/api/workflows/<workflow_id>")
    def read(workflow_id: str) -> Response[dict[str, Any]]:
        both_inside.wait()  # both requests are now being resolved at the same time
        time.sleep(0.05)
        body = {"path_id": workflow_id, "event_path": app.current_event.path, "user": current_user(app)}
        return Response(status_code=200, content_type="application/json", body=body)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(app.resolve, _event("wf-a", "user-a"), LambdaContext())
        second = pool.submit(app.resolve, _event("wf-b", "user-b"), LambdaContext())
        answers = [first.result(timeout=10), second.result(timeout=10)]
    import json

    bodies = [json.loads(answer["body"]) for answer in answers]
    assert bodies == [
        {"path_id": "wf-a", "event_path": "/api/workflows/wf-a", "user": "user-a"},
        {"path_id": "wf-b", "event_path": "/api/workflows/wf-b", "user": "user-b"},
    ]
