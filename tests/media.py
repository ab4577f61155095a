"""Test media made on the spot with ffmpeg's lavfi sources: tiny, deterministic, offline.

Synchronous on purpose, so fixtures of any scope can call them. Identical requests within a
test session are encoded once and copied afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

_cache: dict[tuple[object, ...], Path] = {}


def _video_codec_args(codec: str, fps: float, gop_sec: float) -> list[str]:
    gop = max(1, round(fps * gop_sec))
    # Keyframes exactly every gop_sec: no scene-cut keyframes, no shorter GOPs.
    args = ["-c:v", codec, "-g", str(gop), "-keyint_min", str(gop)]
    if codec == "libx264":
        args += ["-preset", "veryfast", "-sc_threshold", "0", "-pix_fmt", "yuv420p"]
    elif codec == "libx265":
        args += ["-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        args += ["-x265-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error"]
    elif codec.startswith("libvpx"):
        args += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]
    return args


def make_video(
    path: str | Path,
    *,
    duration: float,
    size: str = "320x240",
    fps: float = 25,
    gop_sec: float = 2.0,
    codec: str = "libx264",
    audio: bool = True,
    faststart: bool = True,
    extra_args: Sequence[str] = (),
    rotate_tag: int = 0,
) -> Path:
    """Encode testsrc2 (and a 440 Hz sine) into `path`; the container follows its suffix.

    `rotate_tag` is written as ffmpeg's `rotate` stream tag, which the MP4 muxer turns into a
    display matrix, as phones write. (ffmpeg 5.1 writes `rotate=90` as a quarter turn
    counter-clockwise: ffprobe then says rotation=90, and MediaInfo 270.)
    """
    path = Path(path)
    key = (
        path.suffix,
        duration,
        size,
        fps,
        gop_sec,
        codec,
        audio,
        faststart,
        *extra_args,
        rotate_tag,
    )
    cached = _cache.get(key)
    if cached is not None and cached.exists():
        if cached != path:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, path)
        return path

    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}"]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    argv += ["-t", f"{duration}", "-map", "0:v"]
    if audio:
        argv += ["-map", "1:a", "-c:a", "libopus" if path.suffix == ".webm" else "aac"]
    argv += _video_codec_args(codec, fps, gop_sec)
    if faststart and path.suffix in (".mp4", ".mov", ".m4v"):
        argv += ["-movflags", "+faststart"]
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = path.with_name(f".{path.name}.enc{path.suffix}") if rotate_tag else path
    argv += [*extra_args, str(encoded)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    if rotate_tag:
        # ffmpeg 5.1 writes the rotate tag as a display matrix only when remuxing.
        remux = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"]
        remux += [
            str(encoded),
            "-map",
            "0",
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={rotate_tag}",
        ]
        subprocess.run([*remux, str(path)], check=True, capture_output=True, timeout=120)
        encoded.unlink()
    _cache[key] = path
    return path


def truncate(path: str | Path, fraction: float) -> Path:
    """A copy of `path` cut off after `fraction` of its bytes, as an interrupted upload is."""
    path = Path(path)
    data = path.read_bytes()
    out = path.with_name(f"{path.stem}.trunc{round(fraction * 100)}{path.suffix}")
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def keyframe_times(path: str | Path) -> list[float]:
    """Every video keyframe's pts_time, read by a full independent scan of the file."""
    argv = [
        "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
        "packet=pts_time,flags", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    times = []
    for line in out.splitlines():
        pts, _, flags = line.partition(",")
        if "K" in flags and pts not in ("", "N/A"):
            times.append(float(pts))
    return sorted(times)


def frame_times(path: str | Path, stream: str = "v:0") -> list[float]:
    """Presentation times of every decoded frame of `stream`."""
    argv = [
        "ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
        "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    return [float(t) for t in (line.strip().rstrip(",") for line in out.splitlines()) if t]
