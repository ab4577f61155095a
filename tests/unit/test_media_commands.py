"""The command builders produce exactly these argument lists (no ffmpeg runs here)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from clipper.media.commands import (
    escape_filter_arg,
    escape_filter_graph,
    escape_filter_option,
    fast_copy_blocker,
    fast_cut_args,
    keyframes_args,
    media_arg,
    probe_args,
    reencode_cut_args,
    seconds,
)
from clipper.media.info import AudioStream, MediaInfo, VideoStream

VIDEO = VideoStream(
    index=0,
    codec="h264",
    width=1920,
    height=1080,
    fps=29.97,
    time_base="1/30000",
    pix_fmt="yuv420p",
    profile="High",
    rotation=0,
    has_b_frames=2,
)
AAC = AudioStream(index=1, codec="aac", channels=2, sample_rate=48000, language="eng", default=True)
INFO = MediaInfo(
    duration_sec=60.0,
    start_time=0.0,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    bit_rate=5_000_000,
    video=VIDEO,
    audio=(AAC,),
)
TAIL = [
    "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats", "-progress", "pipe:1", "-y",
]  # fmt: skip


def test_probe_args() -> None:
    assert probe_args("/data/in.mp4") == [
        "ffprobe", "-hide_banner", "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", "file:/data/in.mp4",
    ]  # fmt: skip


def test_keyframes_args_reads_a_window_only() -> None:
    assert keyframes_args("/data/in.mkv", 100.0, 30.0) == [
        "ffprobe", "-hide_banner", "-v", "error", "-select_streams", "v:0",
        "-read_intervals", "70.000000%101.000000",
        "-show_entries", "packet=pts_time,dts_time,flags",
        "-print_format", "json", "file:/data/in.mkv",
    ]  # fmt: skip


def test_keyframes_args_stream_and_bounds() -> None:
    argv = keyframes_args("in.ts", 2.5, 30.0, after_sec=0.0, stream_index=3)
    assert argv[argv.index("-select_streams") + 1] == "3"
    # Before the start of the file: ffprobe starts reading at the beginning.
    assert argv[argv.index("-read_intervals") + 1] == "-27.500000%2.500000"


def test_fast_cut_args() -> None:
    assert fast_cut_args("/data/in.mp4", "/out/clip.mp4", 12.0, 30.5, INFO) == [
        "ffmpeg", "-ss", "12.000000", "-i", "file:/data/in.mp4",
        "-map", "0:0", "-map", "0:1", "-f", "mp4",
        "-c:a:0", "copy", "-c:v", "copy",
        "-map_chapters", "-1", "-map_metadata", "-1",
        "-metadata:s:a:0", "language=eng",
        "-movflags", "+faststart", "-t", "30.500000", "file:/out/clip.mp4",
        *TAIL,
    ]  # fmt: skip


def test_fast_cut_keeps_every_audio_track_and_reencodes_what_mp4_cannot_hold() -> None:
    info = replace(
        INFO,
        video=replace(VIDEO, index=2, codec="hevc"),
        audio=(
            AudioStream(index=0, codec="flac", channels=6, sample_rate=48000, language="deu",
                        default=True),
            AudioStream(index=1, codec="opus", channels=2, sample_rate=48000, language=None,
                        default=False),
            AudioStream(index=3, codec="pcm_s16le", channels=1, sample_rate=44100,
                        language="x; rm -rf", default=False),
        ),
    )  # fmt: skip
    argv = fast_cut_args("in.mkv", "out.mp4", 0.0, 5.0, info)
    maps = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-map"]
    assert maps == ["0:2", "0:0", "0:1", "0:3"]
    options = {a: b for a, b in itertools.pairwise(argv) if a.startswith("-")}
    assert options["-c:v"] == "copy"
    assert options["-tag:v"] == "hvc1"
    assert (options["-c:a:0"], options["-b:a:0"]) == ("aac", "480k")
    assert options["-c:a:1"] == "copy" and "-b:a:1" not in options
    assert (options["-c:a:2"], options["-b:a:2"]) == ("aac", "96k")
    assert options["-metadata:s:a:0"] == "language=deu"
    # Nothing that is not a language code goes into the output's metadata.
    assert "-metadata:s:a:1" not in options and "-metadata:s:a:2" not in options


def test_fast_cut_video_only() -> None:
    argv = fast_cut_args("in.mp4", "out.mp4", 0.0, 5.0, replace(INFO, audio=()))
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-map"] == ["0:0"]


def test_reencode_cut_args() -> None:
    assert reencode_cut_args("/data/in.mp4", "/out/clip.mp4", 12.34, 5.0, INFO) == [
        "ffmpeg", "-ss", "12.340000", "-i", "file:/data/in.mp4",
        "-filter_complex", "[0:0]scale=trunc(iw/2)*2:trunc(ih/2)*2[s0]",
        "-map", "[s0]", "-map", "0:1", "-f", "mp4",
        "-b:a:0", "160k", "-c:a:0", "aac", "-c:v", "libx264", "-crf", "20",
        "-enc_time_base:v", "1:90000", "-fps_mode", "vfr",
        "-map_chapters", "-1", "-map_metadata", "-1", "-metadata:s:a:0", "language=eng",
        "-movflags", "+faststart", "-pix_fmt", "yuv420p", "-preset", "veryfast",
        "-t", "5.000000", "file:/out/clip.mp4",
        *TAIL,
    ]  # fmt: skip


def test_reencode_seeks_to_the_keyframe_and_trims_after_decoding() -> None:
    argv = reencode_cut_args("in.ts", "out.mp4", 12.34, 5.0, INFO, seek_sec=10.0)
    assert argv[:5] == ["ffmpeg", "-ss", "10.000000", "-i", "file:in.ts"]
    output_ss = argv.index("-ss", 5)
    assert argv[output_ss + 1] == "2.340000"
    assert output_ss < argv.index("file:out.mp4")


def test_reencode_without_separate_seek_when_start_is_the_keyframe() -> None:
    argv = reencode_cut_args("in.mp4", "out.mp4", 10.0, 5.0, INFO, seek_sec=10.0)
    assert argv.count("-ss") == 1


def test_builders_need_video() -> None:
    audio_only = replace(INFO, video=None)
    with pytest.raises(ValueError):
        fast_cut_args("in.mp3", "out.mp4", 0.0, 1.0, audio_only)
    with pytest.raises(ValueError):
        reencode_cut_args("in.mp3", "out.mp4", 0.0, 1.0, audio_only)


@pytest.mark.parametrize(
    ("codec", "blocked"),
    [("h264", False), ("hevc", False), ("vp9", False), ("av1", False), ("mpeg4", True),
     ("vp8", True), ("prores", True), ("mpeg2video", True)],
)  # fmt: skip
def test_fast_copy_blocker(codec: str, blocked: bool) -> None:
    reason = fast_copy_blocker(replace(INFO, video=replace(VIDEO, codec=codec)))
    assert (reason is not None) is blocked
    if reason is not None:
        assert codec in reason


def test_fast_copy_blocker_without_video() -> None:
    assert fast_copy_blocker(replace(INFO, video=None)) == "the source has no video stream"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/data/in.mp4", "file:/data/in.mp4"),
        ("-i.mp4", "file:-i.mp4"),
        ("concat:a.mp4|b.mp4", "file:concat:a.mp4|b.mp4"),
        ("file:/data/in.mp4", "file:/data/in.mp4"),
        ("https://example.com/v.mp4?a=b", "https://example.com/v.mp4?a=b"),
    ],
)
def test_media_arg(name: str, expected: str) -> None:
    assert media_arg(name) == expected


def test_seconds() -> None:
    assert seconds(1 / 3) == "0.333333"
    assert seconds(3723.5) == "3723.500000"


def test_filter_escaping() -> None:
    path = r"/tmp/it's a:b, [c];d\e.srt"
    assert escape_filter_option(path) == r"/tmp/it\'s a\:b, [c];d\\e.srt"
    assert escape_filter_graph("a,b;[c]'\\") == r"a\,b\;\[c\]\'\\"
    assert escape_filter_arg(path) == r"/tmp/it\\\'s a\\:b\, \[c\]\;d\\\\e.srt"
