"""Timecodes as users type them, turned into seconds. Pure; no I/O."""

from __future__ import annotations

import math
import re

from clipper.errors import ClipperError, ErrorCode

# HH:MM:SS(.mmm) or MM:SS(.mmm); fractional part of any length, ',' accepted as in SRT.
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{1,2})(?:[.,](?P<f>\d+))?$")
_SECONDS = re.compile(r"^\d+(?:\.\d*)?$|^\.\d+$")


def parse_timecode(value: str | int | float, field: str = "time") -> float:
    """Seconds for `value`: a number, a numeric string, `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`.

    Raises ClipperError(INVALID_TIMECODE) naming `field` for anything else, including
    negative, non-finite and out-of-range clock fields (a minute of 61 is a typo, not 1:01).
    """
    if isinstance(value, bool):
        raise _invalid(field, value)
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise _invalid(field, value)
        return seconds
    text = value.strip()
    if _SECONDS.match(text):
        return float(text)
    match = _CLOCK.match(text)
    if match is None:
        raise _invalid(field, value)
    hours = int(match["h"] or 0)
    minutes = int(match["m"])
    secs = int(match["s"])
    if secs >= 60 or (match["h"] is not None and minutes >= 60):
        raise _invalid(field, value)
    fraction = float(f"0.{match['f']}") if match["f"] else 0.0
    return hours * 3600 + minutes * 60 + secs + fraction


def format_timecode(seconds: float) -> str:
    """`HH:MM:SS.mmm`, the canonical form we echo back."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _invalid(field: str, value: object) -> ClipperError:
    return ClipperError(
        ErrorCode.INVALID_TIMECODE,
        f"{field}: {value!r} is not a time; use seconds (62.5), MM:SS(.mmm) or HH:MM:SS(.mmm)",
        {"field": field},
    )
