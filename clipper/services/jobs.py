"""Creating, reading and canceling jobs: the API's side of the job lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from clipper.config import Settings
from clipper.contracts.api import CreateJobRequest
from clipper.contracts.workflow import ClipJobInput, ClipSpec
from clipper.db.jobs import JobRepo
from clipper.db.models import JobEvent, JobRow
from clipper.db.uploads import UploadRepo
from clipper.domain.clip_range import parse_clip_range
from clipper.errors import ClipperError, ErrorCode
from clipper.orchestration import WORKFLOW_QUEUE, clip_workflow_id
from workflows.clip import clip_search_attributes

log = structlog.get_logger(__name__)

TERMINAL = frozenset({"done", "failed", "canceled"})
# The seq of a status write the API makes for a job no workflow runs: above any seq a
# workflow can reach, so no late write from one could undo it (status_seq is an int4).
LAST_WORD_SEQ = 2**31 - 1


class JobService:
    def __init__(
        self, settings: Settings, jobs: JobRepo, uploads: UploadRepo, temporal: Client
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.uploads = uploads
        self.temporal = temporal

    async def create(
        self, request: CreateJobRequest, idempotency_key: str | None = None
    ) -> tuple[JobRow, bool]:
        """The job for `request`, and whether it is new.

        With an Idempotency-Key already used for the same request, the existing job comes
        back (and its workflow is started if a crash stopped us before); with a different
        request it is a conflict.
        """
        spec = await self._spec(request)
        document = msgspec.to_builtins(request)
        job_id = str(uuid.uuid4())
        expires_at = datetime.now(UTC) + timedelta(hours=self.settings.retention_hours)
        row, created = await self.jobs.create(
            job_id,
            document,
            expires_at=expires_at,
            idempotency_key=idempotency_key,
            upload_key=spec.source_key,
        )
        if not created and row.request != document:
            raise ClipperError(
                ErrorCode.CONFLICT,
                "this Idempotency-Key was already used for a different request",
                {"jobId": row.id},
            )
        if created or row.status == "queued":
            await self._start(row.id, spec)
        return row, created

    async def _spec(self, request: CreateJobRequest) -> ClipSpec:
        if request.source_type != "upload":
            raise ClipperError(
                ErrorCode.VALIDATION_ERROR,
                f"sourceType {request.source_type!r} is not available on this server yet; "
                "upload the file and use sourceType 'upload'",
                {"field": "sourceType"},
            )
        if request.with_subtitles or request.burn_subtitles:
            raise ClipperError(
                ErrorCode.VALIDATION_ERROR,
                "subtitles are not available on this server yet",
                {"field": "withSubtitles"},
            )
        if not request.upload_key:
            raise ClipperError(
                ErrorCode.VALIDATION_ERROR,
                "uploadKey is required when sourceType is 'upload'",
                {"field": "uploadKey"},
            )
        upload = await self.uploads.get(request.upload_key)
        if upload is None:
            raise ClipperError(
                ErrorCode.UPLOAD_NOT_FOUND,
                "no upload with this uploadKey (it may have expired)",
                {"field": "uploadKey"},
            )
        clip = parse_clip_range(
            request.start,
            request.end,
            source_duration=upload.duration_sec,
            max_clip_seconds=self.settings.max_clip_seconds,
        )
        return ClipSpec(
            source_key=upload.key,
            start=clip.start,
            end=clip.end,
            mode=request.mode,
            with_subtitles=request.with_subtitles,
            burn_subtitles=request.burn_subtitles,
            subtitle_lang=request.subtitle_lang,
        )

    async def _start(self, job_id: str, spec: ClipSpec) -> None:
        try:
            await self.temporal.start_workflow(
                "ClipWorkflow",
                ClipJobInput(job_id, spec),
                id=clip_workflow_id(job_id),
                task_queue=WORKFLOW_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=clip_search_attributes(job_id, spec.mode, "queued"),
                memo={"sourceKey": spec.source_key, "start": spec.start, "end": spec.end},
            )
        except WorkflowAlreadyStartedError:
            pass  # an idempotent retry of a job whose workflow already runs
        except RPCError as err:
            log.error("could not start workflow", job_id=job_id, error=str(err))
            raise ClipperError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "the job was recorded but could not be scheduled; retry with the same "
                "Idempotency-Key",
                {"jobId": job_id},
            ) from err

    async def find(self, job_id: str) -> JobRow | None:
        return await self.jobs.get(job_id)

    async def events(self, job_id: str, after_id: int = 0) -> list[JobEvent]:
        return await self.jobs.events(job_id, after_id=after_id)

    async def get(self, job_id: str) -> JobRow:
        row = await self.jobs.get(job_id)
        if row is None:
            raise ClipperError(ErrorCode.JOB_NOT_FOUND, f"no job with id {job_id!r}")
        return row

    async def cancel(self, job_id: str) -> JobRow:
        row = await self.get(job_id)
        if row.status in TERMINAL:
            raise ClipperError(
                ErrorCode.CONFLICT, f"the job is already {row.status}", {"status": row.status}
            )
        handle = self.temporal.get_workflow_handle(clip_workflow_id(job_id))
        try:
            await handle.cancel()
        except RPCError as err:
            description = await _describe_or_none(handle)
            if description is None or description != WorkflowExecutionStatus.RUNNING:
                # Nothing runs for this job (never started, or already closed): record it.
                await self.jobs.record_status(job_id, seq=1_000_000, status="canceled", stage=None)
            else:
                raise ClipperError(
                    ErrorCode.SERVICE_UNAVAILABLE, "could not reach the job's workflow"
                ) from err
        return await self.get(job_id)


async def _describe_or_none(handle: Any) -> WorkflowExecutionStatus | None:
    try:
        description = await handle.describe()
    except RPCError:
        return None
    status: WorkflowExecutionStatus | None = description.status
    return status
