"""`GET|HEAD /files/{key}?exp=&sig=[&dl=]`: downloads for URLs signed by the local driver.

Mounting (the local driver only; other drivers hand out their own URLs)::

    storage = make_storage(settings)
    handlers = [...]
    if isinstance(storage, LocalStorage):
        handlers.append(files_router(storage))
    Litestar(route_handlers=handlers, exception_handlers={ClipperError: render_error})

The router carries its own `file_store` dependency, so nothing has to be registered on the
app for it. Failures are raised as ClipperError and rendered by the app's handler:
403 INVALID_SIGNATURE (missing, malformed or wrong `exp`/`sig`/`dl`), 410 URL_EXPIRED,
404 NOT_FOUND. The signature is the only access control: keep this route outside API-key
auth, or links handed to browsers stop working.

416 is the exception: it must carry `Content-Range: bytes */size`, which a ClipperError has
no way to express, so this module renders that envelope itself, in the same shape.

Ranges: one range per request (`bytes=a-b`, `a-`, `-n`) is answered with 206; a request for
several ranges gets the whole file with 200 (allowed by RFC 9110 and far simpler than
multipart/byteranges, which browsers and players do not need). Malformed Range headers are
ignored, as RFC 9110 asks. `If-Range` and `If-None-Match` are honoured against the ETag.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import time
from email.utils import formatdate
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import HttpMethod, Request, Router, route
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter
from litestar.response.base import ASGIResponse
from litestar.types import HTTPResponseBodyEvent, Receive, Scope, Send

from clipper.errors import ClipperError, ErrorCode
from clipper.storage.local import LocalStorage

# Each chunk costs one thread hop for the read; 512 KiB keeps hops rare and memory per
# download bounded.
CHUNK_BYTES = 512 * 1024

CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "m4a": "audio/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "ts": "video/mp2t",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "srt": "application/x-subrip",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
# Anything else is served as opaque bytes: never a type a browser would render as a page from
# our origin (e.g. an upload named .html), which would be stored XSS.
FALLBACK_CONTENT_TYPE = "application/octet-stream"

_EXP = re.compile(r"[0-9]{1,12}")
_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]{0,19})\s*-\s*([0-9]{0,19})\s*", re.IGNORECASE)
# RFC 5987 attr-char beyond what quote() always leaves alone.
_ATTR_SAFE = "!#$&+^`|"


class RangeNotSatisfiable(Exception):
    """The Range header is well-formed but selects no byte of the file."""


def content_type_for(key: str) -> str:
    _, dot, ext = key.rpartition("/")[2].rpartition(".")
    return CONTENT_TYPES.get(ext.lower(), FALLBACK_CONTENT_TYPE) if dot else FALLBACK_CONTENT_TYPE


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a single-range header selects, or None to send it all.

    None for headers we ignore (malformed, other units, several ranges); raises
    RangeNotSatisfiable when the range misses the file entirely.
    """
    if "," in header:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


def content_disposition(download_name: str | None, key: str) -> str:
    if download_name is None:
        return f'inline; filename="{key.rpartition("/")[2]}"'
    # Path separators and control characters have no business in a saved file's name.
    name = "".join(
        "_" if ch in '/\\"' or ord(ch) < 32 or ord(ch) == 127 else ch for ch in download_name
    )
    name = name.strip() or "download"
    fallback = "".join(ch if ch.isascii() else "_" for ch in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    encoded = quote(name, safe=_ATTR_SAFE)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _etag(info: os.stat_result) -> str:
    return f'"{info.st_size:x}-{info.st_mtime_ns:x}"'


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _locate(store: LocalStorage, key: str) -> tuple[str, os.stat_result]:
    # Blocking (realpath, stat): runs in a worker thread.
    path = str(store.path_for(key))
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ClipperError(ErrorCode.NOT_FOUND, "The file does not exist.")
    return path, info


class _FileRangeResponse(ASGIResponse):
    """Streams bytes [start, start+length) of a file the handler has already stat()ed."""

    def __init__(
        self,
        *,
        path: str,
        info: os.stat_result,
        start: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
        is_head_response: bool,
    ) -> None:
        super().__init__(
            status_code=status_code,
            headers=headers,
            is_head_response=is_head_response,
            media_type=headers["content-type"],
        )
        self._path = path
        self._identity = _identity(info)
        self._start = start
        self._length = length

    def _open(self) -> int:
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            raise ClipperError(ErrorCode.NOT_FOUND, "The file no longer exists.") from None
        # Headers were computed from an earlier stat; if the object was replaced since, they
        # would lie about the body. Checked before any byte is sent so the error still renders.
        if _identity(os.fstat(fd)) != self._identity:
            os.close(fd)
            raise ClipperError(ErrorCode.STORAGE_ERROR, "The file changed; please retry.")
        return fd

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.is_head_response or self._length == 0:
            await super().__call__(scope, receive, send)
            return
        fd = await asyncio.to_thread(self._open)
        try:
            await self.start_response(send)
            offset, end = self._start, self._start + self._length
            while offset < end:
                chunk = await asyncio.to_thread(
                    os.pread, fd, min(CHUNK_BYTES, end - offset), offset
                )
                if not chunk:
                    # Truncated under us after the identity check: aborting the connection is
                    # the only honest answer once Content-Length has been sent.
                    raise OSError("file shrank while being served")
                offset += len(chunk)
                event: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": chunk,
                    "more_body": offset < end,
                }
                await send(event)
        finally:
            os.close(fd)
        await self.after_response()


