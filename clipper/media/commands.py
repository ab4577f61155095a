"""Pure builders of ffmpeg/ffprobe argument lists. Nothing here spawns a process.

Times given to the cut builders are seconds from the start of the source as ffmpeg's input
`-ss` understands them: relative to the format's start time (`MediaInfo.start_time`), not the
raw packet timestamps. Keyframe timestamps read by `keyframes_args` are raw timestamps; the
caller converts (see `clipper.media.cut`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import ffmpeg

from clipper.domain.cut_plan import Copy, Reencode
from clipper.media.encoder_match import EncoderMatch
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


# --- Smart cut ------------------------------------------------------------------------------
# Pieces keep the source's raw timestamps (`-copyts`), so they line up when joined. H.264 and
# HEVC pieces are MPEG-TS: byte-concatenated they form one stream whose PES headers carry every
# packet's PTS and DTS as they were. VP9 cannot go into MPEG-TS; its pieces are Matroska, joined
# by the concat demuxer (VP9 packets have no reordering, so their PTS is all there is).

# MPEG-TS clock; the re-encoded pieces use it too, so their DTS shift is in the same units.
TS_TICKS_PER_SEC = 90_000
# How far past the last copied keyframe the copy reads: it must get to that keyframe's packet,
# which is where the segmenter ends the copied part.
COPY_OVERRUN_SEC = 1.0
# Access unit delimiters (NAL types): the MPEG-TS muxer adds them and MP4 does not want them.
_AUD_NAL_TYPES = {"h264": "9", "hevc": "35"}
# HEVC RADL and RASL pictures: the leading pictures of a CRA keyframe.
_HEVC_LEADING_NAL_TYPES = "6|7|8|9"


def _smart_piece_format(family: str) -> tuple[str, str]:
    """Muxer and the options that keep its timestamps exactly as given."""
    if family == "vp9":
        return "matroska", "avoid_negative_ts=disabled"
    # initial_discontinuity: the demuxer must not take the next piece's restarted continuity
    # counters for lost packets.
    return "mpegts", "avoid_negative_ts=disabled:mpegts_flags=+initial_discontinuity"


def smart_encode_args(
    input: str,
    output: str | os.PathLike[str],
    piece: Reencode,
    info: MediaInfo,
    match: EncoderMatch,
) -> list[str]:
    """Re-encode the frames of one piece of a smart cut with encoder settings matched to the
    source.

    Decoding starts at `piece.seek`, so the first frame kept is `piece.start`, and stops after
    `piece.frames`: counted frames, not a duration, so no rounding can add or lose one. The
    source's display matrix is left alone (`-noautorotate`): the copied middle keeps it too.
    Frames keep their raw timestamps (`-copyts`, `-fps_mode passthrough`). The DTS of the
    piece is set to trail its PTS by `piece.dts_delay` from its first packet on: STARTPTS and
    STARTDTS are that packet's, whatever delay the encoder chose.
    """
    if info.video is None:
        raise ValueError("smart_encode_args needs a source with a video stream")
    muxer, _ = _smart_piece_format(match.family)
    argv = [
        FFMPEG, *_FFMPEG_GLOBAL, *_PROGRESS, "-y", "-copyts", "-noautorotate",
        "-ss", seconds(max(0.0, piece.seek - info.start_time)), "-i", media_arg(input),
        "-map", f"0:{info.video.index}", "-frames:v", str(piece.frames), *match.options,
        "-fps_mode", "passthrough", "-map_metadata", "-1", "-avoid_negative_ts", "disabled",
    ]  # fmt: skip
    if match.family == "vp9":
        argv += ["-enc_time_base:v", "-1"]
    else:
        delay = round(piece.dts_delay * TS_TICKS_PER_SEC)
        argv += [
            "-enc_time_base:v", f"1:{TS_TICKS_PER_SEC}",
            "-bsf:v", f"setts=pts=PTS:dts=DTS-STARTDTS+STARTPTS-{delay}",
            "-mpegts_flags", "+initial_discontinuity",
        ]  # fmt: skip
    return [*argv, "-f", muxer, media_arg(output)]


def smart_copy_args(
    input: str,
    parts: Sequence[tuple[str | os.PathLike[str], Copy]],
    info: MediaInfo,
    family: str,
) -> list[str]:
    """Stream-copy whole GOPs of the source, one output per part, by one ffmpeg run.

    Each output is a keyframe-aligned segmenter: segment 0 holds what the seek read before the
    part's first keyframe, segment 1 the part itself (up to its end keyframe, exclusive), so
    the part is cut on packet boundaries in decode order and never by a rounded time. The
    `pattern` of each part is a file name with `%d` for the segment number.
    """
    if info.video is None:
        raise ValueError("smart_copy_args needs a source with a video stream")
    muxer, muxer_options = _smart_piece_format(family)
    seek = min(copy.split_at for _, copy in parts)
    argv = [
        FFMPEG, *_FFMPEG_GLOBAL, *_PROGRESS, "-y", "-copyts",
        "-ss", seconds(max(0.0, seek - info.start_time)), "-i", media_arg(input),
    ]  # fmt: skip
    for pattern, copy in parts:
        argv += ["-map", f"0:{info.video.index}", "-c:v", "copy"]
        if copy.drop_leading:
            argv += ["-bsf:v", f"filter_units=remove_types={_HEVC_LEADING_NAL_TYPES}"]
        times = [copy.split_at]
        if copy.until is not None and copy.split_until is not None:
            # Raw time, as -copyts keeps it; compared with decode times.
            argv += ["-to", seconds(copy.until + COPY_OVERRUN_SEC)]
            times.append(copy.split_until)
        argv += [
            "-avoid_negative_ts", "disabled", "-f", "segment", "-write_empty_segments", "1",
            "-segment_times", ",".join(seconds(t) for t in times),
            "-segment_format", muxer, "-segment_format_options", muxer_options,
            media_arg(pattern),
        ]  # fmt: skip
    return argv


def smart_concat_list(family: str, pieces: Sequence[tuple[str | os.PathLike[str], float]]) -> str:
    """The list file that joins the pieces: (path, pts of its first frame) in order."""
    if family != "vp9":
        # The concat protocol's list: one URL a line, read as bytes one after another.
        return "".join(media_arg(path) + "\n" for path, _ in pieces)
    # The concat demuxer shifts each file by the durations before it; with every duration the
    # distance between first frames, each frame lands where it was relative to the first.
    lines = ["ffconcat version 1.0"]
    for n, (path, first) in enumerate(pieces):
        quoted = media_arg(path).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
        if n + 1 < len(pieces):
            lines.append(f"duration {seconds(pieces[n + 1][1] - first)}")
    return "\n".join(lines) + "\n"


def smart_join_args(
    input: str,
    pieces_list: str | os.PathLike[str],
    output: str | os.PathLike[str],
    first_frame: float,
    end: float,
    info: MediaInfo,
    family: str,
) -> list[str]:
    """Join the pieces (listed by `smart_concat_list`) without re-encoding them, add the audio
    of [first_frame, end) from the source, and write a faststart MP4.

    `first_frame` and `end` are raw times. The audio is taken the way a fast cut takes it:
    copied where MP4 can carry it (the edit list hides what lies before the first frame, so
    it starts in sync to the sample), else encoded to AAC from exactly there. The pieces carry
    no display matrix, so the source's rotation is written again.
    """
    video = info.video
    if video is None:
        raise ValueError("smart_join_args needs a source with a video stream")
    argv = [FFMPEG, *_FFMPEG_GLOBAL, *_PROGRESS, "-y"]
    if family == "vp9":
        argv += ["-f", "concat", "-safe", "0", "-i", media_arg(pieces_list)]
    else:
        argv += ["-f", "mpegts", "-i", "concatf:" + media_arg(pieces_list)]
    if info.audio:
        argv += ["-ss", seconds(max(0.0, first_frame - info.start_time)), "-i", media_arg(input)]
    argv += ["-map", "0:v:0"]
    for stream in info.audio:
        argv += ["-map", f"1:{stream.index}"]
    argv += ["-c:v", "copy"]
    if family in _AUD_NAL_TYPES:
        argv += ["-bsf:v", f"filter_units=remove_types={_AUD_NAL_TYPES[family]}"]
    if family == "hevc":
        argv += ["-tag:v", "hvc1"]
    for key, value in _audio_options(info, copy=True).items():
        argv += [f"-{key}", str(value)]
    if video.rotation:
        # ffmpeg 5.1 writes the `rotate` tag as the display matrix, turned the other way.
        argv += ["-metadata:s:v:0", f"rotate={(360 - video.rotation) % 360}"]
    argv += [
        "-t", seconds(end - first_frame), "-map_metadata", "-1", "-map_chapters", "-1",
        "-movflags", "+faststart", "-f", "mp4", media_arg(output),
    ]  # fmt: skip
    return argv
