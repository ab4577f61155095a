"""`clipper clip`: the service's engine on local files, no server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ffprobe import frame_md5, probe

pytestmark = pytest.mark.integration


def clipper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clipper.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_clip_writes_the_clip_and_prints_the_receipt(source_10s: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    done = clipper(
        "clip",
        str(source_10s),
        "--start",
        "0:03.3",
        "--end",
        "7",
        "-o",
        str(out),
        "--mode",
        "fast",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["mode"] == "fast"
    assert receipt["actual_start"] == pytest.approx(2.0, abs=0.02)
    assert out.stat().st_size == receipt["bytes"]
    assert frame_md5(out) == frame_md5(source_10s, at=receipt["actual_start"])


def test_default_mode_is_accurate_and_readable(source_10s: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    done = clipper("clip", str(source_10s), "--start", "2.5", "--end", "00:00:04.5", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "mode       accurate" in done.stdout
    assert float(probe(out)["format"]["duration"]) == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--start", "5", "--end", "3"], "INVALID_RANGE"),
        (["--start", "1", "--end", "99"], "RANGE_OUTSIDE_SOURCE"),
        (["--start", "x", "--end", "3"], "INVALID_TIMECODE"),
    ],
)
def test_bad_requests_say_why(
    source_10s: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    done = clipper("clip", str(source_10s), *args, "-o", str(tmp_path / "x.mp4"))
    assert done.returncode == 1
    assert words in done.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_missing_and_non_media_sources(tmp_path: Path) -> None:
    missing = clipper(
        "clip",
        str(tmp_path / "nope.mp4"),
        "--start",
        "0",
        "--end",
        "1",
        "-o",
        str(tmp_path / "o.mp4"),
    )
    assert missing.returncode == 1 and "SOURCE_UNAVAILABLE" in missing.stderr
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    bad = clipper("clip", str(text), "--start", "0", "--end", "1", "-o", str(tmp_path / "o.mp4"))
    assert bad.returncode == 1 and "UNSUPPORTED_MEDIA" in bad.stderr
