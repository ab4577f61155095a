"""cut_clip with real ffmpeg on generated sources of the shapes users upload."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clipper.errors import ClipperError, ErrorCode
from clipper.media.cut import cut_clip
from clipper.media.info import CutReceipt, MediaInfo
from clipper.media.probe import probe
from tests.media import frame_times, keyframe_times, make_video, truncate

pytestmark = pytest.mark.integration

FPS = 25
FRAME = 1 / FPS


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cut")


@pytest.fixture(scope="module")
def mp4(media: Path) -> Path:
    # libx264 veryfast: B-frames, so decode order differs from presentation order.
    return make_video(media / "src.mp4", duration=10, gop_sec=2.0)


@pytest.fixture(scope="module")
def mkv_offset(media: Path) -> Path:
    # Timestamps start at ~10 s, audio before video, two audio tracks with languages.
    return make_video(
        media / "offset.mkv",
        duration=8,
        extra_args=(
            "-output_ts_offset", "10", "-map", "1:a",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        ),
    )  # fmt: skip


def streams(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: list[dict[str, Any]] = json.loads(out)["streams"]
    return result


def video_span(path: Path) -> float:
    """Seconds from the start of the file to the end of its video stream."""
    [video] = [s for s in streams(path) if s["codec_type"] == "video"]
    return float(video["start_time"]) + float(video["duration"])


def assert_copy_end(receipt: CutReceipt, end: float) -> None:
    # A stream copy stops on decode timestamps: with B-frames a few frames more than asked
    # come along. The receipt must say so rather than claim the requested end.
    assert end - FRAME <= receipt.actual_end <= end + 6 * FRAME


def moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


async def cut(
    src: Path, out: Path, start: float, end: float, mode: Any, **kwargs: Any
) -> tuple[CutReceipt, MediaInfo]:
    info = await probe(str(src))
    receipt = await cut_clip(str(src), out, start, end, mode, info, **kwargs)
    return receipt, info


@pytest.mark.parametrize(("start", "end"), [(3.1, 5.3), (0.0, 2.0), (4.0, 9.96)])
async def test_reencode_is_frame_exact(mp4: Path, media: Path, start: float, end: float) -> None:
    out = media / f"re-{start}-{end}.mp4"
    progress: list[float] = []
    receipt, _ = await cut(mp4, out, start, end, "reencode", on_progress=progress.append)
    assert receipt.mode == "reencode" and receipt.fallback_reason is None
    # Whole frames: from the one on screen at `start` to the last one starting before `end`.
    first, after_last = math.floor(start * FPS + 1e-6), math.ceil(end * FPS - 1e-6)
    assert receipt.actual_start == pytest.approx(first / FPS, abs=1e-3)
    assert receipt.actual_end == pytest.approx(after_last / FPS, abs=1e-3)
    assert receipt.reencoded_sec == pytest.approx((after_last - first) / FPS, abs=1e-3)
    assert end - start - 1e-3 <= receipt.duration_sec <= end - start + 2 * FRAME
    assert receipt.copied_sec == 0.0
    assert receipt.bytes == out.stat().st_size
    frames = frame_times(out)
    assert frames[0] == 0.0
    assert len(frames) == after_last - first
    video, audio = streams(out)
    assert (video["codec_name"], video["pix_fmt"], audio["codec_name"]) == (
        "h264",
        "yuv420p",
        "aac",
    )
    assert moov_before_mdat(out)
    assert progress[-1] == 100.0 and progress == sorted(progress)


async def test_fast_starts_at_the_keyframe_before_start(mp4: Path, media: Path) -> None:
    out = media / "fast.mp4"
    receipt, info = await cut(mp4, out, 3.1, 5.3, "fast")
    expected_start = max(k for k in keyframe_times(mp4) if k <= 3.1) - info.start_time
    assert expected_start == 2.0
    assert receipt.mode == "fast" and receipt.fallback_reason is None
    assert receipt.actual_start == pytest.approx(expected_start, abs=1e-6)
    assert_copy_end(receipt, 5.3)
    assert receipt.copied_sec == pytest.approx(receipt.actual_end - receipt.actual_start)
    assert receipt.reencoded_sec == 0.0
    # Copied, so the output's first frame is that keyframe, shown at 0.
    assert frame_times(out)[0] == pytest.approx(0.0, abs=1e-3)
    assert keyframe_times(out)[0] == pytest.approx(0.0, abs=1e-3)
    video, audio = streams(out)
    assert video["codec_name"] == "h264" and audio["codec_name"] == "aac"
    assert int(video["nb_frames"]) == round((receipt.actual_end - receipt.actual_start) * FPS)
    assert receipt.actual_end - receipt.actual_start == pytest.approx(video_span(out), abs=1e-3)
    assert moov_before_mdat(out)


async def test_fast_on_a_keyframe_copies_from_it(mp4: Path, media: Path) -> None:
    receipt, _ = await cut(mp4, media / "fast-kf.mp4", 4.0, 6.0, "fast")
    assert receipt.actual_start == 4.0
    assert_copy_end(receipt, 6.0)


@pytest.mark.parametrize("mode", ["fast", "reencode"])
async def test_source_with_offset_timestamps(mkv_offset: Path, media: Path, mode: Any) -> None:
    out = media / f"offset-{mode}.mp4"
    receipt, info = await cut(mkv_offset, out, 3.1, 5.3, mode)
    assert info.start_time > 9.9
    if mode == "fast":
        keyframe = max(k for k in keyframe_times(mkv_offset) if k <= info.start_time + 3.1)
        assert receipt.actual_start == pytest.approx(keyframe - info.start_time, abs=1e-6)
        assert frame_times(out)[0] == pytest.approx(0.0, abs=1e-3)
        assert_copy_end(receipt, 5.3)
    else:
        assert receipt.actual_start == pytest.approx(3.1, abs=FRAME)
        assert receipt.actual_end == pytest.approx(5.3, abs=FRAME)
    assert receipt.actual_end - receipt.actual_start == pytest.approx(video_span(out), abs=1e-3)
    audio = [s for s in streams(out) if s["codec_type"] == "audio"]
    assert [s["tags"]["language"] for s in audio] == ["eng", "fra"]


async def test_rotated_source(media: Path) -> None:
    src = make_video(media / "rotated.mp4", duration=4, rotate_tag=90)
    info = await probe(str(src))
    assert info.video is not None and info.video.rotation == 270

    await cut(src, media / "rot-fast.mp4", 1.0, 3.0, "fast")
    copied = await probe(str(media / "rot-fast.mp4"))
    assert copied.video is not None
    assert (copied.video.width, copied.video.height, copied.video.rotation) == (320, 240, 270)

    await cut(src, media / "rot-re.mp4", 1.0, 3.0, "reencode")
    upright = await probe(str(media / "rot-re.mp4"))
    assert upright.video is not None
    # Turned once by ffmpeg and marked upright: a player must not turn it again.
    assert (upright.video.width, upright.video.height, upright.video.rotation) == (240, 320, 0)


async def test_fast_drops_data_streams_and_reencodes_pcm(media: Path) -> None:
    src = make_video(
        media / "camera.mov",
        duration=4,
        extra_args=("-c:a", "pcm_s16le", "-timecode", "01:00:00:00"),
    )
    assert [s["codec_type"] for s in streams(src)] == ["video", "audio", "data"]
    receipt, _ = await cut(src, media / "camera.mp4", 1.0, 3.0, "fast")
    assert receipt.mode == "fast"
    kinds = [(s["codec_type"], s["codec_name"]) for s in streams(media / "camera.mp4")]
    assert kinds == [("video", "h264"), ("audio", "aac")]


async def test_odd_size_codec_mp4_cannot_copy_falls_back_to_reencode(media: Path) -> None:
    src = make_video(
        media / "odd.mkv",
        duration=3,
        codec="ffv1",
        audio=False,
        extra_args=("-vf", "scale=321:241"),
    )
    receipt, _ = await cut(src, media / "odd.mp4", 0.5, 2.5, "fast")
    assert receipt.mode == "reencode"
    assert receipt.fallback_reason == "video codec ffv1 cannot be stream-copied into MP4"
    assert receipt.actual_start == pytest.approx(0.5, abs=FRAME)
    [video] = streams(media / "odd.mp4")
    assert (video["width"], video["height"]) == (320, 240)


async def test_accurate_inside_one_gop_is_an_honest_reencode(mp4: Path, media: Path) -> None:
    # 3.1 .. 5.3 s holds no whole GOP of a 2 s GOP source: nothing can be copied.
    receipt, _ = await cut(mp4, media / "accurate.mp4", 3.1, 5.3, "accurate")
    assert receipt.mode == "accurate"
    assert receipt.fallback_reason is not None and "GOP" in receipt.fallback_reason
    # Frames 3.08 (on screen at 3.1 s) to 5.28 (on screen until 5.32 s).
    assert receipt.reencoded_sec == pytest.approx(2.24, abs=1e-3)
    assert receipt.copied_sec == 0.0


async def test_accurate_across_gops_copies_the_middle(mp4: Path, media: Path) -> None:
    receipt, _ = await cut(mp4, media / "accurate-smart.mp4", 1.3, 8.5, "accurate")
    assert receipt.mode == "accurate"
    assert receipt.fallback_reason is None
    assert receipt.copied_sec == pytest.approx(6.0, abs=FRAME)  # the GOPs at 2, 4 and 6 s
    assert receipt.reencoded_sec == pytest.approx(1.2, abs=2 * FRAME)


@pytest.mark.parametrize("mode", ["fast", "reencode"])
async def test_truncated_upload_is_source_corrupt(mp4: Path, media: Path, mode: Any) -> None:
    # moov first, so the probe still claims 10 s; the bytes of the second half are gone.
    broken = truncate(mp4, 0.5)
    info = await probe(str(broken))
    assert info.duration_sec == pytest.approx(10.0, abs=0.05)
    out = media / f"broken-{mode}.mp4"
    with pytest.raises(ClipperError) as caught:
        await cut_clip(str(broken), out, 6.0, 8.0, mode, info)
    assert caught.value.code is ErrorCode.SOURCE_CORRUPT
    assert caught.value.permanent
    assert str(media) not in f"{caught.value} {caught.value.details}"
    assert not out.exists()
    assert not list(media.glob(f".{out.name}*"))


async def test_audio_only_source(media: Path) -> None:
    song = media / "song.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", str(song)],
        check=True,
    )  # fmt: skip
    info = await probe(str(song))
    with pytest.raises(ClipperError) as caught:
        await cut_clip(str(song), media / "song.mp4", 0.0, 1.0, "fast", info)
    assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA


async def test_range_checks(mp4: Path, media: Path) -> None:
    info = await probe(str(mp4))
    for start, end, code in [
        (5.0, 5.0, ErrorCode.INVALID_RANGE),
        (-1.0, 2.0, ErrorCode.INVALID_RANGE),
        (10.5, 12.0, ErrorCode.RANGE_OUTSIDE_SOURCE),
    ]:
        with pytest.raises(ClipperError) as caught:
            await cut_clip(str(mp4), media / "range.mp4", start, end, "fast", info)
        assert caught.value.code is code


async def test_end_past_the_source_is_clamped(mp4: Path, media: Path) -> None:
    receipt, _ = await cut(mp4, media / "tail.mp4", 8.0, 60.0, "reencode")
    assert receipt.requested_end == 60.0
    assert receipt.actual_end == pytest.approx(10.0, abs=FRAME)


async def test_cancel_kills_ffmpeg_and_leaves_no_file(mp4: Path, media: Path) -> None:
    info = await probe(str(mp4))
    running = asyncio.Event()

    async def stall(percent: float) -> None:
        running.set()
        await asyncio.sleep(60)  # ffmpeg is alive, blocked on its progress pipe

    out = media / "cancelled.mp4"
    task = asyncio.create_task(cut_clip(str(mp4), out, 0.0, 9.0, "reencode", info, stall))
    await asyncio.wait_for(running.wait(), 10)
    ffmpeg = [pid for pid in _children(os.getpid()) if _comm(pid) == "ffmpeg"]
    assert len(ffmpeg) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not Path(f"/proc/{ffmpeg[0]}").exists()
    assert not out.exists()
    assert not list(media.glob(".cancelled.mp4*"))


def _children(parent: int) -> list[int]:
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            pids.append(int(entry))
    return pids


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


async def test_text_file_is_unsupported(media: Path) -> None:
    notes = media / "notes.txt"
    notes.write_text("not a video, just some words\n" * 300)
    with pytest.raises(ClipperError) as caught:
        await probe(str(notes))
    assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA
