"""ClipWorkflow's decisions, with its activities replaced by fakes under the same names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clipper.contracts.workflow import (
    ClipJobInput,
    ClipSpec,
    CutInput,
    CutOutput,
    DiscardInput,
    ProbeInput,
    ProbeOutput,
    PublishInput,
    PublishOutput,
    StatusUpdate,
)
from clipper.media.info import CutReceipt, MediaInfo, VideoStream
from clipper.orchestration import SCRATCH_LOST
from workflows.clip import ClipWorkflow

pytestmark = pytest.mark.integration

MEDIA = MediaInfo(
    duration_sec=10.0,
    start_time=0.0,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    bit_rate=None,
    video=VideoStream(0, "h264", 320, 240, 25.0, "1/12800", "yuv420p", "High", 0, 2),
    audio=(),
)
RECEIPT = CutReceipt("fast", 1.0, 2.0, 0.0, 2.04, 0.0, 2.04, None, 2.04, 1234)


class Fakes:
    """Activities under the workflow's names, recording what they were asked."""

    def __init__(
        self,
        queue: str,
        *,
        publish_failures: int = 0,
        cut_error: Exception | None = None,
        publish_hangs: bool = False,
    ):
        self.queue = queue
        self.publish_failures = publish_failures
        self.publish_hangs = publish_hangs
        self.publishing = asyncio.Event()
        self.cut_error = cut_error
        self.updates: list[StatusUpdate] = []
        self.cuts = 0
        self.discards = 0

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="jobs.record_status")
        async def record_status(update: StatusUpdate) -> bool:
            self.updates.append(update)
            return True

        @activity.defn(name="clip.probe")
        async def probe(request: ProbeInput) -> ProbeOutput:
            return ProbeOutput(MEDIA)

        @activity.defn(name="clip.cut")
        async def cut(request: CutInput) -> CutOutput:
            self.cuts += 1
            if self.cut_error is not None:
                raise self.cut_error
            return CutOutput(self.queue, f"/scratch/{request.job_id}/clip.mp4", RECEIPT)

        @activity.defn(name="clip.publish")
        async def publish(request: PublishInput) -> PublishOutput:
            self.publishing.set()
            while self.publish_hangs:  # until canceled
                activity.heartbeat()
                await asyncio.sleep(0.05)
            if self.publish_failures:
                self.publish_failures -= 1
                raise ApplicationError("gone", type=SCRATCH_LOST, non_retryable=True)
            return PublishOutput(request.result_key, 1234)

        @activity.defn(name="clip.discard")
        async def discard(request: DiscardInput) -> None:
            self.discards += 1

        return [record_status, probe, cut, publish, discard]


def fake_worker(env: WorkflowEnvironment, fakes: Fakes) -> Worker:
    return Worker(
        env.client,
        task_queue=fakes.queue,
        workflows=[ClipWorkflow],
        activities=fakes.activities(),
        max_heartbeat_throttle_interval=timedelta(milliseconds=200),
    )


async def start_clip(env: WorkflowEnvironment, fakes: Fakes) -> WorkflowHandle[Any, Any]:
    """Start one ClipWorkflow whose activities all run on the fakes' private queue."""
    job_id = str(uuid.uuid4())
    return await env.client.start_workflow(
        ClipWorkflow.run,
        ClipJobInput(
            job_id,
            ClipSpec("sources/x/source.mp4", 1.0, 2.0, "fast"),
            encode_queue=fakes.queue,
        ),
        id=f"clip-{job_id}",
        task_queue=fakes.queue,
    )


async def run_clip(env: WorkflowEnvironment, fakes: Fakes) -> Any:
    async with fake_worker(env, fakes):
        return await (await start_clip(env, fakes)).result()


@pytest.fixture
def queue() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


async def test_statuses_are_written_in_order_with_rising_seq(
    temporal_env: WorkflowEnvironment, queue: str
) -> None:
    fakes = Fakes(queue)
    output = await run_clip(temporal_env, fakes)
    assert output.video_key.endswith("/clip.mp4")
    assert [(u.seq, u.status) for u in fakes.updates] == [(1, "processing"), (2, "done")]
    done = fakes.updates[-1]
    assert done.result is not None
    assert done.result["cut"]["actualEnd"] == 2.04
    assert done.result["video"]["bytes"] == 1234


async def test_a_lost_scratch_file_means_cutting_again(
    temporal_env: WorkflowEnvironment, queue: str
) -> None:
    fakes = Fakes(queue, publish_failures=1)
    await run_clip(temporal_env, fakes)
    assert fakes.cuts == 2
    assert fakes.updates[-1].status == "done"


async def test_canceled_while_publishing_discards_the_scratch(
    temporal_env: WorkflowEnvironment, queue: str
) -> None:
    fakes = Fakes(queue, publish_hangs=True)
    async with fake_worker(temporal_env, fakes):
        handle = await start_clip(temporal_env, fakes)
        await asyncio.wait_for(fakes.publishing.wait(), 30)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert isinstance(info.value.cause, CancelledError)
    assert fakes.discards == 1
    assert fakes.updates[-1].status == "canceled"


async def test_a_permanent_error_fails_the_job_with_its_code(
    temporal_env: WorkflowEnvironment, queue: str
) -> None:
    error = ApplicationError("the source is damaged", type="SOURCE_CORRUPT", non_retryable=True)
    fakes = Fakes(queue, cut_error=error)
    with pytest.raises(WorkflowFailureError) as info:
        await run_clip(temporal_env, fakes)
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "SOURCE_CORRUPT"
    assert fakes.cuts == 1
    failed = fakes.updates[-1]
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "SOURCE_CORRUPT",
        "the source is damaged",
    )


async def test_an_unexpected_error_is_internal_and_leaks_nothing(
    temporal_env: WorkflowEnvironment, queue: str
) -> None:
    error = ApplicationError("secret /path/in/message", type="KeyError", non_retryable=True)
    fakes = Fakes(queue, cut_error=error)
    with pytest.raises(WorkflowFailureError):
        await run_clip(temporal_env, fakes)
    failed = fakes.updates[-1]
    assert failed.error_code == "INTERNAL"
    assert "/path" not in (failed.error_message or "")
