"""The storage port: where sources and results live, and how users fetch them.

Keys are relative, '/'-separated paths such as `sources/{uploadId}/source.mp4` and
`results/{jobId}/clip.mp4`. Every write is atomic: a reader sees the whole object or
none of it, so a crash mid-write leaves no half-written result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


class Storage(Protocol):
    """What every driver (local, supabase, ...) offers."""

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str,
        max_bytes: int | None = None,
    ) -> int:
        """Write `chunks` to `key` atomically; return the byte count.

        Raises ClipperError(UPLOAD_TOO_LARGE) as soon as more than `max_bytes` arrive,
        leaving nothing behind.
        """
        ...

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        """Copy (or move, when cheap and safe) a local file to `key` atomically; return bytes."""
        ...

    async def get_to_file(self, key: str, path: Path) -> int:
        """Download `key` into the local file `path`; return bytes."""
        ...

    async def media_input(self, key: str) -> str:
        """A string ffmpeg/ffprobe can open to read `key`: a local path or a signed URL."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int | None:
        """Byte size of `key`, or None when it does not exist."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key under `prefix` (a folder-like prefix ending in '/'); return count."""
        ...

    async def signed_url(
        self,
        key: str,
        ttl_sec: int,
        *,
        download_name: str | None = None,
        base_url: str | None = None,
    ) -> SignedUrl:
        """A URL that lets anyone holding it read `key` until it expires."""
        ...

    async def check(self) -> None:
        """Raise if the storage cannot be used (for /readyz)."""
        ...


def source_key(upload_id: str, ext: str) -> str:
    return f"sources/{upload_id}/source.{ext}"


def result_key(job_id: str, name: str = "clip.mp4") -> str:
    return f"results/{job_id}/{name}"
