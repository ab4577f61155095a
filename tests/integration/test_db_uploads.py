"""UploadRepo against a real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from clipper.db.pool import Pool
from clipper.db.uploads import UploadRepo

pytestmark = pytest.mark.integration

MEDIA = {"durationSec": 10.0, "width": 320, "height": 240, "videoCodec": "h264", "audioCodec": None}


async def test_create_and_get_by_key_or_id(db_pool: Pool) -> None:
    repo = UploadRepo(db_pool)
    upload_id = str(uuid.uuid4())
    expires = datetime.now(UTC) + timedelta(hours=1)
    row = await repo.create(
        upload_id, "uploads/abc.mp4", 12345, "clip.mp4", "video/mp4", MEDIA, 10.0, expires
    )
    assert row.id == upload_id
    assert (row.key, row.bytes, row.filename, row.content_type) == (
        "uploads/abc.mp4",
        12345,
        "clip.mp4",
        "video/mp4",
    )
    assert row.media == MEDIA and row.duration_sec == 10.0 and row.expires_at == expires
    assert await repo.get("uploads/abc.mp4") == row
    assert await repo.get(upload_id) == row
    assert await repo.get("uploads/missing") is None
    assert await repo.get(str(uuid.uuid4())) is None

    with pytest.raises(asyncpg.UniqueViolationError):
        await repo.create(str(uuid.uuid4()), "uploads/abc.mp4", 1, None, None, {}, None, expires)


async def test_key_wins_over_id(db_pool: Pool) -> None:
    # A key that happens to look like another upload's id must find the keyed row.
    repo = UploadRepo(db_pool)
    expires = datetime.now(UTC) + timedelta(hours=1)
    first = await repo.create(uuid.uuid4(), "k1", 1, None, None, {}, None, expires)
    second = await repo.create(uuid.uuid4(), first.id, 2, None, None, {}, None, expires)
    found = await repo.get(first.id)
    assert found == second


async def test_delete_expired_returns_keys(db_pool: Pool) -> None:
    repo = UploadRepo(db_pool)
    now = datetime.now(UTC)
    await repo.create(uuid.uuid4(), "old", 1, None, None, {}, None, now - timedelta(seconds=1))
    await repo.create(uuid.uuid4(), "new", 1, None, None, {}, None, now + timedelta(hours=1))
    assert await repo.delete_expired(now) == ["old"]
    assert await repo.get("old") is None
    assert await repo.get("new") is not None
