"""`orch`'s words for a port clash: a socket holds the port, and `orch up` or `orch demo` names the
part of the stack that could not listen there and the option that chooses another port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("flag", "part"),
    [
        ("--api-port", "the HTTP API"),
        ("--lambda-port", "the Lambda endpoint"),
        ("--algod-port", "the dev ledger's algod"),
        ("--indexer-port", "the dev ledger's indexer"),
        ("--agents-port", "the sample agent symptom-checker"),
    ],
)
def test_a_port_clash_names_the_part_and_the_flag(
    flag: str, part: str, taken_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ports = {
        f: "0" for f in ("--api-port", "--lambda-port", "--algod-port", "--indexer-port", "--agents-port")
    }
    ports[flag] = str(taken_port)
    argv = ["up", "--data-dir", str(tmp_path), *(x for pair in ports.items() for x in pair)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"orch up: Port {taken_port} is already in use, so {part}")
    assert lines[0].endswith(f"choose another port with {flag}.")
    assert "Traceback" not in err + out and "is in use by another program" not in err + out


def test_demo_port_clash(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--indexer-port", str(taken_port)]) == 1
    err = capsys.readouterr().err
    assert f"orch demo: Port {taken_port} is already in use, so the dev ledger's indexer" in err
    assert err.rstrip().endswith("choose another port with --indexer-port.")
