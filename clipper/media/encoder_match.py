"""Encoder settings whose output can sit between a source's own packets. Pure.

A smart cut re-encodes the ends of a clip and copies the middle. The decoder then meets, in one
stream, packets of two encoders, so the re-encoded ones must describe the same kind of picture
as the source (codec, profile, level, bit depth and chroma format, size, colour description)
and their decode-time delay must not exceed the source's at the joins. The parameter sets
still differ from the source's; the re-encoded pieces carry theirs in-band (x264/x265 repeat
them before every keyframe when they write an elementary stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clipper.media.info import VideoStream

Family = Literal["h264", "hevc", "vp9"]

# Heads and tails are short; speed matters more than the last few percent of size. The quality
# sits at or above what typical sources were encoded with, so the joins do not show. (libvpx's
# "good" deadline is four times slower than "realtime" at 1080p here: slower than re-encoding
# the whole clip to H.264.)
X264_PRESET = "veryfast"
X264_CRF = 18
X265_PRESET = "superfast"
X265_CRF = 20
VP9_CPU_USED = 6
VP9_CRF = 24

# ffprobe profile name -> (encoder profile, the pixel formats that profile is used with here).
_H264_PROFILES: dict[str, tuple[str, frozenset[str]]] = {
    "Constrained Baseline": ("baseline", frozenset({"yuv420p", "yuvj420p"})),
    "Baseline": ("baseline", frozenset({"yuv420p", "yuvj420p"})),
    "Main": ("main", frozenset({"yuv420p", "yuvj420p"})),
    "High": ("high", frozenset({"yuv420p", "yuvj420p"})),
    "High 10": ("high10", frozenset({"yuv420p10le"})),
    "High 4:2:2": ("high422", frozenset({"yuv422p", "yuvj422p", "yuv422p10le"})),
}
_HEVC_PROFILES: dict[str, tuple[str, frozenset[str]]] = {
    "Main": ("main", frozenset({"yuv420p", "yuvj420p"})),
    "Main 10": ("main10", frozenset({"yuv420p10le"})),
}
_VP9_PROFILES: dict[str, tuple[str, frozenset[str]]] = {
    "Profile 0": ("0", frozenset({"yuv420p"})),
    "Profile 2": ("2", frozenset({"yuv420p10le"})),
}
_PROFILES: dict[str, dict[str, tuple[str, frozenset[str]]]] = {
    "h264": _H264_PROFILES,
    "hevc": _HEVC_PROFILES,
    "vp9": _VP9_PROFILES,
}
_PROGRESSIVE = frozenset({None, "progressive"})
# Containers whose index lets a seek land on a keyframe, which the copy relies on.
_INDEXED_FORMATS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"})


_FAMILIES: dict[str, Family] = {"h264": "h264", "hevc": "hevc", "vp9": "vp9"}


def family_of(codec: str) -> Family | None:
    """The bitstream family a codec's pieces are joined as, if smart cut knows it."""
    return _FAMILIES.get(codec)


@dataclass(frozen=True)
class EncoderMatch:
    family: Family
    encoder: str
    # Output options for the video stream, in argv form.
    options: tuple[str, ...]
    # Frames by which the encoder's own decode times trail presentation (B-frame reordering).
    reorder_frames: int


@dataclass(frozen=True)
class NoMatch:
    reason: str


def smart_cut_blocker(video: VideoStream, format_name: str) -> str | None:
    """Why no encoder here can continue `video`'s stream, or None when one can."""
    if not set(format_name.split(",")) & _INDEXED_FORMATS:
        return f"smart cut needs an MP4, MOV, MKV or WebM source, not {format_name}"
    profiles = _PROFILES.get(video.codec)
    if profiles is None:
        return f"smart cut cannot continue a {video.codec} stream"
    if video.field_order not in _PROGRESSIVE:
        return "smart cut cannot continue interlaced video"
    known = profiles.get(video.profile or "")
    if known is None:
        return f"smart cut cannot continue {video.codec} profile {video.profile or 'unknown'}"
    if video.pix_fmt not in known[1]:
        return f"smart cut cannot continue {video.codec} {video.profile} in {video.pix_fmt or '?'}"
    if video.width <= 0 or video.height <= 0:
        return "the source's frame size is unknown"
    return None


