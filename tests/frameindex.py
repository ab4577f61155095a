"""Media that knows where it is: every video frame shows its own index, the audio has marks.

A clip of such a source can be measured instead of eyeballed. Decoding it tells which source
frames it starts and ends with, whether any frame is shown twice or lost, and where the audio
marks fall relative to the frames they were recorded with.

The video code is a row of 14 cells over a moving testsrc2 background, in the top-left corner
of the picture as it is displayed. Each cell is a white-over-black or black-over-white pair: a
bit is read by comparing its two halves, so no absolute threshold is needed and a lossy
encoder, a range conversion or a brightness shift cannot flip it. The first and last cells are
fixed guards (1 and 0), the twelve between them the frame number `n` of the generating graph,
most significant bit first. `n` counts source frames, so on a variable-frame-rate source the
index is the frame's position, not its time.

Frames are read as a player shows them (decoders autorotate), so a rotated source that was
made upright-on-display reads in orientation 0. The reader also tries the three other quarter
turns and reports which one matched: a clip that shows sideways is measured, not unreadable.

The audio marks are 30 ms tone bursts at a fixed, non-periodic schedule per track (track 0
at 1 kHz, track 1 at 2 kHz, at other times), over a faint 220 Hz hum so the codec always
has something to encode. Non-periodic so that an audio track shifted by a whole number of
seconds (a GOP's worth, say) cannot line up with the wrong marks.

Synchronous on purpose, like tests/media.py. numpy is not available: frames and samples are
read with plain bytes and array indexing, which is quick enough for test-sized media.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import re
import statistics
import subprocess
import tempfile
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# --- the video code ----------------------------------------------------------------------

CODE_BITS = 12
CODE_CELLS = CODE_BITS + 2  # a guard cell (1) before the bits, one (0) after them
MAX_INDEX = 2**CODE_BITS - 1
# Cells are 1/15 of the picture's shorter side: 16 px at 240, 72 px at 1080. The code then
# spans 14/15 of a portrait picture's width plus the margin, and stays inside it.
CELL_FRACTION = 1 / 15
# Minimum difference (of 255) between the two halves of a cell for its bit to count.
MIN_CONTRAST = 48


def code_geometry(width: int, height: int) -> tuple[float, float]:
    """(cell size, margin) in pixels of the code in an upright picture of this size."""
    cell = min(width, height) * CELL_FRACTION
    return cell, cell / 2


def frame_index_filter(
    width: int, height: int, rate: str, *, label: str = "v", background: str = "testsrc2"
) -> str:
    """A filtergraph (for `-filter_complex`) whose output `[label]` shows each frame's index.

    `rate` is ffmpeg's rate syntax ("25", "30000/1001"). The code is drawn at 14x2 pixels by
    `geq` and scaled up with nearest-neighbour, which costs nothing next to evaluating an
    expression for every pixel of the full picture.
    """
    cell, margin = code_geometry(width, height)
    cell_px, margin_px = round(cell), round(margin)
    last = CODE_CELLS - 1
    # Column X holds bit (CODE_BITS - X) of N; row 0 the bit, row 1 its complement.
    bit = f"if(eq(X,0),1,if(eq(X,{last}),0,mod(floor(N/pow(2,{CODE_BITS}-X)),2)))"
    lum = f"255*if(eq(Y,0),{bit},1-{bit})"
    return (
        f"{background}=size={width}x{height}:rate={rate}[bg];"
        f"color=c=black:size={CODE_CELLS}x2:rate={rate},format=gray,geq=lum='{lum}',"
        f"scale={CODE_CELLS * cell_px}:{2 * cell_px}:flags=neighbor,format=yuv420p[code];"
        f"[bg][code]overlay=x={margin_px}:y={margin_px}:shortest=1:format=yuv420,"
        f"format=yuv420p[{label}]"
    )


def _rotated(x: float, y: float, up_w: int, up_h: int, rotation: int) -> tuple[int, int]:
    """Where upright pixel (x, y) lands in a frame showing the upright picture turned
    `rotation` degrees clockwise."""
    if rotation == 0:
        fx, fy = x, y
    elif rotation == 90:
        fx, fy = up_h - 1 - y, x
    elif rotation == 180:
        fx, fy = up_w - 1 - x, up_h - 1 - y
    elif rotation == 270:
        fx, fy = y, up_w - 1 - x
    else:
        raise ValueError(f"rotation must be a quarter turn, not {rotation}")
    return int(fx), int(fy)


def decode_index(
    gray: bytes | bytearray | memoryview, width: int, height: int, rotation: int = 0
) -> int | None:
    """The index shown by one 8-bit gray frame, reading the code turned by `rotation`
    (clockwise degrees); None when the code is not there or not legible."""
    up_w, up_h = (height, width) if rotation in (90, 270) else (width, height)
    cell, margin = code_geometry(up_w, up_h)
    if margin + CODE_CELLS * cell > up_w or margin + 2 * cell > up_h:
        return None
    # A 4x4 grid over the middle 40% of each cell: away from the edges, where scaling and
    # block artifacts blur the code into its neighbours.
    offsets = [cell * (0.3 + 0.4 * k / 3) for k in range(4)]
    value = 0
    for column in range(CODE_CELLS):
        halves = []
        for row in (0, 1):
            x0, y0 = margin + column * cell, margin + row * cell
            total = 0
            for dy in offsets:
                for dx in offsets:
                    fx, fy = _rotated(x0 + dx, y0 + dy, up_w, up_h, rotation)
                    total += gray[fy * width + fx]
            halves.append(total / 16)
        top, bottom = halves
        if abs(top - bottom) < MIN_CONTRAST:
            return None
        bit = 1 if top > bottom else 0
        if column in (0, CODE_CELLS - 1):
            # The guards, 1 then 0: a code read backwards or from the wrong spot fails here.
            if bit != (column == 0):
                return None
        else:
            value = value * 2 + bit
    return value


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its presentation time, the index it shows, and how it was turned."""

    time: float  # seconds, on the file's timeline (ffmpeg's: zero at the format start time)
    index: int | None  # None: the code could not be read
    rotation: int | None  # clockwise degrees the code appeared turned by; None if unread
    key: bool  # the decoder flagged it a keyframe
    width: int
    height: int


