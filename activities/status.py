"""The job-status write, run as a local activity by the workflows."""

from __future__ import annotations

from temporalio import activity

from clipper.contracts.workflow import StatusUpdate
from clipper.db.jobs import JobRepo


class StatusActivities:
    def __init__(self, jobs: JobRepo) -> None:
        self.jobs = jobs

    @activity.defn(name="jobs.record_status")
    async def record_status(self, update: StatusUpdate) -> bool:
        """Idempotent: a replayed write (same seq) changes nothing and returns False."""
        return await self.jobs.record_status(
            update.job_id,
            seq=update.seq,
            status=update.status,
            stage=update.stage,
            result=update.result,
            error_code=update.error_code,
            error_message=update.error_message,
        )
