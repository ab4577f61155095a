"""The accurate cut (smart cut) with real ffmpeg on small generated sources.

Each cut is checked from the outside: the output decodes without a single error, holds exactly
the source's frames of [start, end) at their own distances from the first one, starts at 0,
and most of its video packets are the source's packets, byte for byte.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from clipper.domain.cut_plan import Packet
from clipper.media import smartcut
from clipper.media.cut import cut_clip
from clipper.media.info import CutReceipt, MediaInfo
from clipper.media.probe import probe
from clipper.media.smartcut import parse_packets
from tests.ffprobe import reused_share
from tests.media import frame_times, make_video

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smartcut")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def decode_errors(path: Path) -> str:
    return run("ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-").stderr.strip()


def frame_md5s(path: Path) -> list[str]:
    # passthrough: one line per decoded frame, none duplicated or dropped for a frame rate.
    out = run(
        "ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
        "-f", "framemd5", "-",
    ).stdout  # fmt: skip
    return [line.split(",")[-1].strip() for line in out.splitlines() if line[:1].isdigit()]


def streams(path: Path) -> list[dict[str, Any]]:
    out = run("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path))
    result: list[dict[str, Any]] = json.loads(out.stdout)["streams"]
    return result


async def accurate(
    src: Path, out: Path, start: float, end: float
) -> tuple[CutReceipt, MediaInfo, list[float]]:
    info = await probe(str(src))
    progress: list[float] = []
    receipt = await cut_clip(str(src), out, start, end, "accurate", info,
                             on_progress=progress.append)  # fmt: skip
    assert progress == sorted(progress) and progress[-1] == 100.0
    return receipt, info, progress


def source_frames(src: Path, info: MediaInfo, start: float, end: float) -> list[float]:
    """pts of the source's frames shown in [start, end), on its raw timeline: from the one
    already on screen at `start` to the last one starting before `end`."""
    low, high = info.start_time + start, info.start_time + min(end, info.duration_sec)
    times = frame_times(src)
    shown = [t for t in times if t <= low + 1e-6]
    first = shown[-1] if shown else low
    return [t for t in times if first - 1e-6 <= t < high - 1e-6]


async def check_smart_cut(
    src: Path, out: Path, start: float, end: float, *, min_reused: float = 0.5
) -> CutReceipt:
    receipt, info, _ = await accurate(src, out, start, end)
    assert receipt.mode == "accurate"
    assert receipt.fallback_reason is None
    assert receipt.copied_sec > 0 and receipt.reencoded_sec > 0
    assert decode_errors(out) == ""

    expected = source_frames(src, info, start, end)
    got = frame_times(out)
    assert len(got) == len(expected)
    assert got[0] == 0.0
    # Every frame where it was relative to the first: none duplicated, dropped or moved.
    assert got == pytest.approx([t - expected[0] for t in expected], abs=6e-4)
    assert receipt.actual_start == pytest.approx(expected[0] - info.start_time, abs=1e-3)
    assert receipt.reencoded_sec + receipt.copied_sec == pytest.approx(
        receipt.actual_end - receipt.actual_start, abs=0.05
    )
    assert reused_share(src, out) >= min_reused

    kinds = Counter(s["codec_type"] for s in streams(out))
    assert kinds == Counter({"video": 1, "audio": len(info.audio)})
    for stream in streams(out):
        # Audio and video both start at the first frame: in sync.
        assert float(stream["start_time"]) == 0.0
    return receipt


def copied_frames_are_the_sources(
    src: Path, out: Path, info: MediaInfo, receipt: CutReceipt, start: float, end: float
) -> None:
    """The copied middle decodes to exactly the source's pictures, next to re-encoded ends."""
    wanted = source_frames(src, info, start, end)
    first = frame_times(src).index(wanted[0])
    src_md5 = frame_md5s(src)[first : first + len(wanted)]
    same = [a == b for a, b in zip(src_md5, frame_md5s(out), strict=True)]
    assert info.video is not None
    assert sum(same) == round(receipt.copied_sec * info.video.fps)


