"""Jobs and their event log in Postgres, written so that every write is safe to repeat.

Temporal runs activities at least once, so a status write may arrive twice, or arrive
after a newer one when an attempt timed out but had in fact committed. Status writes
therefore carry a sequence number chosen by the workflow (deterministic, so the same
write keeps the same number across retries and replays) and apply only when it is
higher than the row's `status_seq`; their event is keyed `status:<seq>` so a replay
cannot log it twice. Each write is a single SQL statement, hence one transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from clipper.db.models import JOB_STATUSES, JobEvent, JobRow
from clipper.db.pool import Pool
from clipper.errors import ClipperError, ErrorCode

_JOB_COLUMNS = """
    id, status, stage, progress, request, result, error_code, error_message, attempts,
    idempotency_key, upload_key, status_seq, created_at, updated_at, started_at,
    finished_at, expires_at, last_heartbeat_at
"""

# The job row and its `created` event in one statement. ON CONFLICT on the idempotency
# key waits for a concurrent insert of the same key to commit, then inserts nothing:
# the caller reads the winner's row instead.
_CREATE = f"""
WITH ins AS (
    INSERT INTO jobs (id, status, request, expires_at, idempotency_key, upload_key)
    VALUES ($1::uuid, 'queued', $2::jsonb, $3::timestamptz, $4::text, $5::text)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {_JOB_COLUMNS}
), ev AS (
    INSERT INTO job_events (job_id, type, data, event_key)
    SELECT id, 'created', jsonb_build_object('status', status), 'created' FROM ins
)
SELECT {_JOB_COLUMNS} FROM ins
"""

_GET = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1::uuid"
_GET_BY_KEY = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE idempotency_key = $1::text"

# Data-modifying CTEs always run to completion, so the event insert happens exactly when
# the update matched; the outer SELECT reports whether it did.
_RECORD_STATUS = """
WITH upd AS (
    UPDATE jobs SET
        status = $3::text,
        status_seq = $2::int,
        stage = $4::text,
        progress = CASE WHEN $3::text = 'done' THEN 100
                        ELSE COALESCE($5::smallint, progress) END,
        result = COALESCE($6::jsonb, result),
        error_code = COALESCE($7::text, error_code),
        error_message = COALESCE($8::text, error_message),
        started_at = CASE WHEN $3::text = 'processing' THEN COALESCE(started_at, now())
                          ELSE started_at END,
        finished_at = CASE WHEN $3::text IN ('done', 'failed', 'canceled')
                           THEN COALESCE(finished_at, now()) ELSE finished_at END,
        updated_at = now()
    WHERE id = $1::uuid AND status_seq < $2::int
    RETURNING id, status, stage, progress
), ev AS (
    INSERT INTO job_events (job_id, type, data, event_key)
    SELECT id, 'status',
           $9::jsonb || jsonb_strip_nulls(
               jsonb_build_object('status', status, 'stage', stage, 'progress', progress)),
           'status:' || $2::int
    FROM upd
    ON CONFLICT (job_id, event_key) DO NOTHING
)
SELECT count(*) FROM upd
"""

_RECORD_PROGRESS = """
UPDATE jobs SET
    stage = $2::text,
    progress = CASE WHEN stage IS DISTINCT FROM $2::text THEN $3::smallint
                    ELSE GREATEST(progress, $3::smallint) END,
    attempts = GREATEST(attempts, $4::int),
    last_heartbeat_at = now(),
    updated_at = now()
