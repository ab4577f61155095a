"""The dbmate migrations: they apply, roll back to nothing, and apply again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from clipper.infra.postgres import MigrationError, default_migrations_dir, migrate, run_dbmate
from tests.pg import PgServer, database_name, quote_ident

pytestmark = pytest.mark.integration

TABLES = {"jobs", "job_events", "uploads"}
INDEXES = {
    "jobs_status_created_at_idx",
    "jobs_expires_at_idx",
    "job_events_job_id_ts_idx",
    "uploads_expires_at_idx",
}


async def schema(url: str) -> tuple[set[str], set[str]]:
    conn = await asyncpg.connect(url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        # indisvalid: a CONCURRENTLY build that failed half-way leaves an invalid index.
        indexes = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND i.indisvalid"
            )
        }
        return tables, indexes
    finally:
        await conn.close()


def migration_files() -> list[Path]:
    return sorted(default_migrations_dir().glob("*.sql"))


def test_migration_files_are_well_formed() -> None:
    files = migration_files()
    assert len(files) >= 4
    for path in files:
        text = path.read_text()
        assert "-- migrate:up" in text and "-- migrate:down" in text, path.name
        if "CONCURRENTLY" in text:
            # dbmate wraps a migration in a transaction unless told otherwise.
            assert "-- migrate:up transaction:false" in text, path.name
            assert "-- migrate:down transaction:false" in text, path.name
            assert text.count("CREATE INDEX") == 1, f"one index per file: {path.name}"


async def test_template_has_the_whole_schema(db_url: str) -> None:
    tables, indexes = await schema(db_url)
    assert tables == TABLES | {"schema_migrations"}
    assert indexes >= INDEXES


async def test_rollback_everything_then_apply_again(db_url: str) -> None:
    for _ in migration_files():
        await asyncio.to_thread(run_dbmate, db_url, "rollback")
    tables, indexes = await schema(db_url)
    assert tables == {"schema_migrations"}
    assert not indexes & INDEXES
    with pytest.raises(MigrationError, match="no migrations have been applied"):
        await asyncio.to_thread(run_dbmate, db_url, "rollback")

    await asyncio.to_thread(migrate, db_url)
    tables, indexes = await schema(db_url)
    assert tables == TABLES | {"schema_migrations"} and indexes >= INDEXES
    # Applying again is a no-op.
    await asyncio.to_thread(migrate, db_url)


async def test_migrate_creates_a_missing_database(pg_server: PgServer) -> None:
    name = database_name("migrate_creates")
    url = pg_server.url(name)
    try:
        await asyncio.to_thread(migrate, url)
        tables, _ = await schema(url)
        assert tables >= TABLES
    finally:
        conn = await asyncpg.connect(pg_server.admin_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await conn.close()
