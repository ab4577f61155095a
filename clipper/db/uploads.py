"""Uploaded source files: one row per stored object, found by its storage key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from clipper.db.jobs import parse_uuid
from clipper.db.models import UploadRow
from clipper.db.pool import Pool

_UPLOAD_COLUMNS = (
    "id, key, bytes, filename, content_type, media, duration_sec, created_at, expires_at"
)

_CREATE = f"""
INSERT INTO uploads (id, key, bytes, filename, content_type, media, duration_sec, expires_at)
VALUES ($1::uuid, $2::text, $3::bigint, $4::text, $5::text, $6::jsonb, $7::float8,
        $8::timestamptz)
RETURNING {_UPLOAD_COLUMNS}
"""

# $2 is NULL unless the argument parses as a UUID, so a key never matches an id by accident.
_GET = f"""
SELECT {_UPLOAD_COLUMNS} FROM uploads
WHERE key = $1::text OR id = $2::uuid
ORDER BY key = $1::text DESC
LIMIT 1
"""

_DELETE_EXPIRED = """
DELETE FROM uploads WHERE id IN (
    SELECT id FROM uploads WHERE expires_at <= $1::timestamptz
    ORDER BY expires_at
    LIMIT $2::int
    FOR UPDATE SKIP LOCKED
)
RETURNING key
"""


def upload_from_record(rec: asyncpg.Record) -> UploadRow:
    return UploadRow(
        id=str(rec["id"]),
        key=rec["key"],
        bytes=rec["bytes"],
        filename=rec["filename"],
        content_type=rec["content_type"],
        media=rec["media"] or {},
        duration_sec=rec["duration_sec"],
        created_at=rec["created_at"],
        expires_at=rec["expires_at"],
    )


class UploadRepo:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(
        self,
        upload_id: str | uuid.UUID,
        key: str,
        bytes: int,
        filename: str | None,
        content_type: str | None,
        media: dict[str, Any],
        duration_sec: float | None,
        expires_at: datetime,
    ) -> UploadRow:
        """Insert an upload. A taken id or key raises asyncpg.UniqueViolationError."""
        uid = parse_uuid(upload_id)
        if uid is None:
            raise ValueError(f"upload id is not a UUID: {upload_id!r}")
        rec = await self._pool.fetchrow(
            _CREATE, uid, key, bytes, filename, content_type, media, duration_sec, expires_at
        )
        assert rec is not None  # INSERT ... RETURNING without ON CONFLICT returns its row
        return upload_from_record(rec)

    async def get(self, upload_id_or_key: str) -> UploadRow | None:
        """The upload whose key (preferred) or id is `upload_id_or_key`."""
        rec = await self._pool.fetchrow(_GET, upload_id_or_key, parse_uuid(upload_id_or_key))
        return None if rec is None else upload_from_record(rec)

    async def delete_expired(self, now: datetime, limit: int = 1000) -> list[str]:
        """Delete up to `limit` uploads past expiry; returns their storage keys."""
        records = await self._pool.fetch(_DELETE_EXPIRED, now, limit)
        return [str(rec["key"]) for rec in records]
