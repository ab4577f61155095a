"""EmbeddedPostgres on real binaries: restart after SIGKILL, stale pid files, adoption.

These tests share one cluster directory (initdb once, ~0.5 s) separate from the session's
test server, and leave it stopped between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from clipper.db.pool import SchemaMissingError, check, create_pool
from clipper.infra.postgres import EmbeddedPostgres, _proc_alive, fallback_dir
from tests.pg import PgServer, database_name, quote_ident

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="clipper-test-embedded-"))
    base.chmod(0o755)  # reachable by the postgres OS user when tests run as root
    yield base
    pg = EmbeddedPostgres(base, durable=False)
    pg.start()  # adopts a server a failed test left running, so destroy() can stop it
    pg.destroy()
    shutil.rmtree(base, ignore_errors=True)


def wait_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _proc_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.05)


async def put_and_get(dsn: str, value: str | None = None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS kv (v text)")
        if value is not None:
            await conn.execute("INSERT INTO kv VALUES ($1)", value)
        return [r["v"] for r in await conn.fetch("SELECT v FROM kv ORDER BY v")]
    finally:
        await conn.close()


async def test_start_stop_start_is_quick_and_keeps_data(cluster_dir: Path) -> None:
    pg = EmbeddedPostgres(cluster_dir, durable=False)
    dsn = await pg.start_async()
    assert dsn.startswith("postgresql://clipper@127.0.0.1:")
    assert dsn.endswith("/clipper?sslmode=disable")
    assert await pg.start_async() == dsn  # already running: same server
    await put_and_get(dsn, "a")
    await pg.stop_async()
    await pg.stop_async()  # idempotent
    assert pg.pid is None

    began = time.monotonic()
    dsn2 = await pg.start_async()
    elapsed = time.monotonic() - began
    try:
        assert await put_and_get(dsn2) == ["a"]
        # ~0.15 s here; the bound leaves room for a busy shared machine.
        assert elapsed < 5.0
    finally:
        await pg.stop_async()


async def test_restart_after_sigkill_of_the_postmaster(cluster_dir: Path) -> None:
    pg = EmbeddedPostgres(cluster_dir, durable=False)
    dsn = await pg.start_async()
    await put_and_get(dsn, "before-kill")
    pid = pg.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert (pg.pgdata / "postmaster.pid").exists()  # stale: names the dead postmaster

    # A new process (a new object) starts over the stale pid file and orphaned children.
    again = EmbeddedPostgres(cluster_dir, durable=False)
    try:
        dsn2 = await again.start_async()
        assert again.pid not in (None, pid)
        assert "before-kill" in await put_and_get(dsn2)
    finally:
        await again.stop_async()


async def test_stale_pid_file_naming_a_live_unrelated_process(cluster_dir: Path) -> None:
    pg = EmbeddedPostgres(cluster_dir, durable=False)
    await pg.start_async()
    await pg.stop_async()
    # A recycled pid: the file names a live process of the server's own OS user, which
    # postgres alone would take for a running postmaster.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    sleeper = await asyncio.create_subprocess_exec(
        *prefix, "sh", "-c", "echo $$; exec sleep 60", stdout=asyncio.subprocess.PIPE
    )
    assert sleeper.stdout is not None
    foreign = int(await sleeper.stdout.readline())
    try:
        pidfile = pg.pgdata / "postmaster.pid"
        pidfile.write_text(f"{foreign}\n{pg.pgdata}\n1\n5432\n/tmp\n127.0.0.1\n 1 2\nready   \n")
        dsn = await pg.start_async()
        assert pg.pid not in (None, foreign)
        await put_and_get(dsn)
    finally:
        await pg.stop_async()
        # runuser forks: the sleeper is its child, so kill that pid, not just runuser.
        os.kill(foreign, signal.SIGKILL)
        await sleeper.wait()


async def test_second_instance_adopts_a_running_server(cluster_dir: Path) -> None:
    first = EmbeddedPostgres(cluster_dir, durable=False)
    second = EmbeddedPostgres(cluster_dir, durable=False)
    try:
        dsn = await first.start_async()
        pid = first.pid
        assert await second.start_async() == dsn
        assert second.pid == pid
        await second.stop_async()
        assert first.pid is None
    finally:
        await first.stop_async()
        await second.stop_async()


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback exists for root only")
def test_unreachable_data_dir_falls_back_outside_it() -> None:
    private = Path(tempfile.mkdtemp(prefix="clipper-test-private-"))  # 0700, root's
    fallback_root = Path(tempfile.mkdtemp(prefix="clipper-test-fallback-"))
    fallback_root.chmod(0o755)
    data_dir = private / "data"
    pg = EmbeddedPostgres(data_dir, durable=False, fallback_root=fallback_root)
    try:
        assert pg.root == fallback_dir(data_dir, fallback_root)
        dsn = pg.start()
        assert dsn.endswith("/clipper?sslmode=disable")
        assert pg.root.stat().st_uid != 0
    finally:
        pg.destroy()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(fallback_root, ignore_errors=True)


async def test_check_reports_missing_schema(pg_server: PgServer) -> None:
    name = database_name("check_missing_schema")
    admin = await asyncpg.connect(pg_server.admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
        pool = await create_pool(pg_server.url(name), max_size=1)
        try:
            with pytest.raises(SchemaMissingError):
                await check(pool)
        finally:
            await pool.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
