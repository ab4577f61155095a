"""Rows of the database as the API shows them; signed URLs are minted here, per read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from clipper.contracts.api import CutReceiptOut, ErrorInfo, FileLink, Job, Result, VideoLink
from clipper.db.models import JobRow
from clipper.storage.base import Storage


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def present_result(
    row: JobRow, storage: Storage, *, ttl_sec: int, base_url: str | None
) -> Result | None:
    document: dict[str, Any] | None = row.result
    if row.status != "done" or not document:
        return None
    video = document["video"]
    signed = await storage.signed_url(
        video["key"], ttl_sec, download_name=f"clip-{row.id[:8]}.mp4", base_url=base_url
    )
    links: dict[str, FileLink] = {}
    for kind in ("srt", "vtt"):
        if kind in document:
            link = await storage.signed_url(
                document[kind]["key"],
                ttl_sec,
                download_name=f"clip-{row.id[:8]}.{kind}",
                base_url=base_url,
            )
            links[kind] = FileLink(url=link.url, expires_at=iso(link.expires_at))
    return Result(
        video=VideoLink(
            url=signed.url,
            expires_at=iso(signed.expires_at),
            bytes=int(video["bytes"]),
            duration_sec=float(video["durationSec"]),
        ),
        cut=msgspec.convert(document["cut"], CutReceiptOut),
        language=document.get("language"),
        **links,
    )


async def present_job(row: JobRow, storage: Storage, *, ttl_sec: int, base_url: str | None) -> Job:
    error = (
        ErrorInfo(code=row.error_code, message=row.error_message or "") if row.error_code else None
    )
    return Job(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        stage=row.stage,
        progress=row.progress,
        attempts=row.attempts,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        expires_at=iso(row.expires_at),
        request=row.request,
        error=error,
        result=await present_result(row, storage, ttl_sec=ttl_sec, base_url=base_url),
    )
