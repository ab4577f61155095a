"""Cut one clip out of a probed source into a faststart MP4, and say what was really done.

Times given to and returned by `cut_clip` are seconds from the start of the source as a
player shows it, i.e. relative to `MediaInfo.start_time`; sources whose timestamps start
elsewhere (MPEG-TS, MKV cut from a stream, edited MOV) are converted here.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from clipper.domain.cut_plan import NoSmartCut, frame_on_screen_at
from clipper.errors import ClipperError, ErrorCode
from clipper.media.commands import fast_copy_blocker, fast_cut_args, reencode_cut_args
from clipper.media.info import CutReceipt, MediaInfo
from clipper.media.probe import keyframe_at_or_before, probe, scrub, stderr_says_corrupt
from clipper.media.runner import ProcessError, Progress, run_process
from clipper.media.smartcut import list_packets, smart_cut

CutMode = Literal["fast", "reencode", "accurate"]
# How far after a cut point frames are listed to find the one on screen at it.
FRAME_LISTING_SEC = 1.0
SEEK_SLACK_SEC = 0.0005
PercentCallback = Callable[[float], Awaitable[None] | None]

# No longer a receipt's reason (accurate is a smart cut now); tests/integration/test_media_cut
# still imports it until its accurate test is rewritten.


async def cut_clip(
    input: str,
    output: Path,
    start: float,
    end: float,
    mode: CutMode,
    info: MediaInfo,
    on_progress: PercentCallback | None = None,
    *,
    timeout_sec: float | None = None,
) -> CutReceipt:
    """Cut [start, end) of `input` (described by `info`) into `output`.

    Raises ClipperError: UNSUPPORTED_MEDIA (no video), INVALID_RANGE / RANGE_OUTSIDE_SOURCE,
    SOURCE_CORRUPT (permanent: the source is damaged where the clip lies), CUT_FAILED
    (retryable), TIMEOUT.
    `output` appears only complete; a partial file never does. `on_progress` gets the
    percentage of the clip written; `timeout_sec` bounds each ffmpeg run.

    The receipt's `mode` is what was done: a fast cut that had to re-encode (a codec MP4
    cannot carry, a failed stream copy) says "reencode" and why in `fallback_reason`.
    "accurate" is a smart cut (`clipper.media.smartcut`): `reencoded_sec` and `copied_sec`
    say how much of the video was encoded anew and how much copied; where the source or the
    clip does not allow it, the whole clip is re-encoded and `fallback_reason` says why. An
    `end` past the source is clamped to it; `requested_end` keeps what was asked.
    """
    if info.video is None:
        # A clip is a video: audio-only sources are refused as unsupported, as at upload.
        raise ClipperError(
            ErrorCode.UNSUPPORTED_MEDIA, "the file has no video stream; clipper cuts video files"
        )
    if start < 0 or end <= start:
        raise ClipperError(ErrorCode.INVALID_RANGE, "the clip must end after it starts")
    if start >= info.duration_sec:
        raise ClipperError(
            ErrorCode.RANGE_OUTSIDE_SOURCE,
            f"the clip starts after the end of the source ({info.duration_sec:.3f} s)",
        )
    clamped_end = min(end, info.duration_sec)
    job = _Cut(input, output, start, clamped_end, end, info, on_progress, timeout_sec)

    if mode == "reencode":
        return await job.reencode()
    if mode == "accurate":
        return await job.accurate()
    if mode != "fast":
        raise ValueError(f"unknown cut mode {mode!r}")
    reason = fast_copy_blocker(info)
    if reason is None:
        try:
            return await job.fast()
        except _CopyImpossible as exc:
            reason = exc.reason
        except ClipperError as exc:
            if exc.code is not ErrorCode.CUT_FAILED:
                raise
            # Stream copy trips over things a re-encode repairs (missing timestamps,
            # non-monotonic DTS, odd bitstreams); the receipt says it fell back.
            reason = f"stream copy failed: {exc.message}"
    receipt = await job.reencode()
    return replace(receipt, fallback_reason=reason)


class _CopyImpossible(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Cut:
    def __init__(
        self,
        input: str,
        output: Path,
        start: float,
        end: float,
        requested_end: float,
        info: MediaInfo,
        on_progress: PercentCallback | None,
        timeout_sec: float | None,
    ) -> None:
        self.input = input
        self.output = Path(output)
        self.start = start
        self.end = end
        self.requested_end = requested_end
        self.info = info
        self.on_progress = on_progress
        self.timeout_sec = timeout_sec
        self._reported = -1.0

    async def _keyframe_before(self, start: float) -> float:
        """The keyframe at or before `start`, in seconds from the source's start."""
        keyframe = await keyframe_at_or_before(
            self.input, self.info.start_time + start, info=self.info
        )
        # Rounded to ffmpeg's microsecond resolution so a seek lands on this keyframe,
        # never on the one before it.
        return round(max(0.0, keyframe - self.info.start_time), 6)

    async def _frame_on_screen(self, start: float) -> float:
        """Where a frame-exact cut begins: the start of the frame on screen at `start`.

        ffmpeg's output seek keeps frames starting at or after its point, which would drop
        the frame already showing at `start`. Falls back to `start` when the frames near it
        cannot be listed.
        """
        video = self.info.video
        if video is None:
            return start
        raw = self.info.start_time + start
        try:
            packets = await list_packets(
                self.input, raw, raw + FRAME_LISTING_SEC, video.index, self.timeout_sec
            )
        except ClipperError as exc:
            if exc.code is ErrorCode.TIMEOUT:
                raise
            return start
        shown = frame_on_screen_at([p.pts for p in packets], raw)
        if shown is None or raw - shown > FRAME_LISTING_SEC:
            return start
        return max(0.0, shown - self.info.start_time)

    async def fast(self) -> CutReceipt:
        begin = await self._keyframe_before(self.start)
        if begin >= self.end:
            raise _CopyImpossible("the source has no keyframe before the end of the clip")
        argv = fast_cut_args(self.input, self._part, begin, self.end - begin, self.info)
        out, size = await self._run(argv, begin)
        first, last = _video_span(out)
        return CutReceipt(
            mode="fast",
            requested_start=self.start,
            requested_end=self.requested_end,
            actual_start=_us(begin + first),
            actual_end=_us(begin + last),
            reencoded_sec=0.0,
            copied_sec=_us(last - first),
            fallback_reason=None,
            duration_sec=out.duration_sec,
            bytes=size,
        )

    async def reencode(self) -> CutReceipt:
        try:
            seek: float | None = await self._keyframe_before(self.start)
        except ClipperError as exc:
            if exc.code is ErrorCode.TIMEOUT:
                raise
            # The seek is only an optimisation of where decoding starts; ffmpeg's own seek
            # still gives a cut, and the verification below judges the result.
            seek = None
        begin = await self._frame_on_screen(self.start)
        # A hair early at both ends: ffprobe prints times rounded to the microsecond, and a
        # seek a microsecond late would drop the very frame it is after, while a frame that
        # starts exactly at `end` is not shown before it.
        argv = reencode_cut_args(
            self.input,
            self._part,
            max(0.0, begin - SEEK_SLACK_SEC),
            self.end - begin,
            self.info,
            seek_sec=seek,
        )
        out, size = await self._run(argv, begin)
        first, last = _video_span(out)
        return CutReceipt(
            mode="reencode",
            requested_start=self.start,
            requested_end=self.requested_end,
            actual_start=_us(begin + first),
            actual_end=_us(begin + last),
            reencoded_sec=_us(last - first),
            copied_sec=0.0,
            fallback_reason=None,
            duration_sec=out.duration_sec,
            bytes=size,
        )

    async def accurate(self) -> CutReceipt:
        try:
            outcome = await self._smart()
        except ClipperError as exc:
            if exc.code is ErrorCode.TIMEOUT:
                raise
            # The whole-clip re-encode below reads the source again and judges it: a source
            # that is really damaged fails there, with the right code.
            outcome = NoSmartCut(f"smart cut failed: {exc.message}")
        if isinstance(outcome, NoSmartCut):
            receipt = await self.reencode()
            return replace(receipt, mode="accurate", fallback_reason=outcome.reason)
        return outcome

    async def _smart(self) -> CutReceipt | NoSmartCut:
        part = self._part
        part.parent.mkdir(parents=True, exist_ok=True)
        try:
            outcome = await smart_cut(
                self.input,
                part,
                self.start,
                self.end,
                self.info,
                on_progress=self._report,
                timeout_sec=self.timeout_sec,
            )
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        if isinstance(outcome, NoSmartCut):
            return outcome
        out, size = await self._finish(outcome.begin, outcome.stderr_tail)
        first, last = _video_span(out)
        return CutReceipt(
            mode="accurate",
            requested_start=self.start,
            requested_end=self.requested_end,
            actual_start=_us(outcome.begin + first),
            actual_end=_us(outcome.begin + last),
            reencoded_sec=_us(outcome.plan.reencoded_sec),
            copied_sec=_us(outcome.plan.copied_sec),
            fallback_reason=None,
            duration_sec=out.duration_sec,
            bytes=size,
        )

    @property
    def _part(self) -> Path:
        return self.output.with_name(f".{self.output.name}.part")

    async def _run(self, argv: Sequence[str], begin: float) -> tuple[MediaInfo, int]:
        """Run one cut into the part file, verify it, move it into place."""
        part = self._part
        part.parent.mkdir(parents=True, exist_ok=True)
        expected = self.end - begin
        try:
            result = await run_process(
                argv, on_progress=self._progress(expected), timeout_sec=self.timeout_sec
            )
        except ProcessError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            raise self._failure(exc.stderr_tail, exc.returncode) from None
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        return await self._finish(begin, result.stderr_tail)

    async def _finish(self, begin: float, stderr_tail: Sequence[str]) -> tuple[MediaInfo, int]:
        """Verify the part file written from `begin` on and move it into place."""
        part = self._part
        try:
            out = await self._verify(part, begin, stderr_tail)
            size = part.stat().st_size
            os.replace(part, self.output)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        await self._report(100.0)
        return out, size

    async def _verify(self, part: Path, begin: float, stderr_tail: Sequence[str]) -> MediaInfo:
        details = {"stderr_tail": [scrub(line, self.input, part) for line in stderr_tail]}
        try:
            out: MediaInfo | None = await probe(str(part))
        except ClipperError as exc:
            if exc.code is not ErrorCode.UNSUPPORTED_MEDIA:
                raise
            out = None  # ffmpeg exited cleanly yet wrote no readable MP4
        if out is None or out.video is None:
            raise ClipperError(
                ErrorCode.SOURCE_CORRUPT,
                "the source could not be read where the clip lies; it looks damaged",
                details=details,
            )
        # What the source claims to hold for this range; a shorter output means the bytes
        # behind the claim are missing (a truncated upload) or unreadable.
        claimed = min(self.end, self.info.video_end_sec) - begin
        _, last = _video_span(out)
        fps = self.info.video.fps if self.info.video is not None else 0.0
        tolerance = max(0.5, 0.1 * claimed, 2.0 / fps if fps > 0 else 0.0)
        if claimed - last > tolerance:
            raise ClipperError(
                ErrorCode.SOURCE_CORRUPT,
                f"the source ends early: {last:.2f} s of {claimed:.2f} s could be read",
                details=details,
            )
        return out

    def _failure(self, stderr_tail: Sequence[str], returncode: int) -> ClipperError:
        tail = [scrub(line, self.input, self._part) for line in stderr_tail]
        if stderr_says_corrupt(stderr_tail):
            return ClipperError(
                ErrorCode.SOURCE_CORRUPT,
                "the source is damaged where the clip lies",
                details={"stderr_tail": tail},
            )
        last = tail[-1] if tail else f"exit status {returncode}"
        return ClipperError(
            ErrorCode.CUT_FAILED,
            f"ffmpeg failed: {last[:200]}",
            details={"returncode": returncode, "stderr_tail": tail},
        )

    def _progress(self, expected: float) -> Callable[[Progress], Awaitable[None]] | None:
        if self.on_progress is None:
            return None

        async def relay(progress: Progress) -> None:
            if progress.done:
                return  # 100 is reported once the output is verified and in place
            share = progress.out_time_sec / expected if expected > 0 else 0.0
            await self._report(min(99.9, max(0.0, share * 100.0)))

        return relay

    async def _report(self, percent: float) -> None:
        # A smart cut that falls back starts over with a re-encode: the percentage holds still
        # until the re-encode catches up rather than running backwards.
        if self.on_progress is None or percent <= self._reported:
            return
        self._reported = percent
        result = self.on_progress(percent)
        if inspect.isawaitable(result):
            await result


def _us(seconds: float) -> float:
    """Seconds rounded to ffmpeg's microsecond resolution, without float noise."""
    return round(seconds, 6)


def _video_span(out: MediaInfo) -> tuple[float, float]:
    """Seconds from the output's start to its first video frame and to its video's end."""
    video = out.video
    first = (video.start_time or 0.0) - out.start_time if video is not None else 0.0
    first = max(0.0, first)
    if video is not None and video.duration_sec is not None:
        return first, first + video.duration_sec
    return first, out.duration_sec