# --- the audio marks ---------------------------------------------------------------------

MARK_FREQUENCIES = (1000, 2000)
MARK_SEC = 0.03
MARK_AMPLITUDE = 0.5
HUM = "0.02*sin(2*PI*220*t)"
# A sample this loud is part of a mark: far above the hum, well under the burst's peak.
MARK_THRESHOLD = 0.2
# Quiet needed before an onset: a burst the clip cut into must not count as a mark.
MARK_QUIET_SEC = 0.02
_SLOT_SEC = 1.0


def _mark_offset(slot: int, track: int) -> float:
    # A hash picks each mark's place in its 1 s slot (0.1-0.7 s in, on 50 ms steps): marks
    # 0.4-1.6 s apart with no period, so no whole-second shift lines them up again. Track 1
    # sits 25 ms off track 0's grid, so swapped tracks cannot pass for each other either.
    h = int.from_bytes(hashlib.sha256(f"{track}:{slot}".encode()).digest()[:4], "big")
    return 0.1 + 0.025 * track + 0.05 * (h % 13)


def mark_schedule(duration: float, track: int = 0) -> list[float]:
    """The times (s from the start of the generated audio) at which track `track` has marks.

    Whole milliseconds, so each falls on an exact sample at 48 kHz (track 0 also at
    44.1 kHz), and on whole periods of the track's tone.
    """
    times = []
    for slot in range(math.ceil(duration / _SLOT_SEC)):
        t = round(slot * _SLOT_SEC + _mark_offset(slot, track), 6)
        if t + MARK_SEC <= duration:
            times.append(t)
    return times


