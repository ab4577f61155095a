"""Every timeout and retry policy of the workflows, named, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from clipper.errors import PERMANENT

_PERMANENT_TYPES = sorted(code.value for code in PERMANENT)

# Status writes are local activities: a few ms against Postgres, retried quickly.
STATUS_WRITE_TIMEOUT = timedelta(seconds=10)
STATUS_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=10,
)

# Probing reads headers; a minute is plenty even for a remote source.
PROBE_TIMEOUT = timedelta(minutes=2)

# A cut of a MAX_CLIP_SECONDS clip; the heartbeat timeout is what notices a dead worker.
CUT_TIMEOUT = timedelta(hours=2)
CUT_HEARTBEAT = timedelta(seconds=10)

# Moving the clip from scratch to storage.
PUBLISH_TIMEOUT = timedelta(minutes=30)
PUBLISH_HEARTBEAT = timedelta(seconds=10)
# A worker-specific queue nobody polls means the worker died: give up waiting soon and
# start over on the shared queue instead of waiting forever.
STICKY_SCHEDULE_TO_START = timedelta(seconds=15)
STICKY_ATTEMPTS = 3

MEDIA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=_PERMANENT_TYPES,
)

# Best-effort removal of a scratch dir when a job stops between cut and publish.
DISCARD_TIMEOUT = timedelta(seconds=30)
DISCARD_RETRY = RetryPolicy(maximum_attempts=2)
