"""JobRepo against a real Postgres: one fresh database per test (tests/pg.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from clipper.db.jobs import JobRepo
from clipper.db.pool import Pool, check
from clipper.errors import ClipperError, ErrorCode

pytestmark = pytest.mark.integration

REQUEST = {"sourceType": "url", "start": "00:00:01", "end": 5.5, "nested": {"a": [1, None]}}


def new_id() -> str:
    return str(uuid.uuid4())


def later(hours: float = 72) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


@pytest.fixture
def repo(db_pool: Pool) -> JobRepo:
    return JobRepo(db_pool)


async def test_check_passes_on_migrated_database(db_pool: Pool) -> None:
    await check(db_pool)


async def test_create_and_get_round_trip(repo: JobRepo) -> None:
    job_id = new_id()
    expires = later()
    row, created = await repo.create(job_id, REQUEST, expires, None, "up/abc")
    assert created
    assert row.id == job_id
    assert (row.status, row.stage, row.progress, row.status_seq, row.attempts) == (
        "queued",
        None,
        0,
        0,
        0,
    )
    assert row.request == REQUEST
    assert row.upload_key == "up/abc"
    assert row.expires_at == expires
    assert row.created_at == row.updated_at
    assert row.started_at is None and row.finished_at is None and row.result is None
    assert await repo.get(job_id) == row
    events = await repo.events(job_id)
    assert [(e.type, e.data) for e in events] == [("created", {"status": "queued"})]


async def test_get_unknown_or_malformed_id_is_none(repo: JobRepo) -> None:
    assert await repo.get(new_id()) is None
    assert await repo.get("not-a-uuid") is None
    assert await repo.get("") is None
    assert await repo.events("not-a-uuid") == []


async def test_create_with_taken_id_is_a_conflict(repo: JobRepo) -> None:
    job_id = new_id()
    await repo.create(job_id, REQUEST, later(), None, None)
    with pytest.raises(ClipperError) as info:
        await repo.create(job_id, REQUEST, later(), None, None)
    assert info.value.code is ErrorCode.CONFLICT
    with pytest.raises(ValueError):
        await repo.create("nope", REQUEST, later(), None, None)


async def test_idempotency_key_returns_existing_job(repo: JobRepo) -> None:
    first, created = await repo.create(new_id(), REQUEST, later(), "key-1", None)
    again, created_again = await repo.create(new_id(), {"other": 1}, later(), "key-1", None)
    assert created and not created_again
    assert again == first
    assert len(await repo.events(first.id)) == 1
    # No key: never deduplicated.
    a, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    b, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    assert a.id != b.id


async def test_idempotency_key_race_creates_one_job(db_pool: Pool, repo: JobRepo) -> None:
    ids = [new_id() for _ in range(4)]
    results = await asyncio.gather(
        *(repo.create(job_id, REQUEST, later(), "race-key", None) for job_id in ids)
    )
    winners = [row for row, created in results if created]
    assert len(winners) == 1
    assert {row.id for row, _ in results} == {winners[0].id}
    count = await db_pool.fetchval("SELECT count(*) FROM jobs WHERE idempotency_key = 'race-key'")
    assert count == 1


async def test_record_status_lifecycle(repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    assert await repo.record_status(row.id, seq=1, status="processing", stage="probe")
    processing = await repo.get(row.id)
    assert processing is not None
    assert (processing.status, processing.stage, processing.status_seq) == (
        "processing",
        "probe",
        1,
    )
    assert processing.started_at is not None and processing.finished_at is None
    assert processing.updated_at > row.updated_at

    assert await repo.record_status(row.id, seq=2, status="processing", stage="cut", progress=40)
    mid = await repo.get(row.id)
    assert mid is not None and mid.started_at == processing.started_at and mid.progress == 40

    result = {"video": {"key": "results/x.mp4", "bytes": 123}}
    assert await repo.record_status(row.id, seq=3, status="done", stage=None, result=result)
    done = await repo.get(row.id)
    assert done is not None
    assert (done.status, done.stage, done.progress, done.result) == ("done", None, 100, result)
    assert done.finished_at is not None and done.started_at == processing.started_at

    events = await repo.events(row.id)
    assert [e.type for e in events] == ["created", "status", "status", "status"]
    assert [e.data for e in events[1:]] == [
        {"status": "processing", "stage": "probe", "progress": 0},
        {"status": "processing", "stage": "cut", "progress": 40},
        {"status": "done", "progress": 100},
    ]


async def test_record_status_is_idempotent(db_pool: Pool, repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    assert await repo.record_status(row.id, seq=1, status="processing", stage="cut", progress=10)
    before = await repo.get(row.id)

    # The same write again (a retried activity): nothing changes, no second event.
    assert not await repo.record_status(
        row.id, seq=1, status="processing", stage="cut", progress=10
    )
    assert await repo.get(row.id) == before
    keyed = await db_pool.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = $1 AND event_key = 'status:1'",
        uuid.UUID(row.id),
    )
    assert keyed == 1
    assert len(await repo.events(row.id)) == 2


async def test_record_status_ignores_lower_seq(repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    assert await repo.record_status(
        row.id,
        seq=5,
        status="failed",
        stage="cut",
        error_code="CUT_FAILED",
        error_message="ffmpeg exited 1",
    )
    failed = await repo.get(row.id)
    # A late write from an earlier point of the workflow must not resurrect the job.
    assert not await repo.record_status(row.id, seq=3, status="processing", stage="cut")
    assert await repo.get(row.id) == failed
    assert failed is not None
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "CUT_FAILED",
        "ffmpeg exited 1",
    )
    assert failed.started_at is None and failed.finished_at is not None
    events = await repo.events(row.id)
    assert [e.type for e in events] == ["created", "status"]
    assert events[1].data["error"] == {"code": "CUT_FAILED", "message": "ffmpeg exited 1"}


async def test_record_status_event_data_and_validation(repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    assert await repo.record_status(
        row.id, seq=1, status="canceled", stage=None, event_data={"by": "user", "status": "x"}
    )
    events = await repo.events(row.id)
    # Our own keys win over event_data's, so the log cannot contradict the row.
    assert events[-1].data == {"by": "user", "status": "canceled", "progress": 0}
    with pytest.raises(ValueError):
        await repo.record_status(row.id, seq=2, status="exploded", stage=None)
    with pytest.raises(ValueError):
        await repo.record_status(row.id, seq=0, status="done", stage=None)


async def test_record_status_of_unknown_job_does_nothing(repo: JobRepo) -> None:
    assert not await repo.record_status(new_id(), seq=1, status="processing", stage="x")
    assert not await repo.record_status("garbage", seq=1, status="processing", stage="x")


async def test_progress_rules(repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    # Not processing yet: ignored.
    assert not await repo.record_progress(row.id, stage="cut", progress=10, attempt=1)
    queued = await repo.get(row.id)
    assert queued is not None and queued.progress == 0 and queued.last_heartbeat_at is None

    await repo.record_status(row.id, seq=1, status="processing", stage="cut")
    assert await repo.record_progress(row.id, stage="cut", progress=30, attempt=1)
    # Backwards within a stage (a retry restarting it): the bar holds.
    assert await repo.record_progress(row.id, stage="cut", progress=5, attempt=2)
    held = await repo.get(row.id)
    assert held is not None
    assert (held.stage, held.progress, held.attempts) == ("cut", 30, 2)
    assert held.last_heartbeat_at is not None
    # A lower attempt number (another activity) never lowers attempts.
    assert await repo.record_progress(row.id, stage="cut", progress=200, attempt=1)
    clamped = await repo.get(row.id)
    assert clamped is not None and (clamped.progress, clamped.attempts) == (100, 2)
    assert clamped.last_heartbeat_at is not None
    assert clamped.last_heartbeat_at >= held.last_heartbeat_at
    # A new stage starts its own count.
    assert await repo.record_progress(row.id, stage="asr", progress=7, attempt=1)
    asr = await repo.get(row.id)
    assert asr is not None and (asr.stage, asr.progress) == ("asr", 7)

    await repo.record_status(row.id, seq=2, status="done", stage=None)
    assert not await repo.record_progress(row.id, stage="asr", progress=50, attempt=1)
    done = await repo.get(row.id)
    assert done is not None and (done.progress, done.stage) == (100, None)
    # Heartbeats write no events.
    assert [e.type for e in await repo.events(row.id)] == ["created", "status", "status"]
    assert not await repo.record_progress("garbage", stage="x", progress=1, attempt=1)


async def test_events_order_pagination_and_keys(repo: JobRepo) -> None:
    row, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    appended = [await repo.append_event(row.id, "log", {"n": n}, None) for n in range(5)]
    assert all(event is not None for event in appended)
    keyed = await repo.append_event(row.id, "artifact", {"key": "a"}, "artifact:video")
    assert keyed is not None
    assert await repo.append_event(row.id, "artifact", {"key": "b"}, "artifact:video") is None
    assert await repo.append_event(new_id(), "log", {}, None) is None
    assert await repo.append_event("garbage", "log", {}, None) is None

    events = await repo.events(row.id)
    assert [e.type for e in events] == ["created"] + ["log"] * 5 + ["artifact"]
    assert [e.data.get("n") for e in events[1:6]] == [0, 1, 2, 3, 4]
    assert events[-1].data == {"key": "a"}
    ids = [e.id for e in events]
    assert ids == sorted(ids)
    assert all(e.ts.tzinfo is not None for e in events)

    page1 = await repo.events(row.id, limit=3)
    page2 = await repo.events(row.id, after_id=page1[-1].id, limit=3)
    page3 = await repo.events(row.id, after_id=page2[-1].id, limit=3)
    assert page1 + page2 + page3 == events
    assert await repo.events(row.id, after_id=events[-1].id) == []


async def test_events_do_not_mix_jobs(repo: JobRepo) -> None:
    a, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    b, _ = await repo.create(new_id(), REQUEST, later(), None, None)
    await repo.append_event(a.id, "x", {}, "same-key")
    assert await repo.append_event(b.id, "x", {}, "same-key") is not None
    assert [e.type for e in await repo.events(b.id)] == ["created", "x"]


async def test_delete_expired(db_pool: Pool, repo: JobRepo) -> None:
    now = datetime.now(UTC)
    old = [
        (await repo.create(new_id(), REQUEST, now - timedelta(hours=h), None, None))[0]
        for h in (1, 2, 3)
    ]
    fresh, _ = await repo.create(new_id(), REQUEST, now + timedelta(hours=1), "k", None)
    await repo.append_event(old[0].id, "log", {}, None)

    first = await repo.delete_expired(now, limit=2)
    rest = await repo.delete_expired(now, limit=2)
    assert len(first) == 2 and len(rest) == 1
    assert set(first + rest) == {row.id for row in old}
    assert await repo.delete_expired(now) == []
    assert await repo.get(fresh.id) is not None
    orphans = await db_pool.fetchval(
        "SELECT count(*) FROM job_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM jobs j WHERE j.id = e.job_id)"
    )
    assert orphans == 0
    assert await repo.events(old[0].id) == []