def audio_marks_filter(
    duration: float,
    *,
    track: int = 0,
    sample_rate: int = 48000,
    frame_size: int = 1024,
    label: str = "a",
) -> str:
    """A filtergraph whose output `[label]` is mono audio with the marks of `track`.

    `frame_size` must be the encoder's (AAC 1024, Opus 960, MP3 1152): ffmpeg 5.1 does not
    regroup the samples of a `-filter_complex` output for encoders with a fixed frame size.
    """
    freq = MARK_FREQUENCIES[track % len(MARK_FREQUENCIES)]
    gates = "+".join(
        f"between(t,{t:.6f},{t + MARK_SEC:.6f})" for t in mark_schedule(duration, track)
    )
    # Marks fall on whole periods of the tone (1 kHz on 50 ms steps, 2 kHz on 25 ms), so
    # each burst starts at phase 0: its onset is a rising zero crossing, right on the mark.
    expr = f"{HUM}+{MARK_AMPLITUDE}*sin(2*PI*{freq}*t)*({gates or 0})"
    return f"aevalsrc='{expr}':s={sample_rate}:n={frame_size}:d={duration}[{label}]"


@dataclass(frozen=True)
class AudioTrack:
    start: float  # time of the first sample, on the file's timeline
    sample_rate: int
    samples: array  # type: ignore[type-arg]  # mono float32, the track's first channel

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration


