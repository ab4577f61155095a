"""What ffprobe told us about a source, as plain frozen dataclasses.

`MediaInfo` travels through Temporal's default data converter (a JSON round trip), so it is
made of dataclasses, tuples and scalars only. `parse_ffprobe` is pure: it turns the JSON of
`ffprobe -show_format -show_streams` into a `MediaInfo`, or rejects inputs we cannot clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from clipper.errors import ClipperError, ErrorCode

# Demuxers that read a still image (or an image sequence) or render text as video. ffprobe
# "probes" these happily, with a video stream, so the stream list alone does not reject them.
_IMAGE_FORMATS = frozenset(
    {"image2", "image2pipe", "apng", "gif", "ico", "tty", "bin", "idf", "adf", "xbin"}
)
# Video codecs that only ever carry a still picture when they are not inside a real container.
_TEXT_CODECS = frozenset({"ansi", "bintext", "idf", "xbin"})


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int
    height: int
    fps: float
    time_base: str
    pix_fmt: str | None
    profile: str | None
    # Clockwise degrees a player turns the decoded picture for display: 0, 90, 180 or 270.
    rotation: int
    has_b_frames: int
    start_time: float | None = None
    duration_sec: float | None = None
    # What an encoder must reproduce for its output to join this stream (a smart cut's ends).
    # ffprobe's names; None where it says "unknown".
    level: int | None = None
    field_order: str | None = None
    refs: int | None = None
    color_range: str | None = None
    color_space: str | None = None
    color_transfer: str | None = None
    color_primaries: str | None = None
    sample_aspect_ratio: str | None = None

    @property
    def display_width(self) -> int:
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation in (90, 270) else self.height

    @property
    def end_time(self) -> float | None:
        """Timestamp just after the last frame, on the source's own timeline, when known."""
        if self.duration_sec is None:
            return None
        return (self.start_time or 0.0) + self.duration_sec


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    channels: int
    sample_rate: int
    language: str | None
    default: bool


@dataclass(frozen=True)
class KeyframeSpan:
    """Every keyframe of the video stream read between `first` and `last` (raw timestamps).

    The listing is complete over that span, so the keyframe at or before any time inside
    it is known without reading the source again.
    """

    first: float
    last: float
    keyframes: tuple[float, ...]

    def keyframe_at_or_before(self, t: float, epsilon: float = 1e-6) -> float | None:
        if not (self.first - epsilon <= t <= self.last + epsilon):
            return None
        before = [k for k in self.keyframes if k <= t + epsilon]
        return before[-1] if before else None


@dataclass(frozen=True)
class MediaInfo:
    duration_sec: float
    # Timestamp of the earliest packet (format level). Seeks with ffmpeg's input `-ss` are
    # relative to it; keyframe timestamps from ffprobe are not.
    start_time: float
    format_name: str
    bit_rate: int | None
    video: VideoStream | None
    audio: tuple[AudioStream, ...]
    # Keyframes read around the points a probe was asked about (the clip's ends).
    keyframe_spans: tuple[KeyframeSpan, ...] = ()

    def known_keyframe_at_or_before(self, t: float) -> float | None:
        """The keyframe at or before raw time `t`, when a probe already listed it."""
        for span in self.keyframe_spans:
            found = span.keyframe_at_or_before(t)
            if found is not None:
                return found
        return None

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return len(self.audio) > 0

    @property
    def end_time(self) -> float:
        return self.start_time + self.duration_sec

    @property
    def video_end_sec(self) -> float:
        """Seconds from the start of the source to the end of its video (or of the file)."""
        if self.video is not None and self.video.end_time is not None:
            return min(self.duration_sec, self.video.end_time - self.start_time)
        return self.duration_sec


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None  # ffprobe prints "N/A" for unknown values
    return result if math.isfinite(result) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _float(value)
    num, _, den = value.partition("/")
    n, d = _float(num), _float(den)
    if n is None or d is None or n <= 0 or d <= 0:
        return None
    return n / d


def _rotation(stream: dict[str, Any]) -> int:
    # The display matrix's angle is counter-clockwise (av_display_rotation_get); the legacy
    # `rotate` tag, and what players do, is clockwise. ffmpeg's own autorotate uses -angle.
    for side in stream.get("side_data_list") or ():
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            angle = _float(side["rotation"])
            if angle is not None:
                return _snap_90(-angle)
    tag = _float((stream.get("tags") or {}).get("rotate"))
    return _snap_90(tag) if tag is not None else 0


