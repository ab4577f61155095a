"""Taking in a source file: stream it to storage, make sure it is media, record it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from clipper.config import Settings
from clipper.db.models import UploadRow
from clipper.db.uploads import UploadRepo
from clipper.errors import ClipperError, ErrorCode
from clipper.media.info import MediaInfo
from clipper.media.probe import probe
from clipper.storage.base import Storage, source_key

_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def extension_of(filename: str | None) -> str:
    """A safe extension for the stored key; ffprobe does not need it, people do."""
    match = _EXTENSION.search(filename or "")
    return match.group(1).lower() if match else "bin"


def media_summary(media: MediaInfo) -> dict[str, Any]:
    """The probe result as the API shows it (camelCase, like the wire)."""
    video = media.video
    return {
        "durationSec": media.duration_sec,
        "width": video.width if video else None,
        "height": video.height if video else None,
        "videoCodec": video.codec if video else None,
        "audioCodec": media.audio[0].codec if media.audio else None,
    }


class UploadService:
    def __init__(self, settings: Settings, storage: Storage, uploads: UploadRepo) -> None:
        self.settings = settings
        self.storage = storage
        self.uploads = uploads

    def check_declared_size(self, content_length: int | None) -> None:
        """Refuse at once what the client already says is too large."""
        if content_length is not None and content_length > self.settings.max_upload_bytes:
            raise self._too_large()

    async def store(
        self,
        chunks: AsyncIterator[bytes],
        *,
        filename: str | None,
        content_type: str | None,
    ) -> UploadRow:
        upload_id = str(uuid.uuid4())
        key = source_key(upload_id, extension_of(filename))
        size = await self.storage.put_stream(
            key,
            chunks,
            content_type or "application/octet-stream",
            max_bytes=self.settings.max_upload_bytes,
        )
        try:
            if size == 0:
                raise ClipperError(ErrorCode.UNSUPPORTED_MEDIA, "the uploaded file is empty")
            media = await probe(await self.storage.media_input(key))
            if media.video is None:
                # A clip is a video; an audio-only file is refused now, not after a job.
                raise ClipperError(
                    ErrorCode.UNSUPPORTED_MEDIA,
                    "the file has no video stream; clipper cuts video files",
                )
            if media.duration_sec > self.settings.max_source_seconds:
                raise ClipperError(
                    ErrorCode.UPLOAD_TOO_LARGE,
                    f"the source is {media.duration_sec:.0f} s long; the limit is "
                    f"{self.settings.max_source_seconds:g} s",
                )
            now = datetime.now(UTC)
            return await self.uploads.create(
                upload_id=upload_id,
                key=key,
                bytes=size,
                filename=filename,
                content_type=content_type,
                media=media_summary(media),
                duration_sec=media.duration_sec,
                expires_at=now + timedelta(hours=self.settings.retention_hours),
            )
        except BaseException:
            await self.storage.delete(key)
            raise

    def _too_large(self) -> ClipperError:
        return ClipperError(
            ErrorCode.UPLOAD_TOO_LARGE,
            f"uploads are limited to {self.settings.max_upload_mb} MB",
            {"maxUploadMb": self.settings.max_upload_mb},
        )
