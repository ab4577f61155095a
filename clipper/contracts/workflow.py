"""Payloads of ClipWorkflow and its activities: one frozen dataclass in, one out.

Temporal's default converter serialises dataclasses; these types are pure so the
workflow sandbox can import them. Evolve them only by adding fields with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clipper.media.info import CutReceipt, MediaInfo
from clipper.orchestration import ENCODE_QUEUE


@dataclass(frozen=True)
class ClipSpec:
    """What to cut, already validated by the API (times in seconds on the source timeline)."""

    source_key: str
    start: float
    end: float
    mode: str = "accurate"
    with_subtitles: bool = False
    burn_subtitles: bool = False
    subtitle_lang: str = "auto"


@dataclass(frozen=True)
class ClipJobInput:
    job_id: str
    spec: ClipSpec
    # Seconds between progress writes to the job row; configuration travels as input.
    progress_interval_sec: float = 1.0
    # Where probe and cut run: a deployment (or a test) may route them elsewhere.
    encode_queue: str = ENCODE_QUEUE


@dataclass(frozen=True)
class StatusUpdate:
    """One idempotent write of the job's status; `seq` orders writes of one job."""

    job_id: str
    seq: int
    status: str
    stage: str | None = None
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class ProbeInput:
    job_id: str
    source_key: str
    # Also list the keyframes before this point (the clip's start), in the same ffprobe run.
    keyframes_near: float | None = None


@dataclass(frozen=True)
class ProbeOutput:
    media: MediaInfo


@dataclass(frozen=True)
class CutInput:
    job_id: str
    spec: ClipSpec
    media: MediaInfo
    progress_interval_sec: float = 1.0


@dataclass(frozen=True)
class CutOutput:
    """A clip waiting in one worker's scratch dir; only `worker_queue` can reach it."""

    worker_queue: str
    scratch_file: str
    receipt: CutReceipt


@dataclass(frozen=True)
class PublishInput:
    job_id: str
    scratch_file: str
    result_key: str


@dataclass(frozen=True)
class PublishOutput:
    key: str
    bytes: int


@dataclass(frozen=True)
class DiscardInput:
    job_id: str


@dataclass(frozen=True)
class ClipJobOutput:
    video_key: str
    video_bytes: int
    receipt: CutReceipt
    extra_keys: dict[str, str] = field(default_factory=dict)