def _unsatisfiable(size: int, headers: dict[str, str]) -> ASGIResponse:
    body = msgspec.json.encode(
        {
            "error": {
                "code": ErrorCode.RANGE_NOT_SATISFIABLE.value,
                "message": "The requested range is outside the file.",
            }
        }
    )
    return ASGIResponse(
        status_code=416,
        body=body,
        media_type="application/json",
        headers={
            "content-range": f"bytes */{size}",
            "accept-ranges": "bytes",
            "cache-control": headers["cache-control"],
        },
    )


@route(
    "/{key:path}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    summary="Download a stored file through a signed URL",
    description="Signed URLs of the local storage driver. Supports single byte ranges.",
    tags=["files"],
)
async def serve_file(
    request: Request[Any, Any, Any],
    key: Annotated[str, PathParameter(description="Storage key, e.g. results/{jobId}/clip.mp4")],
    file_store: NamedDependency[LocalStorage],
    # Strings, not ints: a malformed value is a bad signature (403), not a validation error.
    exp: Annotated[str | None, QueryParameter(description="Expiry, unix seconds")] = None,
    sig: Annotated[str | None, QueryParameter(description="HMAC-SHA256 signature")] = None,
    dl: Annotated[str | None, QueryParameter(description="File name to save as")] = None,
) -> ASGIResponse:
    key = key.lstrip("/")
    if exp is None or sig is None or not _EXP.fullmatch(exp):
        raise ClipperError(ErrorCode.INVALID_SIGNATURE, "The link is missing a valid signature.")
    expires_at = int(exp)
    now = time.time()
    file_store.signer.verify(key, expires_at, sig, dl, now)

    path, info = await asyncio.to_thread(_locate, file_store, key)

    size = info.st_size
    etag = _etag(info)
    last_modified = formatdate(info.st_mtime, usegmt=True)
    headers = {
        "content-type": content_type_for(key),
        "accept-ranges": "bytes",
        "content-disposition": content_disposition(dl, key),
        "cache-control": f"private, max-age={max(0, expires_at - int(now))}",
        "etag": etag,
        "last-modified": last_modified,
        # Uploaded bytes are user content: stop browsers from sniffing them into HTML.
        "x-content-type-options": "nosniff",
    }
    is_head = request.method == HttpMethod.HEAD

    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        not_modified = {k: headers[k] for k in ("cache-control", "etag", "last-modified")}
        return ASGIResponse(status_code=304, headers=not_modified)

    selected: tuple[int, int] | None = None
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header is not None and (if_range is None or if_range.strip() in (etag, last_modified)):
        try:
            selected = parse_range(range_header, size)
        except RangeNotSatisfiable:
            return _unsatisfiable(size, headers)

    if selected is None:
        start, length, status = 0, size, 200
    else:
        first, last = selected
        start, length, status = first, last - first + 1, 206
        headers["content-range"] = f"bytes {first}-{last}/{size}"
    headers["content-length"] = str(length)
    return _FileRangeResponse(
        path=path,
        info=info,
        start=start,
        length=length,
        status_code=status,
        headers=headers,
        is_head_response=is_head,
    )


def files_router(storage: LocalStorage, *, path: str = "/files") -> Router:
    """The router serving `storage`'s signed URLs at `{path}/{key}`.

    `path` must match what `LocalStorage.signed_url` writes, i.e. stay "/files" unless the
    app itself is mounted under a prefix that `public_url` already includes.
    """

    def provide_store() -> LocalStorage:
        return storage

    return Router(
        path=path,
        route_handlers=[serve_file],
        dependencies={"file_store": Provide(provide_store, sync_to_thread=False)},
    )
