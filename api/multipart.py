"""A streaming reader of multipart/form-data bodies.

Litestar's own form parsing spools file parts to a temporary file before the handler
runs; for uploads of gigabytes that doubles the disk writes. This reader hands the
file part to the caller as it arrives, so it can go straight to storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from multipart import MultipartSegment, ParserError, PushMultipartParser  # type: ignore[import-untyped]

from clipper.errors import ClipperError, ErrorCode

T = TypeVar("T")


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str | None
    content_type: str | None


FileConsumer = Callable[[FilePart, AsyncIterator[bytes]], Awaitable[T]]


def _bad(message: str) -> ClipperError:
    return ClipperError(ErrorCode.VALIDATION_ERROR, message)


async def read_multipart(
    body: AsyncIterator[bytes],
    boundary: str,
    *,
    file_field: str,
    on_file: FileConsumer[T],
    max_field_bytes: int = 64 * 1024,
) -> tuple[dict[str, str], T]:
    """Text fields of the form, and what `on_file` returned for the file part.

    `on_file` must consume the chunks it is given; fields may come before or after the file.
    """
    fields: dict[str, str] = {}
    consumed: list[T] = []
    parser = PushMultipartParser(boundary.encode(), max_segment_count=100)
    events = _events(parser, body)
    try:
        async for event in events:
            if not isinstance(event, MultipartSegment):
                continue
            if event.filename is not None or event.name == file_field:
                if event.name != file_field or consumed:
                    raise _bad(f"only one file, in the field {file_field!r}, is accepted")
                part = FilePart(event.name, event.filename, event.content_type)
                consumed.append(await on_file(part, _segment_data(events)))
            else:
                fields[event.name] = await _read_field(events, max_field_bytes)
    except ParserError as err:
        raise _bad(f"malformed multipart body: {err}") from None
    if not consumed:
        raise _bad(f"the form has no {file_field!r} file field")
    return fields, consumed[0]


async def _events(
    parser: PushMultipartParser, body: AsyncIterator[bytes]
) -> AsyncIterator[MultipartSegment | bytearray | None]:
    async for chunk in body:
        if not chunk:
            continue
        for event in parser.parse(chunk):
            yield event
    for event in parser.parse(b""):
        yield event
    if not parser.closed:
        raise _bad("the multipart body ended early")


async def _segment_data(
    events: AsyncIterator[MultipartSegment | bytearray | None],
) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:  # end of this part
            return
        if isinstance(event, bytearray | bytes):
            yield bytes(event)


async def _read_field(
    events: AsyncIterator[MultipartSegment | bytearray | None], limit: int
) -> str:
    data = bytearray()
    async for chunk in _segment_data(events):
        data.extend(chunk)
        if len(data) > limit:
            raise _bad("a form field is too long")
    return data.decode("utf-8", errors="replace")
