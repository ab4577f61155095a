"""Jobs: create (JSON or with an upload), read, result, events (JSON or SSE), cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_202_ACCEPTED

from api.deps import AppDeps, Deps
from api.presenters import iso, present_job, present_result
from api.uploads import receive_upload
from clipper.contracts.api import CreateJobRequest, JobEnvelope, JobEventOut, Result
from clipper.db.models import JobRow
from clipper.errors import ClipperError, ErrorCode
from clipper.services.jobs import TERMINAL

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Repeat a create safely: the same key returns the same job.",
    ),
]
SSE_POLL_SEC = 0.25


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    async def _envelope(
        self, row: JobRow, request: Request[Any, Any, State], deps: AppDeps
    ) -> JobEnvelope:
        job = await present_job(
            row,
            deps.storage,
            ttl_sec=deps.settings.signed_url_ttl_sec,
            base_url=deps.base_url(request),
        )
        return JobEnvelope(job=job)

    @post("/", status_code=HTTP_202_ACCEPTED, summary="Create a clip job")
    async def create(
        self,
        data: JSONBody[CreateJobRequest],
        request: Request[Any, Any, State],
        deps: Deps,
        idempotency_key: IdempotencyKey = None,
    ) -> JobEnvelope:
        row, _ = await deps.jobs.create(data, idempotency_key)
        return await self._envelope(row, request, deps)

    @post(
        "/upload",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=None,
        summary="Upload a source and create a clip job in one request",
        description="multipart/form-data: `file` plus the fields of POST /api/jobs as form fields.",
    )
    async def create_with_upload(
        self,
        request: Request[Any, Any, State],
        deps: Deps,
        idempotency_key: IdempotencyKey = None,
    ) -> JobEnvelope:
        fields, upload = await receive_upload(request, deps)
        fields = {key: value for key, value in fields.items() if key != "filename"}
        fields["uploadKey"] = upload.key
        fields.setdefault("sourceType", "upload")
        # The file is stored by now: when the job fields are wrong, say where it is, so the
        # client can fix them with POST /api/jobs instead of uploading again.
        try:
            data = msgspec.convert(fields, CreateJobRequest, strict=False)
            row, _ = await deps.jobs.create(data, idempotency_key)
        except msgspec.ValidationError as err:
            raise ClipperError(
                ErrorCode.VALIDATION_ERROR, str(err), {"uploadKey": upload.key}
            ) from None
        except ClipperError as err:
            details = err.details if isinstance(err.details, dict) else {}
            raise ClipperError(
                err.code, err.message, {**details, "uploadKey": upload.key}
            ) from None
        return await self._envelope(row, request, deps)

    @get("/{job_id:str}", summary="A job's status, progress and result")
    async def read(
        self, job_id: FromPath[str], request: Request[Any, Any, State], deps: Deps
    ) -> JobEnvelope:
        return await self._envelope(await deps.jobs.get(job_id), request, deps)

    @get("/{job_id:str}/result", summary="The result of a finished job, with fresh signed URLs")
    async def result(
        self, job_id: FromPath[str], request: Request[Any, Any, State], deps: Deps
    ) -> Result:
        row = await deps.jobs.get(job_id)
        if row.expires_at <= datetime.now(UTC):
            raise ClipperError(ErrorCode.GONE, "the job's result has expired")
        result = await present_result(
            row,
            deps.storage,
            ttl_sec=deps.settings.signed_url_ttl_sec,
            base_url=deps.base_url(request),
        )
        if result is None:
            raise ClipperError(
                ErrorCode.NOT_READY,
                f"the job is {row.status}; a result exists once it is done",
                {"status": row.status},
            )
        return result

    @get(
        "/{job_id:str}/events",
        summary="A job's events: JSON, or live Server-Sent Events with Accept: text/event-stream",
    )
    async def events(
        self, job_id: FromPath[str], request: Request[Any, Any, State], deps: Deps
    ) -> Response[Any]:
        row = await deps.jobs.get(job_id)
        if "text/event-stream" in request.headers.get("accept", ""):
            return ServerSentEvent(_event_stream(deps, row))
        events = await deps.jobs.events(job_id)
        return Response([_event_out(event) for event in events])

    @delete("/{job_id:str}", status_code=HTTP_202_ACCEPTED, summary="Cancel a job")
    async def cancel(
        self, job_id: FromPath[str], request: Request[Any, Any, State], deps: Deps
    ) -> JobEnvelope:
        return await self._envelope(await deps.jobs.cancel(job_id), request, deps)


def _event_out(event: Any) -> JobEventOut:
    return JobEventOut(id=event.id, ts=iso(event.ts), type=event.type, data=event.data or {})


def _sse(event: Any) -> ServerSentEventMessage:
    data = msgspec.json.encode(_event_out(event)).decode()
    return ServerSentEventMessage(data=data, event=event.type, id=str(event.id))


async def _event_stream(deps: AppDeps, row: JobRow) -> AsyncIterator[ServerSentEventMessage]:
    """Recorded events as they are written, plus `progress` events, until the job ends."""
    after = 0
    progress = (row.status, row.stage, row.progress)
    while True:
        for event in await deps.jobs.events(row.id, after_id=after):
            after = event.id
            yield _sse(event)
        current = await deps.jobs.find(row.id)
        if current is None:
            return
        state = (current.status, current.stage, current.progress)
        if state != progress:
            progress = state
            yield ServerSentEventMessage(
                data=msgspec.json.encode(
                    {"status": current.status, "stage": current.stage, "progress": current.progress}
                ).decode(),
                event="progress",
            )
        if current.status in TERMINAL:
            # One more read catches an event written together with the final status.
            for event in await deps.jobs.events(row.id, after_id=after):
                after = event.id
                yield _sse(event)
            return
        await asyncio.sleep(SSE_POLL_SEC)
