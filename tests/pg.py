"""Pytest fixtures for a real Postgres: one server per test run, one database per test.

Load with `pytest_plugins = ["tests.pg"]` in tests/conftest.py (or `-p tests.pg`).

- `pg_server` (session): an EmbeddedPostgres under a temp dir, migrated once into the
  template database `clipper_template`. With CLIPPER_TEST_PG_URL set (a superuser DSN
  of an existing server, e.g. a CI service container) that server is used instead.
- `db_url` (function): a fresh database cloned from the template (~50 ms). Dropped after
  a passing test; kept after a failing one, its DSN printed in the test's output and in
  the session summary (the cluster directory is then kept too, so it can be inspected).
- `db_pool` (function, async): an asyncpg pool from `clipper.db.pool.create_pool`.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from clipper.db.pool import Pool, create_pool
from clipper.infra.postgres import EmbeddedPostgres, migrate

TEMPLATE = "clipper_template"
EXTERNAL_URL_ENV = "CLIPPER_TEST_PG_URL"

_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()
_kept_key = pytest.StashKey[list[str]]()


@dataclass
class PgServer:
    """The test run's Postgres: DSNs of its databases and the template to clone."""

    base_url: str
    template: str
    embedded: EmbeddedPostgres | None = None
    kept: list[str] = field(default_factory=list)

    def url(self, database: str) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    @property
    def admin_url(self) -> str:
        return self.url("postgres")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def database_name(test_name: str) -> str:
    """A unique, readable database name for a test (63-byte identifier limit)."""
    slug = re.sub(r"[^a-z0-9]+", "_", test_name.lower()).strip("_")[:45]
    return f"t_{slug}_{secrets.token_hex(4)}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Fixtures cannot see the outcome of their test; this stashes each phase's report
    # so db_url's teardown can tell a failed test from a passing one.
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    kept = config.stash.get(_kept_key, [])
    if kept:
        terminalreporter.section("databases kept for inspection")
        for line in kept:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def pg_server(pytestconfig: pytest.Config) -> Iterator[PgServer]:
    external = os.environ.get(EXTERNAL_URL_ENV)
    if external:
        yield from _external_server(pytestconfig, external)
    else:
        yield from _embedded_server(pytestconfig)


def _embedded_server(config: pytest.Config) -> Iterator[PgServer]:
    base = Path(tempfile.mkdtemp(prefix="clipper-test-pg-"))
    # mkdtemp makes a 0700 dir; the postgres OS user (tests may run as root) must enter it.
    base.chmod(0o755)
    pg = EmbeddedPostgres(base, durable=False)
    server = PgServer(base_url=pg.start(), template=TEMPLATE, embedded=pg)
    try:
        migrate(server.url(TEMPLATE))
        yield server
    finally:
        if server.kept:
            pg.stop()
            config.stash.setdefault(_kept_key, []).append(
                f"cluster kept at {pg.root}; start it with "
                f"`pg_ctl -D {pg.pgdata} -l {pg.log_path} start` (as its owner), then "
                f"connect to the databases above on the port in {pg.pgdata}/clipper.conf"
            )
        else:
            pg.destroy()
            shutil.rmtree(base, ignore_errors=True)


def _external_server(config: pytest.Config, url: str) -> Iterator[PgServer]:
    # A run-specific template, so concurrent runs against one server do not collide.
    server = PgServer(base_url=url, template=f"{TEMPLATE}_{secrets.token_hex(4)}")
    migrate(server.url(server.template))
    try:
        yield server
    finally:
        asyncio.run(_drop(server.admin_url, server.template))


async def _drop(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def db_url(pg_server: PgServer, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = database_name(request.node.name)
    conn = await asyncpg.connect(pg_server.admin_url)
    try:
        await conn.execute(
            f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(pg_server.template)}"
        )
    finally:
        await conn.close()
    url = pg_server.url(name)
    yield url
    reports = request.node.stash.get(_reports_key, {})
    if any(report.failed for report in reports.values()):
        pg_server.kept.append(name)
        request.config.stash.setdefault(_kept_key, []).append(f"{request.node.nodeid}: {url}")
        print(f"\nkept test database {name}: {url}")
    else:
        await _drop(pg_server.admin_url, name)


@pytest_asyncio.fixture(loop_scope="session")
async def db_pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
