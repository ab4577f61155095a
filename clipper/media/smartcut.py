"""Smart cut: re-encode only the partial GOPs at a clip's ends, copy the whole GOPs between.

1. List the video packets (read, not decoded) of a window at each end of the clip.
2. Plan (`clipper.domain.cut_plan`): head, copied middle, tail; or say why not.
3. Encode head and tail with settings matched to the source (`encoder_match`) while one
   ffmpeg run copies the middle; the three run at once.
4. Join the pieces without re-encoding them, with the clip's audio, into the output MP4.

The caller verifies the output and moves it into place (`clipper.media.cut`), and re-encodes
the whole clip when this returns `NoSmartCut` or raises.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from clipper.domain.cut_plan import CutPlan, NoSmartCut, Packet, plan_cut
from clipper.errors import ClipperError, ErrorCode
from clipper.media.commands import (
    keyframes_args,
    smart_concat_list,
    smart_copy_args,
    smart_encode_args,
    smart_join_args,
)
from clipper.media.encoder_match import (
    EncoderMatch,
    Family,
    NoMatch,
    family_of,
    match_encoder,
    smart_cut_blocker,
)
from clipper.media.info import MediaInfo, VideoStream
from clipper.media.probe import scrub
from clipper.media.runner import ProcessError, ProcessResult, Progress, run_process

# Packets listed after the start and before the end: the keyframes a cut needs lie within a
# GOP of either point, and reading packets of 10 s costs little next to any encode.
WINDOW_SEC = 10.0
# Listed past the end: B-frames shown before the end can be stored after it.
END_MARGIN_SEC = 1.0
# A second of copying costs about this share of a second of encoding (progress weights).
_COPY_WEIGHT = 0.05
# What ffmpeg prints when the video's (the first stream's) decode times do not rise; it then
# patches them up, and the join would pass as fine.
_BAD_JOIN = re.compile(
    r"non-monotonous dts in output stream 0:0"
    r"|non monotonically increasing dts to muxer in stream 0:",
    re.IGNORECASE,
)
# MPEG-TS timestamps wrap after 2^33 / 90 kHz (26.5 h); pieces must stay well short of that.
_MAX_TS_SEC = 86_400.0

PercentCallback = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class SmartCut:
    plan: CutPlan
    # Seconds from the source's start (as `cut_clip` counts) of the output's first frame.
    begin: float
    stderr_tail: tuple[str, ...]


@dataclass(frozen=True)
class _Pieces:
    head: EncoderMatch | None
    tail: EncoderMatch | None
    family: Family


async def smart_cut(
    input: str,
    output: Path,
    start: float,
    end: float,
    info: MediaInfo,
    *,
    on_progress: PercentCallback,
    timeout_sec: float | None,
) -> SmartCut | NoSmartCut:
    """Cut [start, end) (seconds from the source's start) of `input` into `output` smartly.

    Returns NoSmartCut with the reason when the source or the clip does not allow it. Raises
    ClipperError (CUT_FAILED, TIMEOUT) when a step fails.
    """
    video = info.video
    if video is None:
        return NoSmartCut("the source has no video stream")
    blocker = smart_cut_blocker(video, info.format_name)
    if blocker is not None:
        return NoSmartCut(blocker)
    if end + info.start_time > _MAX_TS_SEC:
        return NoSmartCut("the source's timestamps run past 24 h")
    plan = await _plan(input, start + info.start_time, end + info.start_time, video, timeout_sec)
    if isinstance(plan, NoSmartCut):
        return plan
    pieces = _match(plan, video, info.format_name)
    if isinstance(pieces, NoSmartCut):
        return pieces
    work = output.with_name(f".{output.name}.smartcut")
    work.mkdir(parents=True, exist_ok=True)
    try:
        progress = _Progress(plan, on_progress)
        parts = await _make_pieces(input, work, plan, pieces, info, progress, timeout_sec)
        listing = work / "pieces.txt"
        listing.write_text(smart_concat_list(pieces.family, parts))
        argv = smart_join_args(
            input, listing, output, plan.first_frame, plan.end, info, pieces.family
        )
        result = await _run(argv, input, timeout_sec, progress.relay("join", 0.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if any(_BAD_JOIN.search(line) for line in result.stderr_tail):
        raise ClipperError(ErrorCode.CUT_FAILED, "the pieces' decode times do not join")
    return SmartCut(plan, plan.first_frame - info.start_time, result.stderr_tail)


async def _plan(
    input: str, start: float, end: float, video: VideoStream, timeout_sec: float | None
) -> CutPlan | NoSmartCut:
    """List the packets near both ends (raw times) and plan from them."""
    frame = 1.0 / video.fps if video.fps > 0 else 1.0 / 25
    if end - start <= 2 * WINDOW_SEC:
        windows = [(start, end + END_MARGIN_SEC)]
    else:
        windows = [(start, start + WINDOW_SEC), (end - WINDOW_SEC, end + END_MARGIN_SEC)]
    runs = await _all([list_packets(input, a, b, video.index, timeout_sec) for a, b in windows])
    return plan_cut(
        start,
        end,
        runs[0],
        runs[1] if len(runs) > 1 else None,
        frame_duration=frame,
        # Where the container stores no decode times, ffmpeg derives them from this delay.
        default_dts_delay=video.has_b_frames * frame,
    )


async def list_packets(
    input: str, begin: float, until: float, index: int, timeout_sec: float | None
) -> list[Packet]:
    argv = keyframes_args(input, begin, 0.0, after_sec=until - begin, stream_index=index)
    try:
        result = await run_process(argv, timeout_sec=timeout_sec)
        doc = json.loads(result.stdout or "{}")
    except (ProcessError, ValueError) as exc:
        raise ClipperError(ErrorCode.CUT_FAILED, "could not list the source's packets") from exc
    return parse_packets(doc if isinstance(doc, dict) else {})


def parse_packets(doc: dict[str, Any]) -> list[Packet]:
    """Packets of `ffprobe -show_entries packet=pts_time,dts_time,flags`, in decode order.

    Packets flagged discard (D) are never shown (an MP4 edit list skips them), and a packet
    without a pts cannot be placed: both are left out.
    """
    packets = []
    for entry in doc.get("packets") or ():
        flags = str(entry.get("flags", ""))
        pts = _time(entry.get("pts_time"))
        if pts is None or "D" in flags:
            continue
        packets.append(Packet(pts, _time(entry.get("dts_time")), "K" in flags))
    return packets


def _time(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # "N/A"


def _match(plan: CutPlan, video: VideoStream, format_name: str) -> _Pieces | NoSmartCut:
    """Encoder settings for the head and the tail, or why the source cannot be continued."""
    family = family_of(video.codec)
    if family is None:
        return NoSmartCut(f"smart cut cannot continue a {video.codec} stream")
    if family != "hevc" and any(copy.drop_leading for copy in plan.copies):
        # Only HEVC marks leading pictures (RASL/RADL NAL types) so they can be dropped.
        return NoSmartCut(
            f"open GOP: the {video.codec} pictures shown before the first copied keyframe "
            "depend on the GOP before it"
        )
    matches: list[EncoderMatch | None] = []
    for piece in (plan.head, plan.tail):
        match = None if piece is None else match_encoder(video, format_name, piece.dts_delay)
        if isinstance(match, NoMatch):
            return NoSmartCut(match.reason)
        matches.append(match)
    return _Pieces(matches[0], matches[1], family)


async def _make_pieces(
    input: str,
    work: Path,
    plan: CutPlan,
    pieces: _Pieces,
    info: MediaInfo,
    progress: _Progress,
    timeout_sec: float | None,
) -> list[tuple[Path, float]]:
    """Encode head and tail and copy the middle, all at once; the pieces in join order."""
    suffix = ".mkv" if pieces.family == "vp9" else ".ts"
    jobs: list[Coroutine[Any, Any, ProcessResult]] = []
    ordered: list[tuple[Path, float]] = []
    if plan.head is not None and pieces.head is not None:
        head = work / f"head{suffix}"
        argv = smart_encode_args(input, head, plan.head, info, pieces.head)
        jobs.append(_run(argv, input, timeout_sec, progress.relay("head", plan.head.start)))
        ordered.append((head, plan.head.start))
    patterns = [work / f"copy{n}.%d{suffix}" for n in range(len(plan.copies))]
    parts = list(zip(patterns, plan.copies, strict=True))
    argv = smart_copy_args(input, parts, info, pieces.family)
    jobs.append(_run(argv, input, timeout_sec, progress.relay("copy", plan.copy_start)))
    # Segment 1 of each copy is the part itself (segment 0 is what the seek read before it).
    ordered += [(work / f"copy{n}.1{suffix}", c.key) for n, c in enumerate(plan.copies)]
    if plan.tail is not None and pieces.tail is not None:
        tail = work / f"tail{suffix}"
        argv = smart_encode_args(input, tail, plan.tail, info, pieces.tail)
        jobs.append(_run(argv, input, timeout_sec, progress.relay("tail", plan.tail.start)))
        ordered.append((tail, plan.tail.start))
    await _all(jobs)
    for path, _ in ordered:
        if not path.is_file() or path.stat().st_size == 0:
            raise ClipperError(ErrorCode.CUT_FAILED, f"the smart cut's {path.stem} is missing")
    return ordered


async def _all(jobs: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the jobs at once; the first failure cancels (and so kills) the others, and is
    raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(job) for job in jobs]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _run(
    argv: Sequence[str],
    input: str,
    timeout_sec: float | None,
    on_progress: Callable[[Progress], Awaitable[None]],
) -> ProcessResult:
    try:
        result = await run_process(argv, on_progress=on_progress, timeout_sec=timeout_sec)
    except ProcessError as exc:
        tail = [scrub(line, input) for line in exc.stderr_tail]
        last = tail[-1] if tail else f"exit status {exc.returncode}"
        raise ClipperError(
            ErrorCode.CUT_FAILED,
            f"ffmpeg failed: {last[:200]}",
            details={"returncode": exc.returncode, "stderr_tail": tail},
        ) from None
    await on_progress(Progress(float("inf"), None, True))
    return result


class _Progress:
    """One percentage over pieces that run at once, each weighted by the work it stands for."""

    def __init__(self, plan: CutPlan, report: PercentCallback) -> None:
        self._report = report
        self._spans = {
            "head": plan.head.duration if plan.head is not None else 0.0,
            "tail": plan.tail.duration if plan.tail is not None else 0.0,
            "copy": plan.copied_sec,
            "join": plan.reencoded_sec + plan.copied_sec,
        }
        self._weights = {
            "head": 1.0,
            "tail": 1.0,
            "copy": _COPY_WEIGHT,
            "join": _COPY_WEIGHT,
        }
        self._done = dict.fromkeys(self._spans, 0.0)
        self._total = sum(self._spans[k] * self._weights[k] for k in self._spans) or 1.0
        self._last = 0.0

    def relay(self, name: str, origin: float) -> Callable[[Progress], Awaitable[None]]:
        """A callback for one ffmpeg run whose output timestamps start at `origin`."""

        async def update(progress: Progress) -> None:
            span = self._spans[name]
            done = min(span, max(0.0, progress.out_time_sec - origin))
            self._done[name] = max(self._done[name], done)
            weighted = sum(self._done[k] * self._weights[k] for k in self._done)
            percent = min(99.9, 100.0 * weighted / self._total)
            if percent > self._last:
                self._last = percent
                await self._report(percent)

        return update
