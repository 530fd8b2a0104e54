"""A throwaway PostgreSQL 15 cluster for tests: initdb into a temporary directory, start it on a free
loopback port, hand out connection strings, stop it and delete everything at the end. Also the
client tools on it: `psql_file` runs an SQL file as `psql -f` does, `schema_dump` is `pg_dump -s`.

PostgreSQL refuses to run as root. When the tests run as root, the cluster's files are given to the
`postgres` user (or `nobody` when there is none) and initdb/pg_ctl run as that user through runuser.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PgCluster:
    host: str
    port: int
    superuser: str

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.superuser} dbname={dbname} connect_timeout=5"


@dataclass(frozen=True)
class PsqlResult:
    returncode: int
    stdout: str
    stderr: str


def psql_file(cluster: PgCluster, dbname: str, path: Path, *, stop_on_error: bool = True) -> PsqlResult:
    """Run an SQL file with psql: one statement after another, each in its own transaction unless the
    file opens one (no implicit transaction around the whole file, unlike a multi-statement query).
    With `stop_on_error` psql stops at the first error (exit code 3); without, it goes on with the
    next statements, as a careless client would."""
    command = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-v",
        f"ON_ERROR_STOP={1 if stop_on_error else 0}",
        "-d",
        cluster.conninfo(dbname),
        "-f",
        str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return PsqlResult(result.returncode, result.stdout, result.stderr)


def schema_dump(cluster: PgCluster, dbname: str) -> str:
    """`pg_dump --schema-only`: every table, constraint, index, policy, grant and function (without
    the random `\\restrict` key of newer pg_dump releases, so that two dumps compare)."""
    command = [str(PG_BIN / "pg_dump"), "--schema-only", "-d", cluster.conninfo(dbname)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pg_dump failed ({result.returncode}):\n{result.stderr}")
    return "".join(
        line
        for line in result.stdout.splitlines(keepends=True)
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    pytest.skip("running as root and there is neither a `postgres` nor a `nobody` user to run PostgreSQL as")


def _command_prefix(base: Path) -> list[str]:
    """How to run the server binaries: directly, or as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return []
    user = _unprivileged_user()
    entry = pwd.getpwnam(user)
    os.chown(base, entry.pw_uid, entry.pw_gid)
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"]
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    pytest.skip(f"running as root and neither runuser nor setpriv is available to run PostgreSQL as {user}")


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@contextmanager
def postgres_cluster() -> Iterator[PgCluster]:
    """Skips the calling test (loudly) when no PostgreSQL 15 binaries are installed."""
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    if not initdb.exists() or not pg_ctl.exists():
        pytest.skip(
            f"!!! PostgreSQL 15 server binaries not found in {PG_BIN} (set PG_BIN, or install "
            "postgresql-15): the migration tests did NOT run !!!"
        )
    base = Path(tempfile.mkdtemp(prefix="orchestrator-pg-"))
    data, log = base / "data", base / "server.log"
    try:
        prefix = _command_prefix(base)
        _run(
            [
                *prefix,
                str(initdb),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        port = _start(prefix, pg_ctl, data, log, base)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        yield PgCluster(host="127.0.0.1", port=port, superuser=SUPERUSER)
    finally:
        subprocess.run(
            [*prefix, str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


def _start(prefix: list[str], pg_ctl: Path, data: Path, log: Path, socket_dir: Path) -> int:
    last_error: Exception | None = None
    for _ in range(3):  # the free port may be taken between choosing and binding it
        port = _free_port()
        options = (
            f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            _run(
                [
                    *prefix,
                    str(pg_ctl),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ]
            )
        except RuntimeError as exc:
            last_error = RuntimeError(f"{exc}\n{log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
            continue
        return port
    assert last_error is not None
    raise last_error
