"""Media activities of ClipWorkflow: probe, cut, publish, discard.

Thin: they fetch what clipper/ needs, report progress, and translate errors. The
cut leaves its output in this worker's scratch dir; publish and discard run on this
worker's private queue (`worker_queue`) so they find it there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from clipper.contracts.workflow import (
    CutInput,
    CutOutput,
    DiscardInput,
    ProbeInput,
    ProbeOutput,
    PublishInput,
    PublishOutput,
)
from clipper.db.jobs import JobRepo
from clipper.errors import ClipperError, ErrorCode
from clipper.infra.scratch import ScratchSpace
from clipper.media.cut import cut_clip
from clipper.media.probe import probe
from clipper.orchestration import SCRATCH_LOST
from clipper.storage.base import Storage

from .support import as_application_errors, heartbeating

log = structlog.get_logger(__name__)


class ClipActivities:
    def __init__(
        self, storage: Storage, jobs: JobRepo, scratch: ScratchSpace, worker_queue: str
    ) -> None:
        self.storage = storage
        self.jobs = jobs
        self.scratch = scratch
        self.worker_queue = worker_queue

    @activity.defn(name="clip.probe")
    async def probe(self, request: ProbeInput) -> ProbeOutput:
        with as_application_errors():
            if not await self.storage.exists(request.source_key):
                raise ClipperError(
                    ErrorCode.SOURCE_UNAVAILABLE,
                    "the source file is gone (expired or deleted); upload it again",
                )
            source = await self.storage.media_input(request.source_key)
            return ProbeOutput(media=await probe(source, keyframes_near=request.keyframes_near))

    @activity.defn(name="clip.cut")
    async def cut(self, request: CutInput) -> CutOutput:
        spec = request.spec
        attempt = activity.info().attempt
        job_dir = self.scratch.job_dir(request.job_id, fresh=True)
        output = job_dir / "clip.mp4"
        reporter = _ProgressReporter(
            self.jobs, request.job_id, attempt, request.progress_interval_sec
        )
        try:
            with as_application_errors():
                source = await self.storage.media_input(spec.source_key)
                async with heartbeating() as heartbeat:

                    def on_progress(percent: float) -> None:
                        heartbeat.update(round(percent, 1))
                        reporter.report("cutting", percent)

                    reporter.report("cutting", 0.0, force=True)
                    receipt = await cut_clip(
                        source,
                        output,
                        spec.start,
                        spec.end,
                        spec.mode,  # type: ignore[arg-type]
                        request.media,
                        on_progress=on_progress,
                    )
        except BaseException:
            # Cancelled, failed or killed mid-write: no half-written clip stays behind.
            self.scratch.discard(request.job_id)
            raise
        finally:
            await reporter.flush()
        log.info("clip cut", job_id=request.job_id, mode=receipt.mode, bytes=receipt.bytes)
        return CutOutput(self.worker_queue, str(output), receipt)

    @activity.defn(name="clip.publish")
    async def publish(self, request: PublishInput) -> PublishOutput:
        path = Path(request.scratch_file)
        if not path.is_file():
            raise ApplicationError(
                "the cut clip is no longer in this worker's scratch",
                type=SCRATCH_LOST,
                non_retryable=True,
            )
        with as_application_errors():
            async with heartbeating():
                size = await self.storage.put_file(request.result_key, path, "video/mp4")
        self.scratch.discard(request.job_id)
        return PublishOutput(request.result_key, size)

    @activity.defn(name="clip.discard")
    async def discard(self, request: DiscardInput) -> None:
        self.scratch.discard(request.job_id)


class _ProgressReporter:
    """Writes progress to the job row at most once per interval, off the hot path."""

    def __init__(self, jobs: JobRepo, job_id: str, attempt: int, interval_sec: float) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.attempt = attempt
        self.interval = interval_sec
        self._last = float("-inf")
        self._pending: asyncio.Task[None] | None = None

    def report(self, stage: str, percent: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (now - self._last < self.interval):
            return
        if self._pending is not None and not self._pending.done():
            return  # the database is slower than our interval; skip this one
        self._last = now
        self._pending = asyncio.create_task(self._write(stage, int(percent)))

    async def _write(self, stage: str, progress: int) -> None:
        try:
            await self.jobs.record_progress(
                self.job_id, stage=stage, progress=min(progress, 99), attempt=self.attempt
            )
        except Exception:  # progress is advisory: never fail a cut for it
            log.warning("progress write failed", job_id=self.job_id, exc_info=True)

    async def flush(self) -> None:
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)
