"""Unit tests run without a network: no socket may connect or listen while one runs (its fixtures
included), so that `make unit` takes seconds and never waits on a server. A test that needs a
socket, a server or the local stack belongs in tests/integration.

Sockets of the AF_UNIX family stay allowed: asyncio's self-pipe and socketpair() use them inside one
process, and nothing leaves it through them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

NO_NETWORK = (
    "unit tests use fakes, not the network: this test tried to {what} {address!r}; "
    "give it a fake (respx, moto's mock_aws, an in-memory store) or move it to tests/integration"
)


class NetworkBlocked(RuntimeError):
    """Raised by a unit test's attempt to connect or listen on an internet socket."""


def _is_unix(sock: socket.socket) -> bool:
    return getattr(socket, "AF_UNIX", None) is not None and sock.family == socket.AF_UNIX


def _guarded(what: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, address: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_unix(sock):
            return original(sock, address, *args, **kwargs)
        raise NetworkBlocked(NO_NETWORK.format(what=what, address=address))

    return guarded


def _blocked_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
    raise NetworkBlocked(NO_NETWORK.format(what="connect to", address=address))


@contextmanager
def _network_blocked() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _guarded("connect to", socket.socket.connect))
        patch.setattr(socket.socket, "connect_ex", _guarded("connect to", socket.socket.connect_ex))
        patch.setattr(socket.socket, "bind", _guarded("listen on", socket.socket.bind))
        patch.setattr(socket, "create_connection", _blocked_create_connection)
        yield


# The guard is on for each phase of every unit test in this folder: setup (the module and session
# fixtures set up for it too), call and teardown. Hooks rather than a fixture, so that fixtures of a
# wider scope are covered too; these per-item hooks run for the items under this folder only (a
# run of all of tests/ mixes them with the integration tests).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    with _network_blocked():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    with _network_blocked():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    with _network_blocked():
        return (yield)