WHERE id = $1::uuid AND status = 'processing'
"""

_APPEND_EVENT = """
INSERT INTO job_events (job_id, type, data, event_key)
SELECT id, $2::text, $3::jsonb, $4::text FROM jobs WHERE id = $1::uuid
ON CONFLICT (job_id, event_key) DO NOTHING
RETURNING id, ts, type, data
"""

_EVENTS = """
SELECT id, ts, type, data FROM job_events
WHERE job_id = $1::uuid AND id > $2::bigint
ORDER BY id
LIMIT $3::int
"""

# SKIP LOCKED lets several retention runs (or a run racing a status write) proceed
# without waiting on each other; LIMIT keeps each transaction short.
_DELETE_EXPIRED = """
DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE expires_at <= $1::timestamptz
    ORDER BY expires_at
    LIMIT $2::int
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def parse_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    """`value` as a UUID, or None when it is not one (ids arrive from URLs)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _clamp_progress(progress: int) -> int:
    # Progress is an estimate (ffmpeg's time= over the clip length can overshoot);
    # clamping beats failing the write on the column's CHECK.
    return max(0, min(100, int(progress)))


def job_from_record(rec: asyncpg.Record) -> JobRow:
    return JobRow(
        id=str(rec["id"]),
        status=rec["status"],
        stage=rec["stage"],
        progress=rec["progress"],
        request=rec["request"],
        result=rec["result"],
        error_code=rec["error_code"],
        error_message=rec["error_message"],
        attempts=rec["attempts"],
        idempotency_key=rec["idempotency_key"],
        upload_key=rec["upload_key"],
        status_seq=rec["status_seq"],
        created_at=rec["created_at"],
        updated_at=rec["updated_at"],
        started_at=rec["started_at"],
        finished_at=rec["finished_at"],
        expires_at=rec["expires_at"],
        last_heartbeat_at=rec["last_heartbeat_at"],
    )


def event_from_record(rec: asyncpg.Record) -> JobEvent:
    return JobEvent(id=rec["id"], ts=rec["ts"], type=rec["type"], data=rec["data"] or {})


class JobRepo:
    """Reads and idempotent writes of `jobs` and `job_events`. Datetimes must be aware."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(
        self,
        job_id: str,
        request: dict[str, Any],
        expires_at: datetime,
        idempotency_key: str | None = None,
        upload_key: str | None = None,
    ) -> tuple[JobRow, bool]:
        """Insert a queued job and its `created` event; returns (row, created).

        With an `idempotency_key` that is already taken, returns the existing job and
        False, also when two creates race. Whether the two requests match is the
        caller's concern. Raises ValueError for a malformed id and ClipperError(CONFLICT)
        when the id itself is taken.
        """
        jid = parse_uuid(job_id)
        if jid is None:
            raise ValueError(f"job id is not a UUID: {job_id!r}")
        # The loop covers the holder of the key being deleted (retention) between our
        # conflicting insert and the read of its row: the next insert then succeeds.
        for _ in range(3):
            try:
                rec = await self._pool.fetchrow(
                    _CREATE, jid, request, expires_at, idempotency_key, upload_key
                )
            except asyncpg.UniqueViolationError as exc:
                raise ClipperError(ErrorCode.CONFLICT, f"job {job_id} already exists") from exc
            if rec is not None:
                return job_from_record(rec), True
            assert idempotency_key is not None  # only the key's conflict inserts nothing
            existing = await self.get_by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing, False
        raise ClipperError(ErrorCode.CONFLICT, "idempotency key is contended; retry")

    async def get(self, job_id: str) -> JobRow | None:
        jid = parse_uuid(job_id)
        if jid is None:
            return None
        rec = await self._pool.fetchrow(_GET, jid)
        return None if rec is None else job_from_record(rec)

    async def get_by_idempotency_key(self, key: str) -> JobRow | None:
        rec = await self._pool.fetchrow(_GET_BY_KEY, key)
        return None if rec is None else job_from_record(rec)

    async def record_status(
        self,
        job_id: str,
        *,
        seq: int,
        status: str,
        stage: str | None,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        event_data: dict[str, Any] | None = None,
    ) -> bool:
        """Apply a status write numbered `seq` unless one numbered >= seq already applied.

        `stage` is written as given (None clears it). `progress`, `result` and the error
        fields keep their stored value when None; `done` forces progress to 100. The
        first `processing` sets started_at, the first terminal status finished_at.
        The `status` event's data holds status, stage, progress, `error` {code, message}
        when given, and `event_data`. Returns True when the write applied; False for a
        replayed, late or unknown-job write, which changes nothing.
        """
        if status not in JOB_STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        if seq < 1:
            raise ValueError("seq starts at 1 (a new job's status_seq is 0)")
        jid = parse_uuid(job_id)
        if jid is None:
            return False
        extra: dict[str, Any] = dict(event_data or {})
        if error_code is not None or error_message is not None:
            extra["error"] = {"code": error_code, "message": error_message}
        applied = await self._pool.fetchval(
            _RECORD_STATUS,
            jid,
            seq,
            status,
            stage,
            None if progress is None else _clamp_progress(progress),
            result,
            error_code,
            error_message,
            extra,
        )
        return bool(applied)

    async def record_progress(
        self, job_id: str, *, stage: str, progress: int, attempt: int
    ) -> bool:
        """Record a heartbeat's progress while the job is `processing`; else ignore it.

        Rules: within one stage progress never goes backwards (a retried attempt that
        restarts a stage does not make the bar jump back); a different stage replaces
        stage and progress. last_heartbeat_at becomes now() and `attempts` keeps the
        highest activity attempt reported. No event is written: heartbeats are too
        frequent for the log. Returns whether the job was processing.
        """
        jid = parse_uuid(job_id)
        if jid is None:
            return False
        status = await self._pool.execute(
            _RECORD_PROGRESS, jid, stage, _clamp_progress(progress), attempt
        )
        return status == "UPDATE 1"

    async def append_event(
        self,
        job_id: str,
        type: str,
        data: dict[str, Any] | None = None,
        event_key: str | None = None,
    ) -> JobEvent | None:
        """Append an event; None when the job is unknown or `event_key` was already used."""
        jid = parse_uuid(job_id)
        if jid is None:
            return None
        rec = await self._pool.fetchrow(_APPEND_EVENT, jid, type, data or {}, event_key)
        return None if rec is None else event_from_record(rec)

    async def events(self, job_id: str, after_id: int = 0, limit: int = 500) -> list[JobEvent]:
        """Events in the order they were written, after the event numbered `after_id`.

        Ordered by id, not ts: ts is the writing transaction's start time, so two events
        of one instant would otherwise come back in any order. An SSE stream resumes by
        passing the last id it sent.
        """
        jid = parse_uuid(job_id)
        if jid is None:
            return []
        records = await self._pool.fetch(_EVENTS, jid, after_id, limit)
        return [event_from_record(rec) for rec in records]

    async def delete_expired(self, now: datetime, limit: int = 1000) -> list[str]:
        """Delete up to `limit` jobs whose expires_at <= now (events go with them).

        Deletes whatever the status: past its expiry a job is dead or abandoned. Returns
        the deleted ids so retention can remove their stored files; call again until it
        returns fewer than `limit`.
        """
        records = await self._pool.fetch(_DELETE_EXPIRED, now, limit)
        return [str(rec["id"]) for rec in records]
