"""A throwaway Postgres server for the test session, and a fresh database per test.

`postgres_server` (session-scoped) runs Debian's `initdb` in a temporary folder and starts the server
with `pg_ctl` on a free loopback port, fsync off (nothing here needs to survive a crash), and stops it
and removes the folder at the end. Postgres refuses to run as root: as root the server runs as a
dedicated OS user (SCRIBE_TEST_PG_USER, else `postgres` when it exists, else `scribe-pg`, created with
useradd). Where no Postgres binaries are installed, every test that asks for it is skipped with the
reason (`.ci/run` installs them, so CI always runs them).

`postgres_url` gives each test its own database, made from a migrated template (CREATE DATABASE …
TEMPLATE is a file copy: fast), and drops it after the test.

Register as a plugin (tests/conftest.py does) or import the fixtures into a test module.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN_GLOB = "/usr/lib/postgresql/*/bin"
TEMPLATE = "scribe_template"
SUPERUSER = "scribe"
_counter = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The newest installed Postgres bin folder (SCRIBE_TEST_PG_BIN overrides), or None."""
    override = os.environ.get("SCRIBE_TEST_PG_BIN")
    candidates = [override] if override else sorted(glob.glob(BIN_GLOB), key=_major, reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _major(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _os_user() -> str | None:
    """The account the server runs as: None (this one) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in filter(None, (os.environ.get("SCRIBE_TEST_PG_USER"), "postgres", "scribe-pg")):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "scribe-pg"],
                   check=True, capture_output=True)
    return "scribe-pg"


@dataclass
class PostgresServer:
    """A running server: its folder, port and the URL of any database on it."""

    bin_dir: Path
    folder: Path
    port: int
    os_user: str | None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run one of the server's programs as its OS user."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.os_user is not None:
            command = ["runuser", "-u", self.os_user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.folder / "data"
        self.run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                 "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self.run("pg_ctl", "start", "-D", str(data), "-w", "-t", "60", "-l", str(self.folder / "server.log"),
                 "-o", options)

    def new_database(self) -> str:
        """The URL of another fresh, migrated database (dropped with the server)."""
        name = f"scribe_extra_{os.getpid()}_{next(_counter)}"
        _admin(self, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def stop(self) -> None:
        self.run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-w", check=False)

    def log_tail(self, lines: int = 30) -> str:
        path = self.folder / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def start_server() -> PostgresServer:
    """Start a server in a new temporary folder; raises RuntimeError (with the server's log) if it cannot."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError(f"no Postgres binaries (initdb, pg_ctl) under {BIN_GLOB}")
    os_user = _os_user()
    folder = Path(tempfile.mkdtemp(prefix="scribe-pg-"))
    if os_user is not None:
        entry = pwd.getpwnam(os_user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    last: subprocess.CalledProcessError | None = None
    for _ in range(3):  # a free port can be taken between the check and the start: try another
        server = PostgresServer(bin_dir, folder, _free_port(), os_user)
        try:
            server.start()
            return server
        except subprocess.CalledProcessError as exc:
            last = exc
            server.stop()
            shutil.rmtree(folder / "data", ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError(f"Postgres did not start: {last.stderr if last else ''}")


def _admin(server: PostgresServer, *statements: str) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _make_template(server: PostgresServer) -> None:
    """A database with every package's tables migrated, copied for each test."""
    from lib.services import open_database

    _admin(server, f"CREATE DATABASE {TEMPLATE}")
    open_database(server.url(TEMPLATE), local_path=server.folder / "template").close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway server for the session (skipped, with the reason, where Postgres is not installed)."""
    try:
        server = start_server()
    except FileNotFoundError as exc:
        pytest.skip(f"Postgres tests need Debian's postgresql package: {exc}")
    try:
        _make_template(server)
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, migrated database of this test's own."""
    name = f"scribe_test_{os.getpid()}_{next(_counter)}"
    _admin(postgres_server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield postgres_server.url(name)
    _admin(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
