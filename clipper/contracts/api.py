"""Wire types of the REST API (msgspec): camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

SourceType = Literal["upload", "url", "youtube"]
CutMode = Literal["accurate", "fast", "reencode"]
JobStatus = Literal["queued", "processing", "done", "failed", "canceled"]
Priority = Literal["low", "normal", "high"]
Timecode = str | float | int


class _Wire(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=False):
    pass


class CreateJobRequest(_Wire, kw_only=True):
    start: Timecode
    end: Timecode
    source_type: SourceType = "upload"
    upload_key: str | None = None
    source_url: str | None = None
    youtube_url: str | None = None
    mode: CutMode = "accurate"
    with_subtitles: bool = False
    burn_subtitles: bool = False
    subtitle_lang: str = "auto"
    priority: Priority = "normal"


class MediaSummary(_Wire, kw_only=True):
    duration_sec: float
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None


class UploadResponse(_Wire, kw_only=True):
    upload_key: str
    bytes: int
    media: MediaSummary


class ErrorInfo(_Wire, kw_only=True):
    code: str
    message: str


class FileLink(_Wire, kw_only=True):
    url: str
    expires_at: str


class VideoLink(_Wire, kw_only=True):
    url: str
    expires_at: str
    bytes: int
    duration_sec: float


class CutReceiptOut(_Wire, kw_only=True):
    mode: CutMode
    requested_start: float
    requested_end: float
    actual_start: float
    actual_end: float
    reencoded_sec: float
    copied_sec: float
    fallback_reason: str | None = None


class Result(_Wire, kw_only=True, omit_defaults=True):
    video: VideoLink
    cut: CutReceiptOut
    srt: FileLink | None = None
    vtt: FileLink | None = None
    language: str | None = None


class Job(_Wire, kw_only=True, omit_defaults=True):
    id: str
    status: JobStatus
    progress: int
    created_at: str
    updated_at: str
    expires_at: str
    request: dict[str, Any]
    stage: str | None = None
    attempts: int = 0
    error: ErrorInfo | None = None
    result: Result | None = None


class JobEnvelope(_Wire):
    job: Job


class JobEventOut(_Wire, kw_only=True):
    id: int
    ts: str
    type: str
    data: dict[str, Any]


class ErrorBody(_Wire, kw_only=True, omit_defaults=True):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(_Wire):
    error: ErrorBody