def _snap_90(angle: float) -> int:
    return round(angle / 90.0) % 4 * 90


def _disposition(stream: dict[str, Any], key: str) -> bool:
    return bool((stream.get("disposition") or {}).get(key))


def _video(stream: dict[str, Any]) -> VideoStream:
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")) or 0.0
    return VideoStream(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        width=_int(stream.get("width")) or 0,
        height=_int(stream.get("height")) or 0,
        fps=fps,
        time_base=str(stream.get("time_base") or "1/1000"),
        pix_fmt=stream.get("pix_fmt"),
        profile=stream.get("profile"),
        rotation=_rotation(stream),
        has_b_frames=_int(stream.get("has_b_frames")) or 0,
        start_time=_float(stream.get("start_time")),
        duration_sec=_float(stream.get("duration")),
        level=_int(stream.get("level")),
        field_order=_name(stream.get("field_order")),
        refs=_int(stream.get("refs")),
        color_range=_name(stream.get("color_range")),
        color_space=_name(stream.get("color_space")),
        color_transfer=_name(stream.get("color_transfer")),
        color_primaries=_name(stream.get("color_primaries")),
        sample_aspect_ratio=_name(stream.get("sample_aspect_ratio")),
    )


def _name(value: Any) -> str | None:
    """An ffprobe enum value, or None for the ways it says "not known"."""
    if not isinstance(value, str) or value in ("", "unknown", "reserved", "unspecified", "N/A"):
        return None
    return value


def _audio(stream: dict[str, Any]) -> AudioStream:
    language = (stream.get("tags") or {}).get("language")
    return AudioStream(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        channels=_int(stream.get("channels")) or 0,
        sample_rate=_int(stream.get("sample_rate")) or 0,
        # "und" is ISO 639-2 for "undetermined": as good as no tag.
        language=language if isinstance(language, str) and language not in ("", "und") else None,
        default=_disposition(stream, "default"),
    )


def _is_real_video(stream: dict[str, Any]) -> bool:
    # Cover art in MP3/M4A/MKV is a one-frame "video" stream marked attached_pic.
    return (
        stream.get("codec_type") == "video"
        and not _disposition(stream, "attached_pic")
        and not _disposition(stream, "timed_thumbnails")
        and stream.get("codec_name") not in _TEXT_CODECS
    )


def _is_image_format(format_name: str) -> bool:
    names = format_name.split(",")
    return any(name in _IMAGE_FORMATS or name.endswith("_pipe") for name in names)


def parse_ffprobe(doc: dict[str, Any]) -> MediaInfo:
    """Turn `ffprobe -print_format json -show_format -show_streams` output into a MediaInfo.

    Raises ClipperError(UNSUPPORTED_MEDIA) for what is not clippable media: images, text,
    files without audio or video, or without a duration.
    """
    fmt: dict[str, Any] = doc.get("format") or {}
    streams: list[dict[str, Any]] = [s for s in doc.get("streams") or () if "index" in s]
    format_name = str(fmt.get("format_name") or "")
    if not format_name or _is_image_format(format_name):
        raise ClipperError(ErrorCode.UNSUPPORTED_MEDIA, "not a video or audio file")

    videos = [_video(s) for s in streams if _is_real_video(s)]
    audio = tuple(_audio(s) for s in streams if s.get("codec_type") == "audio")
    if not videos and not audio:
        raise ClipperError(ErrorCode.UNSUPPORTED_MEDIA, "the file has no audio or video stream")

    duration = _float(fmt.get("duration"))
    if duration is None:
        # Some demuxers know only per-stream durations.
        durations = [d for s in streams if (d := _float(s.get("duration"))) is not None]
        duration = max(durations, default=None)
    if duration is None or duration <= 0:
        raise ClipperError(ErrorCode.UNSUPPORTED_MEDIA, "the file has no duration")

    return MediaInfo(
        duration_sec=duration,
        start_time=_float(fmt.get("start_time")) or 0.0,
        format_name=format_name,
        bit_rate=_int(fmt.get("bit_rate")),
        video=videos[0] if videos else None,
        audio=audio,
    )


@dataclass(frozen=True)
class CutReceipt:
    """What a cut really did, measured on its output (seconds on the source timeline)."""

    mode: str
    requested_start: float
    requested_end: float
    actual_start: float
    actual_end: float
    reencoded_sec: float
    copied_sec: float
    fallback_reason: str | None
    duration_sec: float
    bytes: int
