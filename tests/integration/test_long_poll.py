"""The long poll of GET /api/workflows/{id} through the local stack's HTTP gateway (routed from
template.yaml, the real handler, SQLite): a change made mid-wait is answered within a second, an
unchanged workflow is answered 304 when the wait is over, and requests held in a long poll block
nobody else's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fakes import FixedPlanner
from tests.stack_helpers import Harness, StackOverrides, running_harness, sample

pytestmark = [pytest.mark.integration]

# Answers to requests made while long polls are held: quick (loopback, SQLite), with room for a
# loaded machine of 2 cores.
QUICK_SECONDS = 1.0


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_harness(tmp_path_factory.mktemp("stack")) as harness:
        yield harness


@pytest.fixture(autouse=True)
def one_step_plans(harness: Harness, overrides: StackOverrides) -> None:
    overrides.use(planner=FixedPlanner([(sample("symptom-checker").id, "headache")]))


def planned(harness: Harness) -> tuple[str, str]:
    """A new planned workflow (nothing changes it unless the test does) and its ETag."""
    workflow_id = str(harness.create()["workflow_id"])
    first = harness.api.get(f"/api/workflows/{workflow_id}")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    return workflow_id, first.headers["etag"]


def long_poll(harness: Harness, workflow_id: str, etag: str, wait: int) -> tuple[httpx.Response, float]:
    """The answer to a long poll and when it came (time.monotonic())."""
    with httpx.Client(base_url=harness.stack.api_url, timeout=40.0) as client:
        response = client.get(
            f"/api/workflows/{workflow_id}",
            params={"wait": wait},
            headers={"Authorization": f"Bearer {harness.token}", "If-None-Match": etag},
        )
    return response, time.monotonic()


def quick_requests(harness: Harness, workflow_id: str) -> list[float]:
    """Seconds each of a few other requests took: health, the same workflow without waiting, a
    workflow that does not exist, the OpenAPI document."""
    took = []
    for path in (
        "/api/health",
        f"/api/workflows/{workflow_id}",
        "/api/workflows/3f0c1a52-9e1b-4a57-b5b8-0d5f2f6c8a11",
        "/api/openapi.json",
    ):
        started = time.monotonic()
        response = harness.api.get(path)
        took.append(time.monotonic() - started)
        assert response.status_code in (200, 404), (path, response.text)
    return took


def test_a_change_made_mid_wait_is_answered_within_a_second(harness: Harness) -> None:
    workflow_id, etag = planned(harness)
    others = [planned(harness) for _ in range(4)]  # long polls held on other workflows meanwhile
    with ThreadPoolExecutor(max_workers=len(others) + 1) as pool:
        started = time.monotonic()
        watched = pool.submit(long_poll, harness, workflow_id, etag, 20)
        held = [pool.submit(long_poll, harness, other, tag, 3) for other, tag in others]
        time.sleep(1.0)
        assert not watched.done()
        took = quick_requests(harness, workflow_id)
        assert max(took) < QUICK_SECONDS, took
        approved = harness.post("/api/workflows/approve", {"workflow_id": workflow_id})
        changed_at = time.monotonic()
        assert approved.status_code == 200, approved.text
        response, answered_at = watched.result(timeout=30)
        for future in held:
            assert future.result(timeout=30)[0].status_code == 304
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    assert response.headers["etag"] != etag
    assert answered_at - changed_at < 1.0, answered_at - changed_at
    assert answered_at - started < 10
    # The ETag is the version the next read has.
    assert harness.api.get(f"/api/workflows/{workflow_id}").headers["etag"] == response.headers["etag"]


def test_nothing_changes_304_after_the_wait_while_others_are_served(harness: Harness) -> None:
    workflow_id, etag = planned(harness)
    with ThreadPoolExecutor(max_workers=8) as pool:
        started = time.monotonic()
        polls: list[Future[tuple[httpx.Response, float]]] = [
            pool.submit(long_poll, harness, workflow_id, etag, 2) for _ in range(8)
        ]
        time.sleep(0.5)
        assert not any(poll.done() for poll in polls)
        took = quick_requests(harness, workflow_id)
        assert max(took) < QUICK_SECONDS, took
        answers = [poll.result(timeout=30) for poll in polls]
    for response, answered_at in answers:
        assert response.status_code == 304, response.text
        assert (response.headers["etag"], response.headers["cache-control"]) == (etag, "no-store")
        assert response.content == b""
        assert 2.0 <= answered_at - started < 2.0 + QUICK_SECONDS, answered_at - started


def test_an_etag_of_another_version_is_answered_at_once(harness: Harness) -> None:
    workflow_id, etag = planned(harness)
    started = time.monotonic()
    response, answered_at = long_poll(harness, workflow_id, '"not-the-current-version"', 20)
    assert response.status_code == 200 and response.headers["etag"] == etag
    assert answered_at - started < QUICK_SECONDS


@pytest.mark.parametrize("wait", ["21", "-1", "soon", "2.5"])
def test_a_wait_out_of_range_or_not_a_number_is_a_400(harness: Harness, wait: str) -> None:
    workflow_id, etag = planned(harness)
    response = harness.api.get(
        f"/api/workflows/{workflow_id}", params={"wait": wait}, headers={"If-None-Match": etag}
    )
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == "BadRequest" and "wait" in body["error"]["message"]


def test_a_page_of_another_origin_may_send_if_none_match_and_read_the_etag(harness: Harness) -> None:
    workflow_id, _ = planned(harness)
    preflight = httpx.options(
        f"{harness.stack.api_url}/api/workflows/{workflow_id}",
        headers={
            "Origin": "https://pages.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert "if-none-match" in preflight.headers["access-control-allow-headers"].lower()
    answer = harness.api.get(f"/api/workflows/{workflow_id}", headers={"Origin": "https://pages.example"})
    assert "etag" in answer.headers["access-control-expose-headers"].lower()


def test_a_held_long_poll_does_not_hold_the_gateway(harness: Harness) -> None:
    """As many long polls as a few open pages hold, and a state-machine workflow runs meanwhile."""
    workflow_id, etag = planned(harness)
    with ThreadPoolExecutor(max_workers=6) as pool:
        polls = [pool.submit(long_poll, harness, workflow_id, etag, 3) for _ in range(6)]
        running = harness.create_and_start()
        harness.wait_for_step(running, 1, "awaiting_payment", timeout=10)
        assert [poll.result(timeout=30)[0].status_code for poll in polls] == [304] * 6
