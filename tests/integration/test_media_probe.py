"""probe() and keyframe_at_or_before() on real files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clipper.errors import ClipperError, ErrorCode
from clipper.media.commands import escape_filter_arg
from clipper.media.probe import keyframe_at_or_before, probe
from tests.media import keyframe_times, make_video

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


async def test_probe_mp4(media: Path) -> None:
    src = make_video(media / "a.mp4", duration=6)
    info = await probe(str(src))
    assert info.duration_sec == pytest.approx(6.0, abs=0.05)
    assert info.video is not None
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 320, 240)
    assert info.video.fps == 25.0
    assert info.video.has_b_frames > 0
    assert [a.codec for a in info.audio] == ["aac"]


async def test_probe_a_name_ffmpeg_would_misread(media: Path) -> None:
    odd = media / "-i x: it's [1], a;b.mp4"
    shutil.copyfile(make_video(media / "a.mp4", duration=6), odd)
    info = await probe(str(odd))
    assert info.has_video


async def test_text_file_is_unsupported(media: Path) -> None:
    text = media / "secret-name.txt"
    text.write_text("hello world, this is not a video\n" * 200)
    with pytest.raises(ClipperError) as caught:
        await probe(str(text))
    assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA
    assert "secret-name" not in str(caught.value) + str(caught.value.details)


async def test_short_text_and_disguised_text_are_unsupported(media: Path) -> None:
    for name in ("short.txt", "fake.mp4", "fake.mkv"):
        path = media / name
        path.write_text("hello\n")
        with pytest.raises(ClipperError) as caught:
            await probe(str(path))
        assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA, name


async def test_image_is_unsupported(media: Path) -> None:
    image = media / "still.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=32x24", "-frames:v", "1",
         str(image)],
        check=True,
    )  # fmt: skip
    with pytest.raises(ClipperError) as caught:
        await probe(str(image))
    assert caught.value.code is ErrorCode.UNSUPPORTED_MEDIA


async def test_missing_file(media: Path) -> None:
    with pytest.raises(ClipperError) as caught:
        await probe(str(media / "gone.mp4"))
    assert caught.value.code is ErrorCode.SOURCE_UNAVAILABLE


async def test_audio_with_cover_art_has_no_video(media: Path) -> None:
    cover = media / "cover.png"
    song = media / "song.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=32x24", "-frames:v", "1",
         str(cover)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", "-i", str(cover),
         "-map", "0", "-map", "1", "-c:v", "copy", "-disposition:v", "attached_pic", str(song)],
        check=True,
    )  # fmt: skip
    info = await probe(str(song))
    assert info.video is None
    assert [a.codec for a in info.audio] == ["mp3"]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
async def test_keyframe_at_or_before_matches_a_full_scan(media: Path, suffix: str) -> None:
    # The .mkv's timestamps start at 10 s: results stay on the file's own timeline.
    offset = ("-output_ts_offset", "10") if suffix == ".mkv" else ()
    src = make_video(media / f"k{suffix}", duration=9, gop_sec=2.0, extra_args=offset)
    info = await probe(str(src))
    keyframes = keyframe_times(src)
    assert len(keyframes) == 5
    base = keyframes[0]
    for t in (base, base + 0.5, base + 1.999, base + 2.0, base + 7.3, base + 20.0):
        expected = max(k for k in keyframes if k <= t + 1e-6)
        assert await keyframe_at_or_before(str(src), t, info=info) == pytest.approx(expected)
    assert await keyframe_at_or_before(str(src), info.start_time, info=info) == base


async def test_escaped_filter_argument_reaches_ffmpeg_intact(media: Path) -> None:
    # A subtitles path with every character the two escaping levels care about.
    folder = media / "it's a:b, [c];d"
    folder.mkdir()
    srt = folder / "x'y.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    argv = [
        "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "color=size=64x48:d=0.2",
        "-vf", f"subtitles=filename={escape_filter_arg(str(srt))}", "-f", "null", "-",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
