"""ffprobe, run through the runner: what a source is, and where its keyframes are."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from clipper.errors import ClipperError, ErrorCode
from clipper.media.commands import keyframes_args, media_arg, probe_args
from clipper.media.info import KeyframeSpan, MediaInfo, parse_ffprobe
from clipper.media.runner import ProcessError, run_process

PROBE_TIMEOUT_SEC = 120.0
KEYFRAME_WINDOW_SEC = 30.0
_EPSILON = 1e-6  # ffprobe prints times with six decimals

# What ffmpeg/ffprobe print when the bytes of a recognised file are damaged or missing.
_CORRUPTION = re.compile(
    r"invalid data found|moov atom not found|partial file|error reading header|truncat"
    r"|corrupt|invalid nal unit size|ebml header parsing failed",
    re.IGNORECASE,
)


def stderr_says_corrupt(lines: Iterable[str]) -> bool:
    return any(_CORRUPTION.search(line) for line in lines)


def _missing_local_file(input: str) -> bool:
    local = media_arg(input) != input or input.startswith("file:")
    return local and not os.path.exists(input.removeprefix("file:"))


def scrub(text: str, *paths: str | os.PathLike[str]) -> str:
    """`text` without these paths (or their file names), fit for a user-facing message."""
    for raw in paths:
        path = os.fspath(raw).removeprefix("file:")
        name = os.path.basename(path)
        # A short name ("a", "in") would clobber ordinary words of the message.
        for needle in (media_arg(path), path, name if len(name) >= 5 else ""):
            if needle:
                text = text.replace(needle, "<file>")
    return text.strip()


def _reason(tail: Sequence[str], input: str) -> str:
    return scrub(tail[-1], input)[:300] if tail else "no diagnostic"


async def probe(
    input: str,
    *,
    keyframes_near: float | None = None,
    timeout_sec: float | None = PROBE_TIMEOUT_SEC,
) -> MediaInfo:
    """MediaInfo of `input`; ClipperError(UNSUPPORTED_MEDIA) when it is not clippable media.

    With `keyframes_near` (seconds), the result also lists the keyframes of a window before
    that point (`MediaInfo.keyframe_spans`), read by the same ffprobe run.
    """
    if _missing_local_file(input):
        raise ClipperError(ErrorCode.SOURCE_UNAVAILABLE, "the source file is missing")
    try:
        result = await run_process(
            probe_args(input, keyframes_near=keyframes_near), timeout_sec=timeout_sec
        )
    except ProcessError as exc:
        raise ClipperError(
            ErrorCode.UNSUPPORTED_MEDIA,
            "not a readable video or audio file",
            details={"reason": _reason(exc.stderr_tail, input)},
        ) from None
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        raise ClipperError(
            ErrorCode.UNSUPPORTED_MEDIA, "not a readable video or audio file"
        ) from None
    if not isinstance(doc, dict):
        raise ClipperError(ErrorCode.UNSUPPORTED_MEDIA, "not a readable video or audio file")
    info = parse_ffprobe(doc)
    span = keyframe_span(doc, info)
    return replace(info, keyframe_spans=(span,)) if span is not None else info


def keyframe_span(doc: dict[str, Any], info: MediaInfo) -> KeyframeSpan | None:
    """The keyframes among the video packets ffprobe listed, and the span they cover."""
    if info.video is None:
        return None
    index = info.video.index
    times: list[float] = []
    keyframes: set[float] = set()
    for packet in doc.get("packets") or ():
        if packet.get("stream_index") != index:
            continue
        time = _packet_time(packet)
        if time is None:
            continue
        times.append(time)
        if "K" in str(packet.get("flags", "")):
            keyframes.add(time)
    if not keyframes:
        return None
    return KeyframeSpan(first=min(times), last=max(times), keyframes=tuple(sorted(keyframes)))


def _packet_time(packet: dict[str, Any]) -> float | None:
    for key in ("pts_time", "dts_time"):
        try:
            return float(packet[key])
        except (KeyError, TypeError, ValueError):
            continue  # "N/A": no pts in this container, try the dts
    return None


def parse_keyframes(doc: dict[str, Any]) -> list[float]:
    """Sorted keyframe timestamps from `ffprobe -show_entries packet=pts_time,dts_time,flags`."""
    times = {
        time
        for packet in doc.get("packets") or ()
        if "K" in str(packet.get("flags", "")) and (time := _packet_time(packet)) is not None
    }
    return sorted(times)


async def _keyframes(
    input: str,
    around: float,
    window: float,
    after: float,
    stream_index: int | None,
    timeout_sec: float | None,
) -> list[float]:
    argv = keyframes_args(input, around, window, after_sec=after, stream_index=stream_index)
    try:
        result = await run_process(argv, timeout_sec=timeout_sec)
    except ProcessError as exc:
        code = (
            ErrorCode.SOURCE_CORRUPT
            if stderr_says_corrupt(exc.stderr_tail)
            else ErrorCode.CUT_FAILED
        )
        raise ClipperError(
            code,
            "could not read the keyframes of the source",
            details={"reason": _reason(exc.stderr_tail, input)},
        ) from None
    try:
        doc = json.loads(result.stdout or "{}")
    except ValueError:
        doc = {}
    return parse_keyframes(doc) if isinstance(doc, dict) else []


async def keyframe_at_or_before(
    input: str,
    t: float,
    *,
    info: MediaInfo | None = None,
    timeout_sec: float | None = PROBE_TIMEOUT_SEC,
) -> float:
    """Timestamp of the last keyframe at or before `t`, or of the first one if none is.

    `t` and the result are raw timestamps of the source (ffprobe's `pts_time`, which include
    the source's start time). Only windows around `t` are read, widening backwards when a
    window holds no keyframe (long GOPs, screen recordings with one keyframe).
    With `info`, the search uses its video stream and stops at its start.
    """
    if info is not None and (known := info.known_keyframe_at_or_before(t)) is not None:
        return known
    stream_index = info.video.index if info is not None and info.video is not None else None
    floor = info.start_time if info is not None else 0.0
    ceiling = info.end_time if info is not None else None
    window = KEYFRAME_WINDOW_SEC
    later: list[float] = []
    kfs = await _keyframes(input, t, window, 1.0, stream_index, timeout_sec)
    while True:
        before = [k for k in kfs if k <= t + _EPSILON]
        if before:
            return before[-1]
        later.extend(k for k in kfs if k > t)
        lo = t - window
        if lo <= floor:
            break
        # Read only what the previous windows did not: [t - 4w, t - w].
        kfs = await _keyframes(input, lo, 3 * window, 0.0, stream_index, timeout_sec)
        window *= 4
    if later:
        return min(later)
    # No keyframe at or before t, none within a second after it: look further ahead.
    lo, span = t, KEYFRAME_WINDOW_SEC
    while ceiling is None or lo < ceiling:
        kfs = await _keyframes(input, lo, 0.0, span, stream_index, timeout_sec)
        if kfs:
            return min(kfs)
        if ceiling is None and span > KEYFRAME_WINDOW_SEC * 16:
            break
        lo, span = lo + span, span * 4
    raise ClipperError(ErrorCode.SOURCE_CORRUPT, "no keyframe found in the video stream")
