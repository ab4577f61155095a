"""POST /api/uploads: a source file, streamed to storage as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED

from api.deps import AppDeps, Deps
from api.multipart import FilePart, read_multipart
from clipper.contracts.api import MediaSummary, UploadResponse
from clipper.db.models import UploadRow
from clipper.errors import ClipperError, ErrorCode


async def receive_upload(
    request: Request[Any, Any, State], deps: AppDeps
) -> tuple[dict[str, str], UploadRow]:
    """Store the request's file (multipart field `file`, or a raw body) and its form fields.

    Shared by POST /api/uploads and POST /api/jobs/upload.
    """
    length = request.headers.get("content-length")
    deps.uploads.check_declared_size(int(length) if length and length.isdigit() else None)
    content_type, options = request.content_type
    body: AsyncIterator[bytes] = request.stream()
    if content_type == "multipart/form-data":
        boundary = options.get("boundary")
        if not boundary:
            raise ClipperError(ErrorCode.VALIDATION_ERROR, "multipart body without a boundary")

        async def store(part: FilePart, chunks: AsyncIterator[bytes]) -> UploadRow:
            return await deps.uploads.store(
                chunks, filename=part.filename, content_type=part.content_type
            )

        return await read_multipart(body, boundary, file_field="file", on_file=store)
    # A raw body (curl --data-binary @clip.mp4 -H 'Content-Type: video/mp4') is accepted too.
    filename = request.query_params.get("filename")
    row = await deps.uploads.store(body, filename=filename, content_type=content_type)
    return dict(request.query_params), row


def upload_response(row: UploadRow) -> UploadResponse:
    media = row.media
    return UploadResponse(
        upload_key=row.key,
        bytes=row.bytes,
        media=MediaSummary(
            duration_sec=float(media["durationSec"]),
            width=media.get("width"),
            height=media.get("height"),
            video_codec=media.get("videoCodec"),
            audio_codec=media.get("audioCodec"),
        ),
    )


@post(
    "/api/uploads",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # enforced while streaming, against MAX_UPLOAD_MB
    summary="Upload a source video",
    description="multipart/form-data with the field `file` (or a raw body); "
    "413 over MAX_UPLOAD_MB, 415 when ffprobe finds no media.",
)
async def create_upload(request: Request[Any, Any, State], deps: Deps) -> UploadResponse:
    _, row = await receive_upload(request, deps)
    return upload_response(row)
