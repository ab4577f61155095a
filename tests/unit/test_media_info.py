"""parse_ffprobe on ffprobe 5.1 output captured from real files (noise fields dropped)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from temporalio.converter import DataConverter

from clipper.errors import ClipperError, ErrorCode
from clipper.media.info import AudioStream, CutReceipt, MediaInfo, VideoStream, parse_ffprobe

# ffprobe 5.1 on a.mp4
MP4: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "h264",
            "profile": "Constrained Baseline",
            "codec_type": "video",
            "width": 320,
            "height": 240,
            "has_b_frames": 0,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/12800",
            "start_time": "0.000000",
            "duration": "4.000000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und"},
        },
        {
            "index": 1,
            "codec_name": "aac",
            "profile": "LC",
            "codec_type": "audio",
            "sample_rate": "48000",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/48000",
            "start_time": "0.000000",
            "duration": "4.000000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und"},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "start_time": "0.000000",
        "duration": "4.000000",
        "bit_rate": "812500",
    },
}

# ffprobe 5.1 on multi.mkv
MKV_OFFSET_TWO_AUDIO: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "h264",
            "profile": "Constrained Baseline",
            "codec_type": "video",
            "width": 320,
            "height": 240,
            "has_b_frames": 0,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/1000",
            "start_time": "10.000000",
            "disposition": {"default": 0, "attached_pic": 0},
        },
        {
            "index": 1,
            "codec_name": "aac",
            "profile": "LC",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/1000",
            "start_time": "9.977000",
            "disposition": {"default": 0, "attached_pic": 0},
            "tags": {"language": "eng"},
        },
        {
            "index": 2,
            "codec_name": "aac",
            "profile": "LC",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/1000",
            "start_time": "9.977000",
            "disposition": {"default": 0, "attached_pic": 0},
            "tags": {"language": "fra"},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "matroska,webm",
        "start_time": "9.977000",
        "duration": "13.000000",
        "bit_rate": "197193",
    },
}

# ffprobe 5.1 on rot.mp4
MP4_ROTATED: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "h264",
            "profile": "Constrained Baseline",
            "codec_type": "video",
            "width": 320,
            "height": 240,
            "has_b_frames": 0,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/12800",
            "start_time": "0.000000",
            "duration": "4.000000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und"},
            "side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}],
        },
        {
            "index": 1,
            "codec_name": "aac",
            "profile": "LC",
            "codec_type": "audio",
            "sample_rate": "48000",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/48000",
            "start_time": "0.000000",
            "duration": "4.000000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und"},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "start_time": "0.000000",
        "duration": "4.000000",
        "bit_rate": "812500",
    },
}

# ffprobe 5.1 on p.png
PNG: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "png",
            "codec_type": "video",
            "width": 32,
            "height": 24,
            "has_b_frames": 0,
            "pix_fmt": "rgb24",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/25",
            "disposition": {"default": 0, "attached_pic": 0},
        }
    ],
    "format": {"filename": "input", "format_name": "png_pipe"},
}

# ffprobe 5.1 on long.txt
TEXT_AS_TTY: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "ansi",
            "codec_type": "video",
            "width": 640,
            "height": 400,
            "has_b_frames": 0,
            "pix_fmt": "pal8",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/25",
            "start_time": "0.000000",
            "duration": "0.840000",
            "disposition": {"default": 0, "attached_pic": 0},
        }
    ],
    "format": {
        "filename": "input",
        "format_name": "tty",
        "start_time": "0.000000",
        "duration": "0.840000",
        "bit_rate": "47628",
    },
}

# ffprobe 5.1 on cover.mp3
MP3_WITH_COVER: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "mp3",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/14112000",
            "start_time": "0.025057",
            "duration": "2.037551",
            "disposition": {"default": 0, "attached_pic": 0},
        },
        {
            "index": 1,
            "codec_name": "png",
            "codec_type": "video",
            "width": 64,
            "height": 48,
            "has_b_frames": 0,
            "pix_fmt": "rgb24",
            "r_frame_rate": "90000/1",
            "avg_frame_rate": "0/0",
            "time_base": "1/90000",
            "start_time": "0.025056",
            "duration": "2.037556",
            "disposition": {"default": 0, "attached_pic": 1},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "mp3",
        "start_time": "0.025056",
        "duration": "2.037551",
        "bit_rate": "67155",
    },
}

# ffprobe 5.1 on tc.mov
MOV_TIMECODE_PCM: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "h264",
            "profile": "Constrained Baseline",
            "codec_type": "video",
            "width": 320,
            "height": 240,
            "has_b_frames": 0,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "30000/1001",
            "avg_frame_rate": "30000/1001",
            "time_base": "1/30000",
            "start_time": "0.000000",
            "duration": "2.002000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"timecode": "01:00:00:00"},
        },
        {
            "index": 1,
            "codec_name": "pcm_s16le",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/44100",
            "start_time": "0.000000",
            "duration": "2.000000",
            "disposition": {"default": 1, "attached_pic": 0},
        },
        {
            "index": 2,
            "codec_type": "data",
            "r_frame_rate": "0/0",
            "avg_frame_rate": "30000/1001",
            "time_base": "1/30000",
            "start_time": "0.000000",
            "duration": "2.002000",
            "disposition": {"default": 0, "attached_pic": 0},
            "tags": {"language": "eng", "timecode": "01:00:00:00"},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "start_time": "0.000000",
        "duration": "2.002000",
        "bit_rate": "1501458",
    },
}

# ffprobe 5.1 on smoke/c.webm
WEBM_NEGATIVE_START: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "vp9",
            "profile": "Profile 0",
            "codec_type": "video",
            "width": 320,
            "height": 240,
            "has_b_frames": 0,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "time_base": "1/1000",
            "start_time": "0.007000",
            "disposition": {"default": 0, "attached_pic": 0},
        },
        {
            "index": 1,
            "codec_name": "opus",
            "codec_type": "audio",
            "sample_rate": "48000",
            "channels": 1,
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "time_base": "1/1000",
            "start_time": "-0.007000",
            "disposition": {"default": 0, "attached_pic": 0},
        },
    ],
    "format": {
        "filename": "input",
        "format_name": "matroska,webm",
        "start_time": "-0.007000",
        "duration": "6.008000",
        "bit_rate": "363699",
    },
}


def _with_video(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["streams"][0].update(changes)
    return doc


def _without_durations(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for part in [doc["format"], *doc["streams"]]:
        part.pop("duration", None)
    return doc


def test_mp4_h264_aac() -> None:
    info = parse_ffprobe(MP4)
    assert info == MediaInfo(
        duration_sec=4.0,
        start_time=0.0,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        bit_rate=812500,
        video=VideoStream(
            index=0,
            codec="h264",
            width=320,
            height=240,
            fps=25.0,
            time_base="1/12800",
            pix_fmt="yuv420p",
            profile="Constrained Baseline",
            rotation=0,
            has_b_frames=0,
            start_time=0.0,
            duration_sec=4.0,
        ),
        audio=(
            AudioStream(
                index=1, codec="aac", channels=1, sample_rate=48000, language=None, default=True
            ),
        ),
    )
    assert info.has_video and info.has_audio
    assert info.video_end_sec == 4.0


def test_mkv_with_offset_timestamps_and_two_languages() -> None:
    info = parse_ffprobe(MKV_OFFSET_TWO_AUDIO)
    assert info.start_time == pytest.approx(9.977)
    assert info.duration_sec == 13.0
    assert info.video is not None
    assert info.video.start_time == 10.0
    assert info.video.duration_sec is None  # Matroska keeps stream durations in tags only
    assert info.video_end_sec == 13.0
    assert [(a.index, a.language, a.default) for a in info.audio] == [
        (1, "eng", False),
        (2, "fra", False),
    ]


def test_display_matrix_rotation_is_clockwise() -> None:
    # ffprobe reports the matrix angle counter-clockwise; ffmpeg autorotates this file by a
    # quarter turn counter-clockwise, i.e. 270 degrees clockwise.
    info = parse_ffprobe(MP4_ROTATED)
    assert info.video is not None
    assert info.video.rotation == 270
    assert (info.video.display_width, info.video.display_height) == (240, 320)


@pytest.mark.parametrize(
    ("side_rotation", "expected"), [(-90, 90), (90, 270), (180, 180), (-180, 180), (0, 0)]
)
def test_rotation_angles(side_rotation: int, expected: int) -> None:
    side = [{"side_data_type": "Display Matrix", "rotation": side_rotation}]
    info = parse_ffprobe(_with_video(MP4, side_data_list=side))
    assert info.video is not None
    assert info.video.rotation == expected


def test_legacy_rotate_tag() -> None:
    # What ffprobe before 5.0 printed for a portrait phone video.
    info = parse_ffprobe(_with_video(MP4, tags={"rotate": "90", "language": "und"}))
    assert info.video is not None
    assert info.video.rotation == 90
    assert (info.video.display_width, info.video.display_height) == (240, 320)


def test_variable_frame_rate_prefers_average_rate() -> None:
    info = parse_ffprobe(_with_video(MP4, avg_frame_rate="2997/100", r_frame_rate="30/1"))
    assert info.video is not None
    assert info.video.fps == pytest.approx(29.97)
    unknown = parse_ffprobe(_with_video(MP4, avg_frame_rate="0/0", r_frame_rate="0/0"))
    assert unknown.video is not None
    assert unknown.video.fps == 0.0


def test_cover_art_is_not_video() -> None:
    info = parse_ffprobe(MP3_WITH_COVER)
    assert info.video is None
    assert not info.has_video
    assert [a.codec for a in info.audio] == ["mp3"]


def test_data_stream_ignored_and_pcm_audio_kept() -> None:
    info = parse_ffprobe(MOV_TIMECODE_PCM)
    assert info.video is not None
    assert info.video.fps == pytest.approx(29.97, abs=0.001)
    assert [(a.index, a.codec) for a in info.audio] == [(1, "pcm_s16le")]


def test_negative_start_time() -> None:
    info = parse_ffprobe(WEBM_NEGATIVE_START)
    assert info.start_time == pytest.approx(-0.007)
    assert info.video is not None
    assert info.video.codec == "vp9"
    assert info.audio[0].codec == "opus"


@pytest.mark.parametrize(
    "doc",
    [
        PNG,
        TEXT_AS_TTY,
        {"streams": [], "format": {"format_name": "mp3", "duration": "1.0"}},
        {
            "streams": [{"index": 0, "codec_type": "subtitle", "codec_name": "subrip"}],
            "format": {"format_name": "srt", "duration": "10.0"},
        },
        _without_durations(MP4),
        {"format": {"format_name": "jpeg_pipe"}, "streams": [{"index": 0, "codec_type": "video"}]},
        {},
    ],
    ids=["png", "text", "no-streams", "subtitles-only", "no-duration", "jpeg", "empty"],
)
def test_unsupported(doc: dict[str, Any]) -> None:
    with pytest.raises(ClipperError) as caught:
        parse_ffprobe(doc)
    assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA


def test_na_values() -> None:
    doc = copy.deepcopy(MP4)
    doc["format"]["bit_rate"] = "N/A"
    doc["format"]["start_time"] = "N/A"
    doc["streams"][0]["duration"] = "N/A"
    info = parse_ffprobe(doc)
    assert info.bit_rate is None
    assert info.start_time == 0.0
    assert info.video is not None
    assert info.video.duration_sec is None


@pytest.mark.parametrize("doc", [MP4, MKV_OFFSET_TWO_AUDIO, MP3_WITH_COVER, MP4_ROTATED])
async def test_round_trips_through_temporal_default_converter(doc: dict[str, Any]) -> None:
    info = parse_ffprobe(doc)
    converter = DataConverter.default
    payloads = await converter.encode([info])
    [decoded] = await converter.decode(payloads, [MediaInfo])
    assert decoded == info
    assert isinstance(decoded.audio, tuple)


async def test_cut_receipt_round_trips_through_temporal_default_converter() -> None:
    receipt = CutReceipt(
        mode="fast",
        requested_start=3.1,
        requested_end=5.3,
        actual_start=2.0,
        actual_end=5.4,
        reencoded_sec=0.0,
        copied_sec=3.4,
        fallback_reason=None,
        duration_sec=3.44,
        bytes=158947,
    )
    converter = DataConverter.default
    [decoded] = await converter.decode(await converter.encode([receipt]), [CutReceipt])
    assert decoded == receipt