async def test_h264_mp4_with_b_frames(media: Path) -> None:
    src = make_video(media / "h264.mp4", duration=12, gop_sec=2.0)
    out = media / "h264-cut.mp4"
    receipt = await check_smart_cut(src, out, 3.1, 9.3)
    # Keyframes every 2 s: 3.08 (the frame on screen at 3.1)..4.0 and 8.0..9.3 re-encoded,
    # 4.0..8.0 copied.
    assert receipt.copied_sec == pytest.approx(4.0, abs=1e-6)
    assert receipt.reencoded_sec == pytest.approx(0.92 + 1.3, abs=1e-6)
    assert receipt.actual_start == pytest.approx(3.08, abs=1e-6)
    assert receipt.actual_end == pytest.approx(9.32, abs=1e-6)
    info = await probe(str(src))
    copied_frames_are_the_sources(src, out, info, receipt, 3.1, 9.3)
    [video, audio] = streams(out)
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert audio["codec_name"] == "aac"
    data = out.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # faststart


async def test_hevc_mkv_open_gop(media: Path) -> None:
    # x265's default open GOPs: the first copied keyframe's leading pictures are dropped.
    src = make_video(media / "hevc.mkv", duration=8, codec="libx265")
    out = media / "hevc-cut.mp4"
    receipt = await check_smart_cut(src, out, 1.5, 6.5)
    [video, _] = streams(out)
    assert (video["codec_name"], video["codec_tag_string"]) == ("hevc", "hvc1")
    copied_frames_are_the_sources(src, out, await probe(str(src)), receipt, 1.5, 6.5)


async def test_vp9_webm(media: Path) -> None:
    src = make_video(media / "vp9.webm", duration=8, codec="libvpx-vp9")
    out = media / "vp9-cut.mp4"
    receipt = await check_smart_cut(src, out, 1.5, 6.5)
    [video, audio] = streams(out)
    assert (video["codec_name"], audio["codec_name"]) == ("vp9", "opus")
    copied_frames_are_the_sources(src, out, await probe(str(src)), receipt, 1.5, 6.5)


async def test_rotated_mp4_keeps_its_display_matrix(media: Path) -> None:
    src = make_video(media / "rotated.mp4", duration=8, rotate_tag=90)
    out = media / "rotated-cut.mp4"
    await check_smart_cut(src, out, 1.3, 6.7)
    copied = await probe(str(out))
    # Not turned: the copied middle keeps the stored orientation, so must the ends.
    assert copied.video is not None
    assert (copied.video.width, copied.video.height, copied.video.rotation) == (320, 240, 270)


async def test_ntsc_frame_rate(media: Path) -> None:
    src = make_video(media / "ntsc.mp4", duration=8, fps=30000 / 1001)
    receipt = await check_smart_cut(src, media / "ntsc-cut.mp4", 1.3, 6.7)
    # A keyframe every 60 frames: 2.002 .. 6.006 s copied.
    assert receipt.copied_sec == pytest.approx(4.004, abs=1e-6)


async def test_variable_frame_rate(media: Path) -> None:
    src = media / "vfr.mp4"
    rates = [25, 50, 30]
    argv = ["ffmpeg", "-v", "error", "-y"]
    for rate in rates:
        argv += ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}:d=3"]
    argv += [
        "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-fps_mode", "vfr",
        "-enc_time_base:v", "1:600", "-c:v", "libx264", "-preset", "veryfast",
        "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0", str(src),
    ]  # fmt: skip
    subprocess.run(argv, check=True, timeout=120)
    await check_smart_cut(src, media / "vfr-cut.mp4", 1.3, 7.5)


async def test_mkv_with_offset_timestamps_and_two_audio_tracks(media: Path) -> None:
    src = make_video(
        media / "offset.mkv",
        duration=8,
        extra_args=("-output_ts_offset", "10", "-map", "1:a"),
    )
    receipt = await check_smart_cut(src, media / "offset-cut.mp4", 1.3, 6.7)
    assert receipt.copied_sec == pytest.approx(4.0, abs=1e-3)


