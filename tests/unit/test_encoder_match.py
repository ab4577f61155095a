"""Encoder settings matched to a source, and the smart cut's command lines (no ffmpeg here)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clipper.domain.cut_plan import Copy, Reencode
from clipper.media.commands import (
    smart_concat_list,
    smart_copy_args,
    smart_encode_args,
    smart_join_args,
)
from clipper.media.encoder_match import EncoderMatch, NoMatch, match_encoder, smart_cut_blocker
from clipper.media.info import AudioStream, MediaInfo, VideoStream

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
H264 = VideoStream(
    index=0, codec="h264", width=1920, height=1080, fps=30000 / 1001, time_base="1/30000",
    pix_fmt="yuv420p", profile="High", rotation=0, has_b_frames=2, level=40,
    field_order="progressive", refs=4, color_range="tv", color_space="bt709",
    color_transfer="bt709", color_primaries="bt709", sample_aspect_ratio="1:1",
)  # fmt: skip
HEVC10 = replace(
    H264, codec="hevc", profile="Main 10", pix_fmt="yuv420p10le", level=153, refs=1,
    color_space="bt2020nc", color_transfer="arib-std-b67", color_primaries="bt2020",
)  # fmt: skip
VP9 = replace(H264, codec="vp9", profile="Profile 0", level=-99, color_transfer=None,
              color_primaries=None, has_b_frames=0)  # fmt: skip
FRAME = 1001 / 30000
GLOBAL = [
    "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
    "-progress", "pipe:1", "-y",
]  # fmt: skip
BT709 = [
    "-color_range", "tv", "-colorspace", "bt709", "-color_trc", "bt709",
    "-color_primaries", "bt709",
]  # fmt: skip


def matched(video: VideoStream, delay: float = 2 * FRAME, fmt: str = MP4) -> EncoderMatch:
    result = match_encoder(video, fmt, delay)
    assert isinstance(result, EncoderMatch), result
    return result


def test_h264_high_with_b_pyramid() -> None:
    result = matched(H264)
    assert (result.family, result.encoder, result.reorder_frames) == ("h264", "libx264", 2)
    assert list(result.options) == [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-x264-params", "bframes=3:b-pyramid=normal:ref=4:level=4",
        *BT709,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("delay", "params"),
    [
        (0.0, "bframes=0"),
        (FRAME, "bframes=3:b-pyramid=none"),
        (2 * FRAME, "bframes=3:b-pyramid=normal"),
        (5 * FRAME, "bframes=3:b-pyramid=normal"),
        # A hair under one frame (a rounded timestamp) is still one frame.
        (FRAME - 0.001, "bframes=3:b-pyramid=none"),
    ],
)
def test_b_frames_only_as_far_as_the_source_delay_allows(delay: float, params: str) -> None:
    options = matched(replace(H264, refs=None, level=None), delay).options
    assert options[options.index("-x264-params") + 1] == params


def test_baseline_never_gets_b_frames() -> None:
    result = matched(replace(H264, profile="Constrained Baseline", level=31, refs=None))
    assert result.reorder_frames == 0
    options = list(result.options)
    assert options[options.index("-profile:v") + 1] == "baseline"
    assert options[options.index("-x264-params") + 1] == "bframes=0:level=3.1"


def test_h264_10_bit_and_unknown_colours() -> None:
    video = replace(H264, profile="High 10", pix_fmt="yuv420p10le", color_range=None,
                    color_space=None, color_transfer=None, color_primaries=None)  # fmt: skip
    options = list(matched(video).options)
    assert options[options.index("-profile:v") + 1 :][:3] == ["high10", "-pix_fmt", "yuv420p10le"]
    assert "-colorspace" not in options


def test_hevc_main10_hlg() -> None:
    result = matched(HEVC10, FRAME)
    assert (result.family, result.encoder, result.reorder_frames) == ("hevc", "libx265", 1)
    assert list(result.options) == [
        "-c:v", "libx265", "-preset", "superfast", "-crf", "20", "-profile:v", "main10",
        "-pix_fmt", "yuv420p10le", "-x265-params",
        "bframes=3:b-pyramid=0:open-gop=0:repeat-headers=1:log-level=error:level-idc=5.1",
        "-color_range", "tv", "-colorspace", "bt2020nc", "-color_trc", "arib-std-b67",
        "-color_primaries", "bt2020",
    ]  # fmt: skip


def test_vp9() -> None:
    result = matched(VP9, fmt="matroska,webm")
    assert (result.family, result.encoder, result.reorder_frames) == ("vp9", "libvpx-vp9", 0)
    assert list(result.options) == [
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "6", "-crf", "24", "-b:v", "0",
        "-row-mt", "1", "-profile:v", "0", "-pix_fmt", "yuv420p",
        "-color_range", "tv", "-colorspace", "bt709",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("video", "fmt", "reason"),
    [
        (replace(H264, codec="mpeg2video"), MP4, "cannot continue a mpeg2video stream"),
        (replace(H264, field_order="tt"), MP4, "interlaced"),
        (replace(H264, profile="High 4:4:4 Predictive", pix_fmt="yuv444p"), MP4,
         "profile High 4:4:4 Predictive"),
        (replace(H264, profile="High", pix_fmt="yuv420p10le"), MP4, "High in yuv420p10le"),
        (replace(HEVC10, profile="Rext", pix_fmt="yuv422p10le"), MP4, "profile Rext"),
        (replace(VP9, profile="Profile 1", pix_fmt="yuv444p"), MP4, "profile Profile 1"),
        (replace(H264, profile=None), MP4, "profile unknown"),
        (H264, "mpegts", "not mpegts"),
        (H264, "avi", "not avi"),
    ],
)  # fmt: skip
def test_what_cannot_be_continued(video: VideoStream, fmt: str, reason: str) -> None:
    blocker = smart_cut_blocker(video, fmt)
    assert blocker is not None and reason in blocker
    result = match_encoder(video, fmt, 0.0)
    assert isinstance(result, NoMatch) and result.reason == blocker


def test_mkv_and_webm_sources_are_fine() -> None:
    assert smart_cut_blocker(H264, "matroska,webm") is None


AAC = AudioStream(index=1, codec="aac", channels=2, sample_rate=48000, language="eng", default=True)
PCM = AudioStream(index=2, codec="pcm_s16le", channels=1, sample_rate=48000, language=None,
                  default=False)  # fmt: skip
INFO = MediaInfo(
    duration_sec=60.0, start_time=1.0, format_name=MP4, bit_rate=None, video=H264,
    audio=(AAC, PCM),
)  # fmt: skip
HEAD = Reencode(start=4.2, end=5.0, frames=24, seek=4.18, dts_delay=2 * FRAME)


def test_encode_args_h264_piece() -> None:
    argv = smart_encode_args("/in/a.mp4", "/w/head.ts", HEAD, INFO, matched(H264, FRAME))
    assert argv == [
        *GLOBAL, "-copyts", "-noautorotate", "-ss", "3.180000", "-i", "file:/in/a.mp4",
        "-map", "0:0", "-frames:v", "24",
        *matched(H264, FRAME).options,
        "-fps_mode", "passthrough", "-map_metadata", "-1", "-avoid_negative_ts", "disabled",
        "-enc_time_base:v", "1:90000",
        "-bsf:v", "setts=pts=PTS:dts=DTS-STARTDTS+STARTPTS-6006",
        "-mpegts_flags", "+initial_discontinuity", "-f", "mpegts", "file:/w/head.ts",
    ]  # fmt: skip


def test_encode_args_vp9_piece_keeps_the_source_time_base() -> None:
    info = replace(INFO, video=VP9, format_name="matroska,webm", start_time=0.0)
    argv = smart_encode_args("/in/a.webm", "/w/tail.mkv", HEAD, info, matched(VP9))
    assert argv[-7:] == [
        "-avoid_negative_ts", "disabled", "-enc_time_base:v", "-1",
        "-f", "matroska", "file:/w/tail.mkv",
    ]  # fmt: skip
    assert "setts" not in " ".join(argv)


def test_copy_args_closed_gop() -> None:
    copy = Copy(key=6.0, until=20.0, split_at=5.98, split_until=19.98, drop_leading=False)
    argv = smart_copy_args("/in/a.mp4", [("/w/copy0.%d.ts", copy)], INFO, "h264")
    assert argv == [
        *GLOBAL, "-copyts", "-ss", "4.980000", "-i", "file:/in/a.mp4",
        "-map", "0:0", "-c:v", "copy", "-to", "21.000000",
        "-avoid_negative_ts", "disabled", "-f", "segment", "-write_empty_segments", "1",
        "-segment_times", "5.980000,19.980000", "-segment_format", "mpegts",
        "-segment_format_options",
        "avoid_negative_ts=disabled:mpegts_flags=+initial_discontinuity",
        "file:/w/copy0.%d.ts",
    ]  # fmt: skip


def test_copy_args_open_gop_drops_the_leading_pictures_of_the_first_gop_only() -> None:
    first = Copy(key=6.0, until=8.0, split_at=5.98, split_until=7.98, drop_leading=True)
    rest = Copy(key=8.0, until=None, split_at=7.98, split_until=None, drop_leading=False)
    argv = smart_copy_args("/in/a.mkv", [("/w/c0.%d.ts", first), ("/w/c1.%d.ts", rest)],
                           replace(INFO, start_time=0.0), "hevc")  # fmt: skip
    outputs = " ".join(argv).split("-map 0:0 ")[1:]
    assert outputs[0].startswith("-c:v copy -bsf:v filter_units=remove_types=6|7|8|9 -to 9.000000 ")
    assert "-segment_times 5.980000,7.980000 " in outputs[0]
    assert outputs[1].startswith("-c:v copy -avoid_negative_ts disabled ")
    assert "-segment_times 7.980000 " in outputs[1] and "-to" not in outputs[1]
    assert argv[argv.index("-ss") + 1] == "5.980000"


def test_concat_lists() -> None:
    pieces = [("/w/head.ts", 4.2), ("/w/copy0.1.ts", 5.0), ("/w/tail.ts", 20.0)]
    assert smart_concat_list("h264", pieces) == (
        "file:/w/head.ts\nfile:/w/copy0.1.ts\nfile:/w/tail.ts\n"
    )
    mkv = [("/w/it's/head.mkv", 4.2), ("/w/it's/copy0.1.mkv", 5.0), ("/w/it's/tail.mkv", 20.0)]
    assert smart_concat_list("vp9", mkv) == (
        "ffconcat version 1.0\n"
        "file 'file:/w/it'\\''s/head.mkv'\nduration 0.800000\n"
        "file 'file:/w/it'\\''s/copy0.1.mkv'\nduration 15.000000\n"
        "file 'file:/w/it'\\''s/tail.mkv'\n"
    )


def test_join_args_h264_with_audio_and_rotation() -> None:
    info = replace(INFO, video=replace(H264, rotation=90))
    argv = smart_join_args("/in/a.mp4", "/w/pieces.txt", "/out/.c.mp4.part", 4.2, 25.0, info,
                           "h264")  # fmt: skip
    assert argv == [
        *GLOBAL, "-f", "mpegts", "-i", "concatf:file:/w/pieces.txt",
        "-ss", "3.200000", "-i", "file:/in/a.mp4",
        "-map", "0:v:0", "-map", "1:1", "-map", "1:2",
        "-c:v", "copy", "-bsf:v", "filter_units=remove_types=9",
        "-c:a:0", "copy", "-metadata:s:a:0", "language=eng", "-c:a:1", "aac", "-b:a:1", "96k",
        "-metadata:s:v:0", "rotate=270",
        "-t", "20.800000", "-map_metadata", "-1", "-map_chapters", "-1",
        "-movflags", "+faststart", "-f", "mp4", "file:/out/.c.mp4.part",
    ]  # fmt: skip


def test_join_args_hevc_is_tagged_for_apple_and_vp9_uses_the_concat_demuxer() -> None:
    silent = replace(INFO, audio=())
    hevc = smart_join_args("/in/a.mkv", "/w/p.txt", "/out/c.mp4", 4.2, 25.0, silent, "hevc")
    assert hevc[hevc.index("-c:v") :][:6] == [
        "-c:v", "copy", "-bsf:v", "filter_units=remove_types=35", "-tag:v", "hvc1",
    ]  # fmt: skip
    assert hevc.count("-i") == 1
    vp9 = smart_join_args("/in/a.webm", "/w/p.txt", "/out/c.mp4", 4.2, 25.0, silent, "vp9")
    assert vp9[len(GLOBAL) :][:7] == ["-f", "concat", "-safe", "0", "-i", "file:/w/p.txt", "-map"]
    assert "-bsf:v" not in vp9