def find_onsets(
    samples: Sequence[float],
    sample_rate: int,
    *,
    threshold: float = MARK_THRESHOLD,
    quiet_sec: float = MARK_QUIET_SEC,
    hold_sec: float = MARK_SEC * 2,
) -> list[float]:
    """Seconds from the first sample to each burst onset: the first loud sample after at
    least `quiet_sec` of quiet. A burst that is already sounding at the first sample, or
    starts within `quiet_sec` of it, is not an onset we can time and is skipped."""
    block = max(1, sample_rate // 1000)
    quiet_needed = round(quiet_sec * sample_rate)
    hold = round(hold_sec * sample_rate)
    onsets: list[float] = []
    quiet_since = 0  # first sample of the current quiet run
    i, n = 0, len(samples)
    while i < n:
        chunk = samples[i : i + block]
        if max(chunk) < threshold and -min(chunk) < threshold:
            i += block
            continue
        j = i
        while abs(samples[j]) < threshold:
            j += 1
        if j - quiet_since >= quiet_needed:
            onsets.append(j / sample_rate)
        # Skip the burst, then find where the quiet after it begins.
        j += hold
        while j < n and abs(samples[j]) >= threshold:
            j += 1
        i = quiet_since = j
    return onsets


# --- decoding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    frames: tuple[Frame, ...]  # the first video stream, in presentation order
    audio: tuple[AudioTrack, ...]  # the audio streams asked for, in order
    errors: tuple[str, ...]  # what ffmpeg reported at error level or worse


_LEVEL = re.compile(r"\[(?:error|fatal|panic)\] ")


def streams(path: str | Path) -> tuple[bool, int]:
    """Whether `path` has a video stream (not cover art), and how many audio streams."""
    argv = [
        "ffprobe", "-v", "error", "-show_entries",
        "stream=codec_type:stream_disposition=attached_pic", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    kinds = [line.strip().split(",") for line in out.splitlines() if line.strip()]
    video = any(k[0] == "video" and k[-1] != "1" for k in kinds)
    return video, sum(1 for k in kinds if k[0] == "audio")


def decode(
    path: str | Path,
    *,
    video: bool = True,
    audio: Sequence[int] | None = None,
    sample_rate: int = 48000,
) -> Decoded:
    """Decode the first video stream and the audio streams `audio` (all when None) of
    `path` in one ffmpeg run, on ffmpeg's timeline for the file: zero at its format start
    time, the same for video and audio. Video is decoded as a player shows it (rotated by
    its display matrix); audio is the first channel of each stream, at `sample_rate`."""
    has_video, audio_count = streams(path)
    tracks = list(range(audio_count) if audio is None else audio)
    video = video and has_video
    # showinfo/ashowinfo log each frame's pts (and size): the raw outputs carry neither.
    # Filters are named by their position in the whole graph, which tells the logs apart.
    chains, names, position = [], [], 0
    if video:
        # Big pictures are shrunk by a whole factor towards 240 lines first: the code scales
        # with the picture, and piping 2 MB frames costs more than the decoding.
        shrink = "max(1,floor(min(iw,ih)/240))"
        chains.append(
            f"[0:v:0]scale=w='trunc(iw/{shrink})':h='trunc(ih/{shrink})':flags=area,"
            "format=gray,showinfo[v]"
        )
        position += 3
    for n in tracks:
        chains.append(f"[0:a:{n}]ashowinfo,pan=mono|c0=c0,aresample={sample_rate}[a{n}]")
        names.append(f"Parsed_ashowinfo_{position}")
        position += 3
    if not chains:
        raise ValueError(f"{path}: nothing to decode")

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
        argv = [
            "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
            "-i", str(path), "-filter_complex", ";".join(chains),
        ]  # fmt: skip
        if video:
            # Without passthrough the rawvideo muxer makes the stream constant-rate by
            # repeating and dropping frames: exactly what is being measured.
            argv += ["-map", "[v]", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]
        raw = [Path(tmp, f"a{n}.f32") for n in tracks]
        for n, file in zip(tracks, raw, strict=True):
            argv += ["-map", f"[a{n}]", "-c:a", "pcm_f32le", "-f", "f32le", str(file)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
        assert proc.stdout is not None
        data = proc.stdout.read()
        returncode = proc.wait(timeout=120)
        log.seek(0)
        text = log.read().decode(errors="replace")
        if returncode != 0:
            raise RuntimeError(f"ffmpeg could not decode {path}: {text[-2000:]}")
        audio_tracks = tuple(
            _audio_track(text, name, file.read_bytes(), sample_rate, path)
            for name, file in zip(names, raw, strict=True)
        )
    frames = _frames(text, data, path) if video else ()
    errors = tuple(line for line in text.splitlines() if _LEVEL.search(line))
    return Decoded(frames, audio_tracks, errors)


_SHOWINFO_TB = re.compile(
    r"Parsed_showinfo_2 @ \S+\] (?:\[info\] )?config in time_base: (\d+)/(\d+)"
)
_SHOWINFO = re.compile(
    r"Parsed_showinfo_2 @ \S+\] (?:\[info\] )?n:\s*(\d+) pts:\s*(-?\d+) pts_time:(\S+).*?"
    r" s:(\d+)x(\d+) .*?iskey:(\d)"
)


def _frames(text: str, data: bytes, path: str | Path) -> tuple[Frame, ...]:
    tb = _SHOWINFO_TB.search(text)
    frames: list[Frame] = []
    offset = 0
    for match in _SHOWINFO.finditer(text):
        pts, width, height = int(match.group(2)), int(match.group(4)), int(match.group(5))
        gray = memoryview(data)[offset : offset + width * height]
        offset += width * height
        index, rotation = None, None
        for turn in (0, 90, 180, 270):
            index = decode_index(gray, width, height, turn)
            if index is not None:
                rotation = turn
                break
        time = pts * int(tb.group(1)) / int(tb.group(2)) if tb else float(match.group(3))
        frames.append(Frame(time, index, rotation, match.group(6) == "1", width, height))
    if offset != len(data):
        raise RuntimeError(f"{path}: {len(data) - offset} bytes of video without a showinfo line")
    return tuple(frames)


def _audio_track(
    text: str, name: str, data: bytes, sample_rate: int, path: str | Path
) -> AudioTrack:
    # The first decoded frame's pts places the raw samples, which carry no time. ashowinfo
    # runs before resampling; its pts_time has six significant digits: microseconds here.
    pattern = rf"{name} @ \S+\] (?:\[info\] )?n:0 pts:(-?\d+) pts_time:(\S+)"
    first = re.search(pattern, text)
    if first is None:
        raise RuntimeError(f"{path}: an audio stream decoded to nothing")
    samples = array("f")
    samples.frombytes(data[: len(data) // 4 * 4])
    return AudioTrack(float(first.group(2)), sample_rate, samples)


def read_frames(path: str | Path) -> list[Frame]:
    """Every frame of the first video stream, as a player shows it, in presentation order."""
    return list(decode(path, audio=()).frames)


def read_frame_indices(path: str | Path) -> list[int | None]:
    """The index each decoded frame shows, in presentation order (None: illegible)."""
    return [frame.index for frame in read_frames(path)]


def read_audio(path: str | Path, stream: int = 0, sample_rate: int = 48000) -> AudioTrack:
    """The first channel of audio stream `stream` (0-based among the audio streams)."""
    [track] = decode(path, video=False, audio=(stream,), sample_rate=sample_rate).audio
    return track


def audio_mark_times(path: str | Path, stream: int = 0) -> list[float]:
    """Onsets of the marks in audio stream `stream`, on the file's timeline (the one whose
    zero is the format start time, as the frames of `read_frames` are)."""
    track = read_audio(path, stream)
    return [track.start + t for t in find_onsets(track.samples, track.sample_rate)]


def decode_errors(path: str | Path) -> list[str]:
    """What ffmpeg reports at error level while demuxing and decoding every stream."""
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-i", str(path), "-map", "0", "-f", "null", "-",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0 and not lines:
        lines.append(f"ffmpeg exited with status {result.returncode}")
    return lines


# --- measuring a clip against its source --------------------------------------------------

_EPS = 1e-4  # pts are exact to far better than this; frames are >= 16 ms apart
# A clip mark further than this from every source mark matched nothing: audio from
# elsewhere, or a shift beyond what the schedule can tell apart.
_MATCH_SEC = 0.3


@dataclass(frozen=True)
class SourceTruth:
    """A source as measured: when each frame index is shown, and where its marks are."""

    frame_times: tuple[float, ...]  # presentation time of frame index i, file timeline
    keyframes: frozenset[int]  # indices the decoder flagged as keyframes
    end_time: float  # end of the last frame (its time plus the interval before it)
    marks: tuple[tuple[float, ...], ...]  # per audio track, on the same timeline
    audio_starts: tuple[float, ...]  # per audio track: time of its first sample

    def first_frame_at(self, start: float) -> int:
        """The frame on screen at `start`: the last one shown at or before it."""
        return max(0, bisect.bisect_right(self.frame_times, start + _EPS) - 1)

    def last_frame_before(self, end: float) -> int:
        """The frame on screen just before `end`: the last one shown before it."""
        return max(0, bisect.bisect_left(self.frame_times, end - _EPS) - 1)

    def frame_end(self, index: int) -> float:
        """When frame `index` stops being shown."""
        if index + 1 < len(self.frame_times):
            return self.frame_times[index + 1]
        return self.end_time

    def keyframe_at_or_before(self, index: int) -> int | None:
        return max((k for k in self.keyframes if k <= index), default=None)

    @property
    def frame_interval(self) -> float:
        """The median distance between frames: what "one frame" means on this source."""
        times = self.frame_times
        if len(times) < 2:
            return 0.04
        return statistics.median(b - a for a, b in itertools.pairwise(times))


def read_truth(path: str | Path) -> SourceTruth:
    """Measure a source made with `frame_index_filter`; raises if its frames are not the
    indices 0..N-1 in order, since nothing measured against it would mean anything then."""
    decoded = decode(path)
    frames = decoded.frames
    indices = [f.index for f in frames]
    if indices != list(range(len(frames))):
        bad = next(i for i, x in enumerate(indices) if x != i)
        raise RuntimeError(f"{path}: frame {bad} shows {indices[bad]}, not {bad}")
    times = tuple(f.time for f in frames)
    step = times[-1] - times[-2] if len(times) > 1 else 0.04
    return SourceTruth(
        frame_times=times,
        keyframes=frozenset(i for i, f in enumerate(frames) if f.key),
        end_time=times[-1] + step if times else 0.0,
        marks=tuple(
            tuple(t.start + o for o in find_onsets(t.samples, t.sample_rate)) for t in decoded.audio
        ),
        audio_starts=tuple(t.start for t in decoded.audio),
    )


@dataclass(frozen=True)
class Continuity:
    duplicated: int  # frames showing the same index as the frame before them
    missing: int  # indices skipped between consecutive frames
    out_of_order: int  # frames showing a lower index than the frame before them


def continuity(indices: Sequence[int]) -> Continuity:
    pairs = list(itertools.pairwise(indices))
    return Continuity(
        duplicated=sum(1 for a, b in pairs if b == a),
        missing=sum(b - a - 1 for a, b in pairs if b > a + 1),
        out_of_order=sum(1 for a, b in pairs if b < a),
    )


@dataclass(frozen=True)
class TrackSync:
    """How one audio track of a clip lines up with the clip's video."""

    found: int  # marks found in the clip's track
    expected: int  # source marks well inside the span the track covers
    missing: int  # of those, how many no clip mark matched
    offsets_ms: tuple[float, ...]  # per matched mark: audio time minus video time, in ms
    unmatched: int  # clip marks near no source mark

    @property
    def worst_ms(self) -> float | None:
        return max(self.offsets_ms, key=abs) if self.offsets_ms else None


def track_sync(
    clip_marks: Sequence[float],
    source_marks: Sequence[float],
    origin: float,
    audio_span: tuple[float, float],
) -> TrackSync:
    """Line the marks of a clip's track up with the source's.

    `origin` is the source time of the clip's zero as its video shows it; `audio_span` the
    source times the clip's track covers. A clip mark at `c` should be the source mark at
    `c + origin`; how far it is from it is the A/V offset at that moment.
    """
    offsets, matched = [], set()
    for mark in clip_marks:
        at = mark + origin
        nearest = min(source_marks, key=lambda m: abs(m - at), default=None)
        if nearest is not None and abs(at - nearest) <= _MATCH_SEC:
            offsets.append((at - nearest) * 1000)
            matched.add(nearest)
    lo, hi = audio_span
    # Marks the clip's audio covers with room to spare: quiet before them, the whole burst.
    inside = [m for m in source_marks if lo + 2 * MARK_QUIET_SEC <= m <= hi - 2 * MARK_SEC]
    return TrackSync(
        found=len(clip_marks),
        expected=len(inside),
        missing=sum(1 for m in inside if m not in matched),
        offsets_ms=tuple(offsets),
        unmatched=len(clip_marks) - len(offsets),
    )


@dataclass(frozen=True)
class ClipMeasurement:
    requested_start: float
    requested_end: float
    expected_first: int
    expected_last: int
    first: int | None  # index shown by the clip's first legible frame
    last: int | None
    frames: int
    unreadable: int  # frames whose code could not be read
    rotations: tuple[int, ...]  # orientations the code was read in (0: as in the source)
    duplicated: int
    missing: int
    out_of_order: int
    # Source time of the clip's first frame, and when its last frame ends, by their indices.
    source_start: float | None
    source_end: float | None
    # Largest distance (ms) between a frame's time in the clip and the source time of the
    # index it shows, once the clip's zero is lined up: is the video's timing preserved.
    timing_error_ms: float
    frame_interval: float  # one frame of the source, in seconds
    tracks: tuple[TrackSync, ...]
    decode_errors: tuple[str, ...] = ()

    @property
    def start_error_frames(self) -> int | None:
        return None if self.first is None else self.first - self.expected_first

    @property
    def end_error_frames(self) -> int | None:
        return None if self.last is None else self.last - self.expected_last

    @property
    def av_offset_ms(self) -> float | None:
        """The worst audio-against-video offset over all tracks (positive: audio late)."""
        worst = [w for t in self.tracks if (w := t.worst_ms) is not None]
        return max(worst, key=abs) if worst else None

    @property
    def marks_missing(self) -> int:
        return sum(t.missing + t.unmatched for t in self.tracks)

    def row(self, **columns: object) -> dict[str, object]:
        """This measurement as a table row, after any `columns` given (source, mode...)."""

        def opt(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)

        tracks = self.tracks

        return {
            **columns,
            "request (s)": f"{self.requested_start:.3f}-{self.requested_end:.3f}",
            "first/exp": f"{self.first}/{self.expected_first}",
            "start err (fr)": opt(self.start_error_frames, "+d"),
            "last/exp": f"{self.last}/{self.expected_last}",
            "end err (fr)": opt(self.end_error_frames, "+d"),
            "A/V (ms)": opt(self.av_offset_ms, "+.1f"),
            "marks hit:need": "/".join(f"{t.found - t.unmatched}:{t.expected}" for t in tracks)
            or "-",
            "dup": self.duplicated,
            "miss": self.missing,
            "unread": self.unreadable,
            "timing (ms)": f"{self.timing_error_ms:.1f}",
            "decode errors": len(self.decode_errors),
        }


def measure_clip(
    clip: str | Path,
    truth: SourceTruth,
    requested_start: float,
    requested_end: float,
) -> ClipMeasurement:
    """Measure `clip`, cut from the source `truth` describes over [start, end) (seconds on
    the source's timeline, zero at its format start time)."""
    decoded = decode(clip)
    frames = decoded.frames
    known = len(truth.frame_times)
    readable = [f for f in frames if f.index is not None and f.index < known]
    indices = [f.index for f in readable if f.index is not None]
    flow = continuity(indices)

    # Each index's first appearance says where the clip's zero is on the source timeline;
    # they agree unless the cut changed the video's timing. Repeats are left out: a frame
    # shown again later says nothing about when it should have appeared.
    shifts = [
        truth.frame_times[i] - f.time
        for n, (i, f) in enumerate(zip(indices, readable, strict=True))
        if n == 0 or indices[n - 1] != i
    ]
    origin = statistics.median(shifts) if shifts else 0.0
    timing = max((abs(s - origin) for s in shifts), default=0.0) * 1000

    tracks = []
    for n, source_marks in enumerate(truth.marks):
        if n >= len(decoded.audio):
            tracks.append(TrackSync(0, len(source_marks), len(source_marks), (), 0))
            continue
        audio = decoded.audio[n]
        clip_marks = [audio.start + t for t in find_onsets(audio.samples, audio.sample_rate)]
        span = (audio.start + origin, audio.end + origin)
        tracks.append(track_sync(clip_marks, source_marks, origin, span))

    first = indices[0] if indices else None
    last = indices[-1] if indices else None
    return ClipMeasurement(
        requested_start=requested_start,
        requested_end=requested_end,
        expected_first=truth.first_frame_at(requested_start),
        expected_last=truth.last_frame_before(requested_end),
        first=first,
        last=last,
        frames=len(frames),
        unreadable=len(frames) - len(readable),
        rotations=tuple(sorted({f.rotation for f in readable if f.rotation is not None})),
        duplicated=flow.duplicated,
        missing=flow.missing,
        out_of_order=flow.out_of_order,
        source_start=truth.frame_times[first] if first is not None else None,
        source_end=truth.frame_end(last) if last is not None else None,
        timing_error_ms=timing,
        frame_interval=truth.frame_interval,
        tracks=tuple(tracks),
        decode_errors=decoded.errors,
    )


def markdown_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows (dicts with the same keys, in column order) as a GitHub markdown table."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])
