"""ClipWorkflow: one job, from a stored source to a published clip.

    record processing -> probe (encode queue) -> cut (encode queue, into one worker's
    scratch) -> publish (that worker's own queue) -> record done

Status writes are local activities (a few ms, no extra task-queue hop), because the
fast path of a stream-copy cut costs ~0.2 s and every hop would show. The cut and the
publish share a scratch file, so the publish runs on the private queue of the worker
that cut; if that worker dies in between, nobody polls its queue, the publish times
out waiting to start, and the workflow cuts again on the shared queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
    TimeoutType,
)
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from clipper.contracts.workflow import (
        ClipJobInput,
        ClipJobOutput,
        CutInput,
        CutOutput,
        DiscardInput,
        ProbeInput,
        ProbeOutput,
        PublishInput,
        PublishOutput,
        StatusUpdate,
    )
    from clipper.errors import ErrorCode, code_of
    from clipper.media.info import CutReceipt, MediaInfo
    from clipper.orchestration import (
        SA_JOB_ID,
        SA_MODE,
        SA_STATUS,
        SCRATCH_LOST,
    )
    from clipper.storage.base import result_key
    from workflows import policies


def clip_search_attributes(job_id: str, mode: str, status: str) -> TypedSearchAttributes:
    """The attributes a job starts with; the API passes them to start_workflow."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SA_JOB_ID, job_id),
            SearchAttributePair(SA_MODE, mode),
            SearchAttributePair(SA_STATUS, status),
        ]
    )


@workflow.defn(name="ClipWorkflow")
class ClipWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._stage = "queued"
        self._scratch_queue: str | None = None  # a worker holding our clip in scratch

    @workflow.query(name="stage")
    def stage(self) -> str:
        return self._stage

    @workflow.run
    async def run(self, job: ClipJobInput) -> ClipJobOutput:
        try:
            await self._record(job, "processing", stage="probing")
            probe = await workflow.execute_activity(
                "clip.probe",
                ProbeInput(job.job_id, job.spec.source_key, keyframes_near=job.spec.start),
                result_type=ProbeOutput,
                task_queue=job.encode_queue,
                start_to_close_timeout=policies.PROBE_TIMEOUT,
                retry_policy=policies.MEDIA_RETRY,
            )
            output = await self._cut_and_publish(job, probe.media)
            await self._record(job, "done", result=_result_document(output))
            return output
        except asyncio.CancelledError:
            await self._record_canceled(job)
            raise
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                # The job was canceled while an activity ran; waiting for the activity to
                # wind down (ffmpeg killed, scratch removed) surfaces it as this failure.
                await self._record_canceled(job)
                raise asyncio.CancelledError() from err
            code, message = _describe_failure(err)
            await self._discard_scratch(job)
            await self._record(job, "failed", error_code=code, error_message=message)
            raise ApplicationError(message, type=code, non_retryable=True) from err

    async def _cut_and_publish(self, job: ClipJobInput, media: MediaInfo) -> ClipJobOutput:
        key = result_key(job.job_id)
        for attempt in range(1, policies.STICKY_ATTEMPTS + 1):
            self._stage = "cutting"
            cut = await workflow.execute_activity(
                "clip.cut",
                CutInput(job.job_id, job.spec, media, job.progress_interval_sec),
                result_type=CutOutput,
                task_queue=job.encode_queue,
                start_to_close_timeout=policies.CUT_TIMEOUT,
                heartbeat_timeout=policies.CUT_HEARTBEAT,
                retry_policy=policies.MEDIA_RETRY,
                # Wait until the worker has killed ffmpeg and cleaned scratch before
                # the job is reported canceled.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            self._scratch_queue = cut.worker_queue
            self._stage = "publishing"
            try:
                published = await workflow.execute_activity(
                    "clip.publish",
                    PublishInput(job.job_id, cut.scratch_file, key),
                    result_type=PublishOutput,
                    task_queue=cut.worker_queue,
                    schedule_to_start_timeout=policies.STICKY_SCHEDULE_TO_START,
                    start_to_close_timeout=policies.PUBLISH_TIMEOUT,
                    heartbeat_timeout=policies.PUBLISH_HEARTBEAT,
                    retry_policy=policies.MEDIA_RETRY,
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
            except ActivityError as err:
                if not _worker_lost(err) or attempt == policies.STICKY_ATTEMPTS:
                    raise  # the scratch stays known, for the failure handler to discard
                workflow.logger.warning(
                    "worker %s lost before publishing; cutting again", cut.worker_queue
                )
                self._scratch_queue = None  # gone with its worker
                continue
            self._scratch_queue = None  # publish moved the clip out of scratch
            return ClipJobOutput(published.key, published.bytes, cut.receipt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _record(self, job: ClipJobInput, status: str, **fields: Any) -> None:
        self._seq += 1
        self._stage = fields.get("stage") or status
        await workflow.execute_local_activity(
            "jobs.record_status",
            StatusUpdate(job.job_id, self._seq, status, **fields),
            start_to_close_timeout=policies.STATUS_WRITE_TIMEOUT,
            retry_policy=policies.STATUS_WRITE_RETRY,
        )
        workflow.upsert_search_attributes([SA_STATUS.value_set(status)])

    async def _record_canceled(self, job: ClipJobInput) -> None:
        await self._discard_scratch(job)
        await self._record(job, "canceled")

    async def _discard_scratch(self, job: ClipJobInput) -> None:
        """Best effort: a clip cut but never published must not linger in scratch."""
        if self._scratch_queue is None:
            return
        # If the worker is gone, so is its scratch: its successor sweeps what is left.
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity(
                "clip.discard",
                DiscardInput(job.job_id),
                task_queue=self._scratch_queue,
                schedule_to_start_timeout=policies.STICKY_SCHEDULE_TO_START,
                start_to_close_timeout=policies.DISCARD_TIMEOUT,
                retry_policy=policies.DISCARD_RETRY,
            )


def _worker_lost(err: ActivityError) -> bool:
    """The worker holding our scratch file is gone (or lost the file): cut again elsewhere."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.type == SCRATCH_LOST
    return isinstance(cause, TimeoutError) and cause.type in (
        TimeoutType.SCHEDULE_TO_START,
        TimeoutType.HEARTBEAT,
    )


def _describe_failure(err: ActivityError) -> tuple[str, str]:
    """The job's error code and a message safe to show, from an activity's failure."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        code = code_of(cause.type)
        if code is ErrorCode.INTERNAL:
            return code.value, "internal error while processing the clip"
        return code.value, cause.message
    if isinstance(cause, TimeoutError):
        if cause.type in (TimeoutType.HEARTBEAT, TimeoutType.SCHEDULE_TO_START):
            return ErrorCode.WORKER_LOST.value, "the worker processing the clip stopped responding"
        return ErrorCode.TIMEOUT.value, "the clip took too long to process"
    return ErrorCode.INTERNAL.value, "internal error while processing the clip"


def _result_document(output: ClipJobOutput) -> dict[str, Any]:
    """What the job row keeps: storage keys and the receipt; URLs are minted on read."""
    receipt: CutReceipt = output.receipt
    return {
        "video": {
            "key": output.video_key,
            "bytes": output.video_bytes,
            "durationSec": receipt.duration_sec,
        },
        "cut": {
            "mode": receipt.mode,
            "requestedStart": receipt.requested_start,
            "requestedEnd": receipt.requested_end,
            "actualStart": receipt.actual_start,
            "actualEnd": receipt.actual_end,
            "reencodedSec": receipt.reencoded_sec,
            "copiedSec": receipt.copied_sec,
            "fallbackReason": receipt.fallback_reason,
        },
    }