async def test_long_clip_reuses_most_packets(media: Path) -> None:
    src = make_video(media / "long.mp4", duration=30, gop_sec=2.0)
    receipt = await check_smart_cut(src, media / "long-cut.mp4", 2.5, 27.5, min_reused=0.8)
    assert receipt.copied_sec == pytest.approx(22.0, abs=1e-6)


async def test_clip_to_the_end_of_the_source_copies_to_the_end(media: Path) -> None:
    src = make_video(media / "h264.mp4", duration=12, gop_sec=2.0)
    receipt, _, _ = await accurate(src, media / "to-end.mp4", 9.1, 20.0)
    assert receipt.fallback_reason is None
    assert receipt.copied_sec == pytest.approx(2.0, abs=1e-6)  # 10 .. 12: no tail
    assert receipt.requested_end == 20.0
    assert receipt.actual_end == pytest.approx(12.0, abs=1e-3)
    assert decode_errors(media / "to-end.mp4") == ""


async def test_keyframe_to_keyframe_copies_only(media: Path) -> None:
    src = make_video(media / "h264.mp4", duration=12, gop_sec=2.0)
    out = media / "kf-kf.mp4"
    receipt, _, _ = await accurate(src, out, 2.0, 8.0)
    assert receipt.reencoded_sec == 0.0
    assert receipt.copied_sec == pytest.approx(6.0)
    assert decode_errors(out) == ""
    assert reused_share(src, out) > 0.95  # all but the keyframes, which carry their headers


async def test_clip_shorter_than_a_gop_is_reencoded_with_a_reason(media: Path) -> None:
    src = make_video(media / "h264.mp4", duration=12, gop_sec=2.0)
    receipt, _, _ = await accurate(src, media / "short.mp4", 4.5, 5.5)
    assert receipt.mode == "accurate"
    assert receipt.fallback_reason is not None and "GOP" in receipt.fallback_reason
    assert receipt.copied_sec == 0.0
    # Whole frames: from the one on screen at 4.5 s to the end of the one shown at 5.5 s.
    assert 1.0 <= receipt.reencoded_sec <= 1.0 + 0.04 + 1e-3


async def test_codec_that_cannot_be_continued_is_reencoded_with_a_reason(media: Path) -> None:
    src = make_video(media / "mpeg4.mkv", duration=6, codec="mpeg4")
    receipt, _, _ = await accurate(src, media / "mpeg4-cut.mp4", 1.3, 4.7)
    assert receipt.fallback_reason == "smart cut cannot continue a mpeg4 stream"
    assert decode_errors(media / "mpeg4-cut.mp4") == ""


async def test_a_failing_smart_cut_falls_back_to_a_reencode(
    media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_join(*args: Any) -> list[str]:
        return ["ffmpeg", "-v", "error", "-i", "/nonexistent/pieces", "-f", "null", "-"]

    monkeypatch.setattr(smartcut, "smart_join_args", broken_join)
    src = make_video(media / "h264.mp4", duration=12, gop_sec=2.0)
    out = media / "broken-join.mp4"
    receipt, _, _ = await accurate(src, out, 3.1, 9.3)
    assert receipt.fallback_reason is not None
    assert receipt.fallback_reason.startswith("smart cut failed: ffmpeg failed")
    assert receipt.copied_sec == 0.0
    assert 6.2 <= receipt.reencoded_sec <= 6.2 + 0.04 + 1e-3
    assert decode_errors(out) == ""
    assert sorted(p.name for p in media.iterdir() if p.name.startswith(".broken")) == []


def test_parse_packets_skips_what_is_never_shown() -> None:
    doc = {
        "packets": [
            {"pts_time": "0.000000", "dts_time": "-0.080000", "flags": "K__"},
            {"pts_time": "0.160000", "dts_time": "N/A", "flags": "___"},
            {"pts_time": "0.120000", "dts_time": "0.000000", "flags": "__D"},
            {"pts_time": "N/A", "dts_time": "0.040000", "flags": "___"},
        ]
    }
    assert parse_packets(doc) == [Packet(0.0, -0.08, True), Packet(0.16, None, False)]
