"""Rows of the database as frozen dataclasses: what the repositories return.

They mirror the tables one to one (jsonb columns arrive as dicts), so the API and the
activities map them onto their own wire types without a second query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

JobStatus = Literal["queued", "processing", "done", "failed", "canceled"]
JOB_STATUSES: Final[frozenset[str]] = frozenset(
    {"queued", "processing", "done", "failed", "canceled"}
)
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"done", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    status: str
    stage: str | None
    progress: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    attempts: int
    idempotency_key: str | None
    upload_key: str | None
    status_seq: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime
    last_heartbeat_at: datetime | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class JobEvent:
    id: int
    ts: datetime
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    key: str
    bytes: int
    filename: str | None
    content_type: str | None
    media: dict[str, Any]
    duration_sec: float | None
    created_at: datetime
    expires_at: datetime
