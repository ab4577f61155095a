"""The asyncpg pool: one per process, jsonb decoded to Python values on every connection."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec

# asyncpg's classes are generic only in asyncpg-stubs; subscripting them at run time fails.
if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _encode_json(value: Any) -> str:
    # Text format: the binary jsonb format would need its version byte handled by hand.
    return _encoder.encode(value).decode()


def _decode_json(text: str) -> Any:
    return _decoder.decode(text)


async def _init_connection(conn: Connection) -> None:
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name,
            encoder=_encode_json,
            decoder=_decode_json,
            schema="pg_catalog",
            format="text",
        )


async def connect(dsn: str) -> Connection:
    """A single connection with the same codecs as the pool (scripts, tests)."""
    conn: Connection = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout: float | None = 30.0,
) -> Pool:
    """A pool whose connections encode and decode json/jsonb as Python dicts and lists.

    `command_timeout` bounds every query, so a wedged database surfaces as an error
    rather than a hung request or activity.
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
    )
    return pool


class SchemaMissingError(RuntimeError):
    """The database answers but the migrations have not been applied."""


CHECK_TIMEOUT_SEC = 5.0


async def check(pool: Pool) -> None:
    """Raise unless the database answers within seconds and holds our schema (readyz).

    Raises TimeoutError, an asyncpg/OSError, or SchemaMissingError.
    """
    async with asyncio.timeout(CHECK_TIMEOUT_SEC), pool.acquire() as conn:
        present = await conn.fetchval("SELECT to_regclass('jobs') IS NOT NULL")
    if not present:
        raise SchemaMissingError("table 'jobs' is missing: migrations have not been applied")
