"""Pure builders of ffmpeg/ffprobe argument lists. Nothing here spawns a process.

Times given to the cut builders are seconds from the start of the source as ffmpeg's input
`-ss` understands them: relative to the format's start time (`MediaInfo.start_time`), not the
raw packet timestamps. Keyframe timestamps read by `keyframes_args` are raw timestamps; the
caller converts (see `clipper.media.cut`).
"""

from __future__ import annotations

import os
import re
from typing import Any

import ffmpeg

from clipper.media.info import AudioStream, MediaInfo

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

X264_PRESET = "veryfast"
X264_CRF = 20

# Codecs an MP4 can carry and browsers can play when stream-copied. Anything else in a fast
# cut is re-encoded (audio) or turns the cut into a re-encode (video).
MP4_COPY_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9"})
MP4_COPY_AUDIO_CODECS = frozenset({"aac", "mp3", "opus"})

_URL = re.compile(r"^(?:https?|rtmps?|srt|rtsp)://", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

# Both ffmpeg and ffprobe: machine-readable progress on stdout, warnings and errors on
# stderr (the runner keeps their tail), nothing interactive.
_FFMPEG_GLOBAL = ("-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats")
_PROGRESS = ("-progress", "pipe:1")


def media_arg(path: str | os.PathLike[str]) -> str:
    """An input or output name ffmpeg takes literally.

    Without the `file:` prefix a name starting with `-` reads as an option and one containing
    `:` (`a:b.mp4`, `concat:...`, `subfile:...`) as a protocol. Network URLs pass unchanged.
    """
    text = os.fspath(path)
    if _URL.match(text) or text.startswith("file:"):
        return text
    return "file:" + text


def seconds(value: float) -> str:
    """Seconds as ffmpeg reads them; microseconds are ffmpeg's own resolution (AV_TIME_BASE)."""
    return f"{value:.6f}"


def escape_filter_option(value: str) -> str:
    """Escape a value for use inside one filter's option list (`name=key=VALUE:...`)."""
    return re.sub(r"([\\':])", r"\\\1", value)


def escape_filter_graph(text: str) -> str:
    """Escape a filter description for use inside a filtergraph (`-vf`, `-filter_complex`)."""
    return re.sub(r"([\\'\[\],;])", r"\\\1", text)


def escape_filter_arg(value: str) -> str:
    """A literal (a path, a text) as a filter option value inside a filtergraph.

    Both escaping levels apply: the option parser and the graph parser each strip one.
    Pass the result only to raw `-vf`/`-filter_complex` strings: ffmpeg-python escapes
    filter arguments again, wrongly for `:` and `'`.
    """
    return escape_filter_graph(escape_filter_option(value))


def probe_args(input: str, *, keyframes_near: float | None = None) -> list[str]:
    """ffprobe of format and streams; with `keyframes_near`, also the packets (read, not
    decoded) of one window before that point: a process costs ~60 ms to start here, and
    this one also answers where the clip's first keyframe is."""
    argv = [FFPROBE, "-hide_banner", "-v", "error", "-print_format", "json"]
    if keyframes_near is not None:
        start = max(0.0, keyframes_near - KEYFRAME_LOOKBACK_SEC)
        argv += [
            "-read_intervals",
            f"{seconds(start)}%{seconds(keyframes_near + 1.0)}",
            "-show_entries",
            "packet=stream_index,pts_time,dts_time,flags",
        ]
    return [*argv, "-show_format", "-show_streams", media_arg(input)]


# How far before a cut point a probe lists keyframes: more than the GOP of almost any
# source (long-GOP sources fall back to the widening search of probe.keyframe_at_or_before).
KEYFRAME_LOOKBACK_SEC = 20.0


def keyframes_args(
    input: str,
    around_sec: float,
    window_sec: float,
    *,
    after_sec: float = 1.0,
    stream_index: int | None = None,
) -> list[str]:
    """ffprobe listing the keyframe packets of one video stream in [around-window, around+after].

    Times are raw timestamps (`pts_time`, or `dts_time` where a container has no pts).
    ffprobe seeks to the keyframe at or before the window's start and stops reading at its
    end, so the cost is bounded by the window, not the file. Packets are read, not decoded:
    their keyframe flag is the container's index, the same one ffmpeg's seek (and so a
    stream copy) starts from, and reading it costs no decoding of 4K frames.
    """
    start = around_sec - window_sec
    end = around_sec + after_sec
    return [
        FFPROBE,
        "-hide_banner",
        "-v",
        "error",
        "-select_streams",
        "v:0" if stream_index is None else str(stream_index),
        "-read_intervals",
        f"{seconds(start)}%{seconds(end)}",
        "-show_entries",
        "packet=pts_time,dts_time,flags",
        "-print_format",
        "json",
        media_arg(input),
    ]


def fast_copy_blocker(info: MediaInfo) -> str | None:
    """Why `info` cannot be cut by stream copy into MP4, or None when it can."""
    if info.video is None:
        return "the source has no video stream"
    if info.video.codec not in MP4_COPY_VIDEO_CODECS:
        return f"video codec {info.video.codec} cannot be stream-copied into MP4"
    return None


def _audio_bitrate(stream: AudioStream) -> str:
    channels = max(1, stream.channels)
    return f"{min(512, max(96, 80 * channels))}k"


def _audio_options(info: MediaInfo, *, copy: bool) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for n, stream in enumerate(info.audio):
        if copy and stream.codec in MP4_COPY_AUDIO_CODECS:
            options[f"c:a:{n}"] = "copy"
        else:
            options[f"c:a:{n}"] = "aac"
            options[f"b:a:{n}"] = _audio_bitrate(stream)
        # Source metadata is dropped wholesale (phones record GPS positions there); the
        # language is what a player needs to label the track.
        if stream.language and _LANGUAGE.match(stream.language):
            options[f"metadata:s:a:{n}"] = f"language={stream.language}"
    return options


def _common_output_options(duration_sec: float) -> dict[str, Any]:
    return {
        "t": seconds(duration_sec),
        "map_metadata": -1,
        "map_chapters": -1,
        "movflags": "+faststart",
        "f": "mp4",
    }


def _compile(stream: Any) -> list[str]:
    args: list[str] = stream.global_args(*_FFMPEG_GLOBAL, *_PROGRESS).overwrite_output().compile()
    return args


def _source(input: str, start_sec: float) -> Any:
    return ffmpeg.input(media_arg(input), ss=seconds(max(0.0, start_sec)))


def fast_cut_args(
    input: str,
    output: str | os.PathLike[str],
    start_sec: float,
    duration_sec: float,
    info: MediaInfo,
) -> list[str]:
    """Stream copy of [start, start+duration) into a faststart MP4.

    `start_sec` must be a keyframe time: ffmpeg seeks to the keyframe at or before it, and
    copying starts there. The video stream and every audio track are kept; subtitle, data
    and attachment streams are dropped (MP4 cannot hold most of them and players ignore them).

    `-avoid_negative_ts make_zero` is deliberately absent: it shifts every stream by the
    earliest audio packet, which starts the video late. The MP4 muxer's edit list keeps the
    first video frame at 0 and trims the audio that starts before it.
    """
    if info.video is None:
        raise ValueError("fast_cut_args needs a source with a video stream")
    source = _source(input, start_sec)
    streams = [source[str(info.video.index)], *(source[str(a.index)] for a in info.audio)]
    options: dict[str, Any] = {"c:v": "copy", **_audio_options(info, copy=True)}
    if info.video.codec == "hevc":
        # Apple players (Safari, QuickTime) play HEVC in MP4 only under the hvc1 tag.
        options["tag:v"] = "hvc1"
    options.update(_common_output_options(duration_sec))
    return _compile(ffmpeg.output(*streams, media_arg(output), **options))


def reencode_cut_args(
    input: str,
    output: str | os.PathLike[str],
    start_sec: float,
    duration_sec: float,
    info: MediaInfo,
    *,
    seek_sec: float | None = None,
) -> list[str]:
    """Frame-exact cut re-encoded to H.264/AAC in a faststart MP4.

    ffmpeg decodes from where the input `-ss` lands and drops frames before `start_sec`.
    With `seek_sec` (a keyframe at or before `start_sec`) the input seek goes to that
    keyframe and an output `-ss` drops the rest: demuxers whose seeks do not land on a
    keyframe (MPEG-TS, some AVI/FLV) would otherwise lose the frames up to the next one.
    ffmpeg autorotates while decoding and then writes an identity display
    matrix, so a rotated source comes out upright, rotated once. The frame size is rounded
    down to even numbers (4:2:0 needs it); the sample aspect ratio is kept, so is the display
    shape. Timestamps are kept as they are (`-fps_mode vfr`, a 90 kHz encoder clock) so
    variable-frame-rate phone video is neither padded with duplicates nor snapped to a grid.
    """
    if info.video is None:
        raise ValueError("reencode_cut_args needs a source with a video stream")
    seek = start_sec if seek_sec is None else min(seek_sec, start_sec)
    source = _source(input, seek)
    video = source[str(info.video.index)].filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2")
    streams = [video, *(source[str(a.index)] for a in info.audio)]
    options: dict[str, Any] = {
        "c:v": "libx264",
        "preset": X264_PRESET,
        "crf": X264_CRF,
        "pix_fmt": "yuv420p",
        "fps_mode": "vfr",
        "enc_time_base:v": "1:90000",
        **_audio_options(info, copy=False),
        **_common_output_options(duration_sec),
    }
    if start_sec - seek > 0:
        options["ss"] = seconds(start_sec - seek)
    return _compile(ffmpeg.output(*streams, media_arg(output), **options))
