"""A worker process: which workflows and activities serve which task queue.

    python -m workers.worker [--queues workflows,encode]

One process can serve every queue (the single-machine default) or only some, so
encode and ASR workers scale apart. Each process also polls its own private queue
for the activities that need the scratch files it wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.clip import ClipActivities
from activities.status import StatusActivities
from clipper.config import ConfigError, Settings, load_settings
from clipper.db.jobs import JobRepo
from clipper.db.pool import create_pool
from clipper.infra.scratch import ScratchSpace
from clipper.infra.temporal import connect, ensure_search_attributes
from clipper.logs import configure_logging
from clipper.orchestration import ENCODE_QUEUE, WORKFLOW_QUEUE, worker_specific_queue
from clipper.storage import make_storage
from workflows.clip import ClipWorkflow

log = structlog.get_logger(__name__)

QUEUE_ROLES = ("workflows", "encode")
# A cancel reaches an activity only in the answer to a heartbeat, and the SDK sends at
# most one per 0.8 x heartbeat timeout (8 s for a cut) unless told otherwise: a user's
# DELETE should stop ffmpeg within about a second, not eight.
HEARTBEAT_THROTTLE = timedelta(seconds=1)


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@contextlib.asynccontextmanager
async def running_workers(
    client: Client,
    settings: Settings,
    *,
    roles: Sequence[str] = QUEUE_ROLES,
    worker_id: str | None = None,
) -> AsyncIterator[list[Worker]]:
    """Run this process's Temporal workers until the block ends, then close what they used."""
    worker_id = worker_id or new_worker_id()
    if settings.database_url is None:
        raise ConfigError("DATABASE_URL", "a worker needs a database (make run starts one)")
    async with contextlib.AsyncExitStack() as stack:
        pool = await create_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        jobs = JobRepo(pool)
        workers: list[Worker] = []
        if "workflows" in roles:
            workers.append(
                Worker(
                    client,
                    task_queue=WORKFLOW_QUEUE,
                    workflows=[ClipWorkflow],
                    activities=[StatusActivities(jobs).record_status],
                )
            )
        if "encode" in roles:
            scratch = ScratchSpace(settings.data_dir.resolve() / "scratch", worker_id)
            stack.callback(scratch.close)
            stale = scratch.sweep_stale()
            if stale:
                log.info("swept scratch of dead workers", dirs=[str(path) for path in stale])
            own_queue = worker_specific_queue(ENCODE_QUEUE, worker_id)
            clip = ClipActivities(make_storage(settings), jobs, scratch, own_queue)
            workers.append(
                Worker(
                    client,
                    task_queue=ENCODE_QUEUE,
                    activities=[clip.probe, clip.cut],
                    max_concurrent_activities=settings.encode_concurrency,
                    max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                )
            )
            workers.append(
                Worker(
                    client,
                    task_queue=own_queue,
                    activities=[clip.publish, clip.discard],
                    max_concurrent_activities=max(2, settings.encode_concurrency),
                    max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                )
            )
        # Entered last, so they shut down (awaited) before the pool and scratch close.
        for worker in workers:
            await stack.enter_async_context(worker)
        yield workers


async def serve(settings: Settings, roles: Sequence[str]) -> None:
    client = await connect(settings)
    if settings.temporal_address is not None:
        await ensure_search_attributes(client, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_workers(client, settings, roles=roles) as workers:
        log.info("worker started", roles=list(roles), queues=[w.task_queue for w in workers])
        await stop.wait()
        log.info("worker stopping")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="clipper worker")
    parser.add_argument(
        "--queues",
        default=",".join(QUEUE_ROLES),
        help="comma-separated roles to serve: workflows, encode (default: all)",
    )
    args = parser.parse_args(argv)
    roles = [role.strip() for role in args.queues.split(",") if role.strip()]
    unknown = set(roles) - set(QUEUE_ROLES)
    if unknown:
        parser.error(f"unknown queue role(s): {', '.join(sorted(unknown))}")
    try:
        settings = load_settings()
    except ConfigError as err:
        sys.exit(f"clipper worker: bad configuration: {err}")
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, roles))


if __name__ == "__main__":
    main()
