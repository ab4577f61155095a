"""The sources every cut mode must handle, as specs, made on demand with frame-index media.

Each spec is the smallest file that still has the property that makes it hard to cut: a
long GOP with B-frames and the index at the end, a codec MP4 does not usually carry, a frame
rate that is not an integer, timestamps that are not on a grid, a display matrix. Each also
names cut points that are not keyframes, so a cut has to do more than copy a GOP.

Files are made once per test session (per spec) and copied when asked for again, as
tests/media.py does.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tests.frameindex import MAX_INDEX, audio_marks_filter, frame_index_filter

_FFMPEG = ("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    suffix: str
    duration: float
    # Video: None for audio-only sources. `size` is the picture as displayed.
    video_codec: str | None = "libx264"
    size: tuple[int, int] = (320, 240)
    rate: str = "25"  # ffmpeg rate syntax: "30000/1001"
    gop_sec: float = 2.0
    faststart: bool = True
    # Clockwise degrees a player turns the stored picture (MediaInfo.video.rotation). The
    # picture is stored turned the other way, so it displays upright, as phones do.
    rotation: int = 0
    # Frame timestamps off any fixed grid: 30 fps, then 15 fps, then ~24 fps with jitter.
    vfr: bool = False
    audio_codec: str | None = "aac"
    audio_tracks: int = 1
    sample_rate: int = 48000
    # The source's own audio offset against its video (ms, positive: audio late), as ffmpeg
    # reads it back. With Opus in Matroska/WebM, ffmpeg 5.1 reads the video back 7 ms (the
    # codec delay, on Matroska's 1 ms clock) later than the audio it was generated with.
    # Clips are measured against the source as it is, so this is not held against a cut.
    av_skew_ms: float = 0.0
    # [start, end) pairs, seconds on the source timeline, none of them on a keyframe. Each
    # holds a whole GOP (from one keyframe to the next) where the source is long enough:
    # a smart cut has a middle to copy, and a head and a tail to re-encode.
    cuts: tuple[tuple[float, float], ...] = ()

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None and self.audio_tracks > 0

    @property
    def fps(self) -> float:
        """Nominal frames per second (the generating rate; a VFR source strays from it)."""
        return float(Fraction(self.rate))


# Item 6 of the accuracy issue: every one of these must cut frame-exactly.
SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        # Keyframes at 0, 10 and 20 s; libx264 veryfast puts B-frames in; no faststart, so
        # the moov (the index) follows the media data.
        "h264_long_gop",
        ".mp4",
        duration=24,
        gop_sec=10,
        faststart=False,
        # Inside one GOP, and across a whole one with a head and a tail in the others.
        cuts=((12.35, 15.05), (8.35, 20.95)),
    ),
    SourceSpec("h264_1080p", ".mp4", duration=5, size=(1920, 1080), cuts=((1.63, 4.47),)),
    SourceSpec(
        "hevc_mkv_opus",
        ".mkv",
        duration=8,
        video_codec="libx265",
        audio_codec="libopus",
        av_skew_ms=-7.0,
        cuts=((3.63, 6.47),),
    ),
    SourceSpec(
        "vp9_webm_opus",
        ".webm",
        duration=8,
        video_codec="libvpx-vp9",
        audio_codec="libopus",
        av_skew_ms=-7.0,
        cuts=((3.63, 6.47),),
    ),
    SourceSpec("fps_29_97", ".mp4", duration=8, rate="30000/1001", cuts=((1.63, 4.47),)),
    SourceSpec("fps_60", ".mp4", duration=6, rate="60", cuts=((1.63, 4.47),)),
    # From the 30 fps stretch, over the 15 fps one, into the jittery one.
    SourceSpec("vfr", ".mp4", duration=9, rate="30", vfr=True, cuts=((1.63, 5.47),)),
    SourceSpec(
        "portrait_rotated", ".mp4", duration=8, size=(240, 320), rotation=90, cuts=((1.63, 4.47),)
    ),
    SourceSpec("no_audio", ".mp4", duration=8, audio_codec=None, cuts=((1.63, 4.47),)),
    SourceSpec("two_audio", ".mp4", duration=8, audio_tracks=2, cuts=((1.63, 4.47),)),
)

AUDIO_ONLY: tuple[SourceSpec, ...] = (
    SourceSpec("audio_m4a", ".m4a", duration=8, video_codec=None, cuts=((2.13, 4.87),)),
    SourceSpec(
        "audio_mp3",
        ".mp3",
        duration=8,
        video_codec=None,
        audio_codec="libmp3lame",
        sample_rate=44100,
        cuts=((2.13, 4.87),),
    ),
)

BY_NAME = {spec.name: spec for spec in (*SOURCES, *AUDIO_ONLY)}

# The VFR schedule: frame N's time. 0-2 s at 30 fps (60 frames), 2-4 s at 15 fps (30
# frames), then ~24 fps with 8-16 ms of jitter, as phones that throttle in low light do.
# frame_time() is the same schedule in Python.
_VFR_PTS = "if(lt(N,60),N/30,if(lt(N,90),2+(N-60)/15,4+(N-90)/24+0.008*mod(N,3)))"


def frame_time(spec: SourceSpec, n: int) -> float:
    """When frame `n` of `spec` was generated to be shown (s from the first frame)."""
    if not spec.vfr:
        return n / spec.fps
    if n < 60:
        return n / 30
    if n < 90:
        return 2 + (n - 60) / 15
    return 4 + (n - 90) / 24 + 0.008 * (n % 3)


def frame_count(spec: SourceSpec) -> int:
    if spec.vfr:
        return 90 + int((spec.duration - 4) * 24)
    return math.ceil(spec.duration * spec.fps - 1e-9)


def _video_args(spec: SourceSpec) -> list[str]:
    codec = spec.video_codec
    assert codec is not None
    gop = max(1, round(spec.fps * spec.gop_sec))
    # Keyframes exactly every gop_sec: no scene-cut keyframes, no shorter GOPs.
    args = ["-c:v", codec, "-g", str(gop), "-keyint_min", str(gop), "-pix_fmt", "yuv420p"]
    if codec == "libx264":
        # veryfast uses B-frames: decode order is not presentation order.
        args += ["-preset", "veryfast", "-sc_threshold", "0"]
    elif codec == "libx265":
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error"
        args += ["-preset", "ultrafast", "-x265-params", params]
    elif codec == "libvpx-vp9":
        args += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k", "-row-mt", "1"]
    if spec.vfr:
        # Frame times are kept as set, on a clock fine enough to hold them.
        args += ["-fps_mode", "passthrough", "-enc_time_base:v", "1:90000"]
    return args


_AUDIO_FRAME = {"libopus": 960, "libmp3lame": 1152}


def _audio_args(spec: SourceSpec, track: int) -> list[str]:
    codec = spec.audio_codec
    assert codec is not None
    args = [f"-c:a:{track}", codec]
    if codec == "libmp3lame":
        args += [f"-b:a:{track}", "128k"]
    if spec.audio_tracks > 1:
        args += [f"-metadata:s:a:{track}", f"language={('eng', 'fra', 'deu')[track % 3]}"]
    return args


def source_command(spec: SourceSpec, output: Path) -> list[str]:
    """The ffmpeg command that makes `spec` at `output` (before any display-matrix remux)."""
    if spec.has_video and frame_count(spec) > MAX_INDEX + 1:
        raise ValueError(f"{spec.name}: more frames than the frame code can number")
    graph: list[str] = []
    maps: list[str] = []
    codec_args: list[str] = []
    if spec.has_video:
        width, height = spec.size
        graph.append(frame_index_filter(width, height, spec.rate, label="v0"))
        last = "v0"
        if spec.rotation:
            # Store the picture turned against the display rotation, so it shows upright.
            turn = {90: "transpose=2", 180: "hflip,vflip", 270: "transpose=1"}[spec.rotation]
            graph.append(f"[{last}]{turn}[v1]")
            last = "v1"
        if spec.vfr:
            graph.append(f"[{last}]settb=1/90000,setpts='({_VFR_PTS})/TB'[v2]")
            last = "v2"
        maps += ["-map", f"[{last}]"]
        codec_args += _video_args(spec)
    if spec.has_audio:
        for track in range(spec.audio_tracks):
            graph.append(
                audio_marks_filter(
                    spec.duration,
                    track=track,
                    sample_rate=spec.sample_rate,
                    frame_size=_AUDIO_FRAME.get(spec.audio_codec or "", 1024),
                    label=f"a{track}",
                )
            )
            maps += ["-map", f"[a{track}]"]
            codec_args += _audio_args(spec, track)
    argv = [*_FFMPEG, "-filter_complex", ";".join(graph), *maps, *codec_args]
    argv += ["-t", str(spec.duration)]
    if spec.faststart and spec.suffix in (".mp4", ".m4a", ".mov"):
        argv += ["-movflags", "+faststart"]
    return [*argv, str(output)]


_cache: dict[SourceSpec, Path] = {}


def make_source(spec: SourceSpec, directory: str | Path) -> Path:
    """The file for `spec` in `directory` (named after the spec), made once per session."""
    path = Path(directory) / f"{spec.name}{spec.suffix}"
    cached = _cache.get(spec)
    if cached is not None and cached.exists():
        if cached != path:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = path.with_name(f".{path.name}.enc{path.suffix}") if spec.rotation else path
    subprocess.run(source_command(spec, encoded), check=True, capture_output=True, timeout=300)
    if spec.rotation:
        # ffmpeg 5.1 writes the rotate tag as a display matrix only when remuxing, and
        # reads the tag counter-clockwise: 270 is a quarter turn clockwise on display.
        tag = (360 - spec.rotation) % 360
        remux = [*_FFMPEG, "-i", str(encoded), "-map", "0", "-c", "copy"]
        remux += ["-metadata:s:v:0", f"rotate={tag}"]
        if spec.faststart:
            remux += ["-movflags", "+faststart"]
        subprocess.run([*remux, str(path)], check=True, capture_output=True, timeout=120)
        encoded.unlink()
    _cache[spec] = path
    return path
