"""A real PostgreSQL server for the test session.

When TEST_DATABASE_URL is set, that database is used (every test wipes its ``public``
schema, so point it at a disposable database). Otherwise a throwaway server is
created with Debian's ``initdb``/``pg_ctl`` in a temporary directory, listening on
127.0.0.1 on a free port, and removed at the end of the session.
"""

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

ENV_VAR = "TEST_DATABASE_URL"
DATABASE_NAME = "youthvoice_test"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
# PostgreSQL refuses to run as root; as root, the server runs as this system user.
SERVER_USER = "postgres"
_COMMAND_TIMEOUT_S = 60


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or the server would not start."""


def find_postgres_bin(root: Path = POSTGRES_ROOT) -> Path:
    """The ``bin`` directory of the newest PostgreSQL installed under ``root``."""
    candidates = [
        version_dir / "bin"
        for version_dir in root.glob("*")
        if (version_dir / "bin" / "initdb").is_file() and (version_dir / "bin" / "pg_ctl").is_file()
    ]
    if not candidates:
        raise PostgresUnavailableError(
            f"no initdb/pg_ctl under {root}/*/bin: install PostgreSQL "
            f"(apt-get install -y postgresql) or set {ENV_VAR}"
        )
    return max(candidates, key=lambda path: _version_key(path.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: Sequence[str], *, cwd: Path) -> None:
    completed = subprocess.run(
        list(command),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        raise PostgresUnavailableError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )


class PostgresServer:
    """A private server in a temporary directory; it can be stopped and started again (outages)."""

    def __init__(self) -> None:
        self.bin_dir = find_postgres_bin()
        self.workdir = Path(tempfile.mkdtemp(prefix="youthvoice-pg-"))
        self.as_server_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
            self.as_server_user = ["runuser", "-u", SERVER_USER, "--"]
        self.data_dir = self.workdir / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def init(self) -> None:
        _run(
            [
                *self.as_server_user,
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=self.workdir,
        )

    def _pg_ctl(self) -> list[str]:
        return [*self.as_server_user, str(self.bin_dir / "pg_ctl"), "--pgdata", str(self.data_dir)]

    def start(self) -> None:
        # Durability is pointless for a throwaway server: fsync and friends are off.
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.workdir} -F -c synchronous_commit=off "
                   "-c full_page_writes=off")
        log_file = self.workdir / "server.log"
        try:
            _run([*self._pg_ctl(), "--log", str(log_file), "--wait", "-o", options, "start"],
                 cwd=self.workdir)
        except PostgresUnavailableError as error:
            log = log_file.read_text(errors="replace") if log_file.exists() else ""
            raise PostgresUnavailableError(f"{error}\nserver log:\n{log}") from error

    def stop(self) -> None:
        _run([*self._pg_ctl(), "--mode", "fast", "--wait", "stop"], cwd=self.workdir)

    def create_database(self, database: str) -> str:
        admin = create_engine(f"{self.url}/postgres", poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
        admin.dispose()
        return f"{self.url}/{database}"

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A private server, running for the duration unless the caller stops it."""
    server = PostgresServer()
    try:
        server.init()
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(PostgresUnavailableError):
                server.stop()
    finally:
        server.remove()


@contextmanager
def temporary_postgres(database: str = DATABASE_NAME) -> Iterator[str]:
    """Start a private PostgreSQL server and yield the URL of an empty database on it."""
    with running_postgres() as server:
        yield server.create_database(database)


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL from TEST_DATABASE_URL, or one of a temporary server for the duration."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        yield configured
        return
    with temporary_postgres() as url:
        yield url


def reset_schema(url: str) -> None:
    """Empty the database: drop every table, type and sequence of the public schema."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            # Fail fast rather than hang if a previous test leaked an open transaction.
            connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a fresh SQLite file, or a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'youthvoice.db'}"
    # Looked up lazily so that `-m "not postgres"` never starts a server.
    url: str = request.getfixturevalue("postgres_url")
    reset_schema(url)
    return url
