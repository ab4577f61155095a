"""What every activity shares: error translation and the heartbeat loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from clipper.errors import ClipperError


@contextmanager
def as_application_errors() -> Iterator[None]:
    """Turn ClipperError into the ApplicationError Temporal records, keeping the code.

    The code becomes the failure `type`, which the retry policy and the workflow read;
    permanent codes are marked non-retryable so no attempt is wasted on them.
    """
    try:
        yield
    except ClipperError as err:
        raise ApplicationError(
            err.message,
            type=err.code.value,
            non_retryable=err.permanent,
        ) from err


class Heartbeat:
    """Beats on a timer with the latest progress, so cancellation reaches the activity
    even while ffmpeg prints nothing, and a dead worker is noticed by its silence."""

    def __init__(self) -> None:
        self.details: Any = None

    def update(self, details: Any) -> None:
        self.details = details

    def beat(self) -> None:
        if self.details is None:
            activity.heartbeat()
        else:
            activity.heartbeat(self.details)


@asynccontextmanager
async def heartbeating(interval_sec: float | None = None) -> AsyncIterator[Heartbeat]:
    info = activity.info()
    timeout = info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else 30.0
    interval = interval_sec or max(0.5, timeout / 4)
    heartbeat = Heartbeat()

    async def loop() -> None:
        while True:
            heartbeat.beat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop())
    try:
        yield heartbeat
    finally:
        task.cancel()