def match_encoder(video: VideoStream, format_name: str, dts_delay: float) -> EncoderMatch | NoMatch:
    """Settings for an encoder whose output can replace part of `video`'s stream.

    `dts_delay` (seconds) is how far decode times may trail presentation times in the piece:
    B-frames are used only as far as that allows.
    """
    reason = smart_cut_blocker(video, format_name)
    if reason is not None:
        return NoMatch(reason)
    profile = _PROFILES[video.codec][video.profile or ""][0]
    colour = _colour_options(video)
    if video.codec == "vp9":
        return EncoderMatch("vp9", "libvpx-vp9", (*_vp9_options(video, profile), *colour), 0)
    reorder = _reorder_frames(video, dts_delay, profile)
    if video.codec == "h264":
        options = _x264_options(video, profile, reorder)
        return EncoderMatch("h264", "libx264", (*options, *colour), reorder)
    options = _x265_options(video, profile, reorder)
    return EncoderMatch("hevc", "libx265", (*options, *colour), reorder)


def _reorder_frames(video: VideoStream, dts_delay: float, profile: str) -> int:
    """B-frame reordering depth (0, 1 or 2 frames) that fits in `dts_delay`."""
    if profile == "baseline" or video.fps <= 0:
        return 0
    # Biased down: a variable frame rate must not make the encoder's delay exceed the source's.
    return max(0, min(2, int(dts_delay * video.fps + 0.2)))


def _b_frames(reorder: int, pyramid_on: str, pyramid_off: str) -> list[str]:
    if reorder == 0:
        return ["bframes=0"]
    return ["bframes=3", f"b-pyramid={pyramid_on if reorder >= 2 else pyramid_off}"]


def _x264_options(video: VideoStream, profile: str, reorder: int) -> list[str]:
    params = _b_frames(reorder, "normal", "none")
    if video.refs is not None and 1 <= video.refs <= 16:
        params.append(f"ref={video.refs}")
    if video.level is not None and video.level > 0:
        params.append("level=1b" if video.level == 9 else f"level={video.level / 10:g}")
    return [
        "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF),
        "-profile:v", profile, "-pix_fmt", str(video.pix_fmt),
        "-x264-params", ":".join(params),
    ]  # fmt: skip


def _x265_options(video: VideoStream, profile: str, reorder: int) -> list[str]:
    # Closed GOPs and headers with every keyframe: the piece must decode on its own.
    params = [*_b_frames(reorder, "1", "0"), "open-gop=0", "repeat-headers=1", "log-level=error"]
    if video.level is not None and video.level > 0:
        # HEVC's general_level_idc is thirty times the level.
        params.append(f"level-idc={video.level / 30:g}")
    return [
        "-c:v", "libx265", "-preset", X265_PRESET, "-crf", str(X265_CRF),
        "-profile:v", profile, "-pix_fmt", str(video.pix_fmt),
        "-x265-params", ":".join(params),
    ]  # fmt: skip


def _vp9_options(video: VideoStream, profile: str) -> list[str]:
    return [
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", str(VP9_CPU_USED),
        "-crf", str(VP9_CRF), "-b:v", "0", "-row-mt", "1",
        "-profile:v", profile, "-pix_fmt", str(video.pix_fmt),
    ]  # fmt: skip


def _colour_options(video: VideoStream) -> list[str]:
    """The source's colour description, where it has one, written into the new pieces' VUI."""
    options: list[str] = []
    for flag, value in (
        ("-color_range", video.color_range),
        ("-colorspace", video.color_space),
        ("-color_trc", video.color_transfer),
        ("-color_primaries", video.color_primaries),
    ):
        if value is not None:
            options += [flag, value]
    return options
