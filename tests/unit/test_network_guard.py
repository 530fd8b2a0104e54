"""tests/unit/conftest.py's guard: a unit test cannot listen or connect on an internet socket, and is
told why; a socketpair inside the process still works."""

from __future__ import annotations

import socket

import httpx
import pytest

WHY = "unit tests use fakes, not the network"


def test_listening_on_loopback_is_refused_with_the_reason() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match=WHY) as refused:
        sock.bind(("127.0.0.1", 0))
    assert "move it to tests/integration" in str(refused.value)


def test_connecting_is_refused_however_it_is_asked_for() -> None:
    with pytest.raises(RuntimeError, match=WHY):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(RuntimeError, match=WHY):
        sock.connect_ex(("127.0.0.1", 9))
    with pytest.raises(RuntimeError, match=WHY):
        httpx.get("http://127.0.0.1:9/", timeout=1)


def test_a_socketpair_within_the_process_still_works() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"ping")
        assert right.recv(4) == b"ping"
