"""Checks a requested clip range against its source and our limits. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from clipper.domain.timecode import format_timecode, parse_timecode
from clipper.errors import ClipperError, ErrorCode


@dataclass(frozen=True)
class ClipRange:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


# ffprobe's container duration and the last frame's end can differ by a frame or two;
# a user asking for "the end" of a 10 s file as 10.000 must not be refused.
END_TOLERANCE_SEC = 0.05


def parse_clip_range(
    start: str | float | int,
    end: str | float | int,
    *,
    source_duration: float | None,
    max_clip_seconds: float,
) -> ClipRange:
    first = parse_timecode(start, "start")
    last = parse_timecode(end, "end")
    if first >= last:
        raise ClipperError(
            ErrorCode.INVALID_RANGE,
            f"start ({format_timecode(first)}) must be before end ({format_timecode(last)})",
            {"field": "end"},
        )
    if last - first > max_clip_seconds + 1e-6:
        raise ClipperError(
            ErrorCode.CLIP_TOO_LONG,
            f"the clip is {last - first:.3f} s long; the limit is {max_clip_seconds:g} s",
            {"field": "end", "maxClipSeconds": max_clip_seconds},
        )
    if source_duration is not None and last > source_duration + END_TOLERANCE_SEC:
        raise ClipperError(
            ErrorCode.RANGE_OUTSIDE_SOURCE,
            f"end ({format_timecode(last)}) is past the end of the source "
            f"({format_timecode(source_duration)})",
            {"field": "end", "sourceDurationSec": source_duration},
        )
    if source_duration is not None:
        last = min(last, source_duration)
    return ClipRange(first, last)
