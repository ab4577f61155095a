"""Clip accuracy, measured: every source shape users upload, cut in every mode.

The sources (tests/sources.py) show their frame index in every frame and carry audio marks at
known times (tests/frameindex.py), so each clip is decoded and its first and last frames, its
continuity and its A/V offset are numbers, not impressions. The bar, from the accuracy issue:
first and last frame within one frame of the request (zero is the goal), A/V offset at most
20 ms, no duplicated frames, no decode errors. The assertions are about the output only, so
they hold for any way of cutting (a full re-encode, a smart cut, ...).

Known failures are marked xfail(strict=True) with what was measured: when the cut improves,
the xfail turns into a failure that asks for the mark to be dropped.

Run with `-s` to get the measurements as a markdown table at the end of the module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clipper.errors import HTTP_STATUS, ClipperError
from clipper.media.cut import CutMode, cut_clip
from clipper.media.info import CutReceipt
from clipper.media.probe import probe
from tests.frameindex import (
    ClipMeasurement,
    SourceTruth,
    decode_errors,
    find_onsets,
    mark_schedule,
    markdown_table,
    measure_clip,
    read_audio,
    read_truth,
    track_sync,
)
from tests.sources import (
    AUDIO_ONLY,
    SOURCES,
    SourceSpec,
    frame_count,
    frame_time,
    make_source,
)

pytestmark = pytest.mark.integration

EXACT_MODES: tuple[CutMode, ...] = ("accurate", "reencode")
AV_LIMIT_MS = 20.0
# Times in receipts are microseconds, Matroska's clock is 1 ms: slack for rounding only.
ROUNDING_SEC = 0.001

# Keyed by (test id without the mode, test): why it fails today, with the numbers measured
# on ffmpeg 5.1. "fast-end" is test_fast_cut_ends_cleanly.
_HITCH = (
    "fast: the stream copy stops in decode order, so it ends on a frame whose B-frames were "
    "left out: the clip shows {0} ({1} asked as its last frame)"
)
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    ("h264_long_gop-0", "fast-end"): _HITCH.format("..., 377, 379", 376),
    ("hevc_mkv_opus", "fast-end"): _HITCH.format("..., 162, 166", 161),
    ("fps_29_97", "fast-end"): _HITCH.format("..., 133, 135, 137", 133)
    + "; the receipt's actual_end 4.5379 is before frame 137 is shown (4.5712)",
    ("fps_60", "fast-end"): _HITCH.format("..., 269, 271", 268),
    ("vfr", "fast-end"): _HITCH.format("..., 125, 127", 124)
    + "; the receipt's actual_end 5.5341 is before frame 127 is shown (5.5497)",
    ("no_audio", "fast-end"): _HITCH.format("..., 112, 114", 111),
    ("two_audio", "fast-end"): _HITCH.format("..., 112, 114", 111),
    ("vfr", "accurate"): (
        "accurate: the receipt's actual_end 5.416 is before the clip's last frame (124) is "
        "shown: 5.4247-5.4743 on the source"
    ),
}


def _id(spec: SourceSpec, n: int) -> str:
    return spec.name if len(spec.cuts) == 1 else f"{spec.name}-{n}"


def _marks(case: str, test: str) -> list[pytest.MarkDecorator]:
    reason = KNOWN_FAILURES.get((case, test))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _params(specs: tuple[SourceSpec, ...], test: str) -> list[Any]:
    return [
        pytest.param(spec, cut, id=_id(spec, n), marks=_marks(_id(spec, n), test))
        for spec in specs
        for n, cut in enumerate(spec.cuts)
    ]


# --- sources, their truth, and cuts shared between tests --------------------------------


@pytest.fixture(scope="session")
def accuracy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("accuracy")


_truths: dict[str, tuple[Path, SourceTruth]] = {}


def source(spec: SourceSpec, directory: Path) -> tuple[Path, SourceTruth]:
    """The source file of `spec` and what it measures as, read once per session."""
    if spec.name not in _truths:
        path = make_source(spec, directory / "sources")
        _truths[spec.name] = (path, read_truth(path))
    return _truths[spec.name]


@dataclass(frozen=True)
class Outcome:
    spec: SourceSpec
    mode: str
    truth: SourceTruth
    receipt: CutReceipt
    measured: ClipMeasurement

    def frame_sec(self, index: int | None) -> float:
        """How long source frame `index` is shown: "one frame" at that point of the source."""
        if index is None:
            return self.measured.frame_interval
        return self.truth.frame_end(index) - self.truth.frame_times[index]


_outcomes: dict[tuple[str, str, float, float], Outcome] = {}
_rows: list[dict[str, object]] = []


async def cut_and_measure(
    spec: SourceSpec, mode: CutMode, cut: tuple[float, float], directory: Path
) -> Outcome:
    """Cut `spec` over `cut` in `mode` as the workflow does (a probe that lists the keyframes
    before the start, then the cut), measure the clip, and remember both for other tests."""
    key = (spec.name, mode, *cut)
    if key in _outcomes:
        return _outcomes[key]
    path, truth = source(spec, directory)
    start, end = cut
    info = await probe(str(path), keyframes_near=start)
    clip = directory / "clips" / f"{spec.name}-{mode}-{start:.3f}-{end:.3f}.mp4"
    receipt = await cut_clip(str(path), clip, start, end, mode, info)
    measured = measure_clip(clip, truth, start, end)
    outcome = _outcomes[key] = Outcome(spec, mode, truth, receipt, measured)
    _rows.append(
        measured.row(
            source=spec.name,
            mode=mode,
            **{
                "rcpt start (ms)": _delta_ms(receipt.actual_start, measured.source_start),
                "rcpt end (ms)": _delta_ms(receipt.actual_end, measured.source_end),
                "re-enc/copied (s)": f"{receipt.reencoded_sec:.2f}/{receipt.copied_sec:.2f}",
                "fallback": (receipt.fallback_reason or "")[:60],
            },
        )
    )
    return outcome


def _delta_ms(claimed: float, measured: float | None) -> str:
    return "-" if measured is None else f"{(claimed - measured) * 1000:+.1f}"


@pytest.fixture(scope="module", autouse=True)
def measurement_table() -> Iterator[None]:
    yield
    if _rows:
        order = {name: n for n, name in enumerate(s.name for s in SOURCES)}
        rows = sorted(_rows, key=lambda r: (order.get(str(r["source"]), 99), str(r["mode"])))
        print("\n\nCut accuracy (frames are source frames; A/V: audio minus video)\n")
        print(markdown_table(rows))


# --- the sources are what they claim to be ------------------------------------------------


@pytest.mark.parametrize("spec", [*SOURCES, *AUDIO_ONLY], ids=lambda s: s.name)
async def test_source_reads_back_as_generated(spec: SourceSpec, accuracy_dir: Path) -> None:
    """The harness checked on the sources themselves: every index once and in order, at
    the time it was generated for, keyframes where asked, marks where they were put."""
    path, truth = source(spec, accuracy_dir)  # raises unless the indices are 0..N-1
    assert decode_errors(path) == []
    info = await probe(str(path))
    assert len(info.audio) == (spec.audio_tracks if spec.has_audio else 0)

    if spec.has_video:
        assert info.video is not None
        assert info.video.rotation == spec.rotation
        assert (info.video.display_width, info.video.display_height) == spec.size
        assert len(truth.frame_times) == frame_count(spec)
        zero = truth.frame_times[0]
        drift = [abs(t - zero - frame_time(spec, n)) for n, t in enumerate(truth.frame_times)]
        assert max(drift) < 0.001
        gop = round(spec.gop_sec * spec.fps)
        assert truth.keyframes == set(range(0, len(truth.frame_times), gop))
        for start, end in spec.cuts:
            first = truth.first_frame_at(start)
            # Not on a keyframe, and not right after one: a copy from the keyframe would show
            # frames that were not asked for, so each mode has to do its own work.
            assert first not in truth.keyframes
            assert first - 1 not in truth.keyframes
            assert truth.last_frame_before(end) + 1 not in truth.keyframes
    if not spec.faststart:
        data = path.read_bytes()
        assert 0 <= data.find(b"mdat") < data.find(b"moov")

    for track, marks in enumerate(truth.marks):
        schedule = mark_schedule(spec.duration, track)
        assert len(marks) == len(schedule)
        # Against the track's own first sample: the mark finder and decoding, nothing else.
        own = [m - truth.audio_starts[track] - s for m, s in zip(marks, schedule, strict=True)]
        assert max(map(abs, own)) < 0.002, own
        if spec.has_video:
            # Against the video: the A/V relationship the source itself has.
            zero = truth.frame_times[0]
            skew = [(m - zero - s) * 1000 for m, s in zip(marks, schedule, strict=True)]
            assert all(abs(x - spec.av_skew_ms) < 2.0 for x in skew), skew


def _ffmpeg(*args: str) -> None:
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


PLAIN = ("h264_long_gop", "vfr", "portrait_rotated", "two_audio")


@pytest.mark.parametrize("spec", [s for s in SOURCES if s.name in PLAIN], ids=lambda s: s.name)
def test_harness_measures_a_plain_reencode(spec: SourceSpec, accuracy_dir: Path) -> None:
    """ffmpeg's own decode-and-drop cut is frame-accurate at its ends; the harness agrees.

    Only the ends are asserted: with its default constant-rate output to MP4, plain ffmpeg
    repeats the first frame to fill the gap before it and moves frames onto its grid, which
    the table shows as a duplicate and an A/V offset of up to a frame.
    """
    path, truth = source(spec, accuracy_dir)
    start, end = spec.cuts[0]
    clip = accuracy_dir / "clips" / f"plain-{spec.name}.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-ss", f"{start}", "-i", str(path), "-t", f"{end - start}", "-map", "0",
            "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(clip))  # fmt: skip
    measured = measure_clip(clip, truth, start, end)
    _rows.append(measured.row(source=spec.name, mode="plain ffmpeg"))
    assert measured.start_error_frames is not None and abs(measured.start_error_frames) <= 1
    assert measured.end_error_frames is not None and abs(measured.end_error_frames) <= 1
    assert measured.unreadable == 0
    assert all(track.offsets_ms for track in measured.tracks)


def test_harness_sees_a_bad_clip(accuracy_dir: Path) -> None:
    """A clip with a frame dropped, every frame shown four times and the audio 100 ms late
    reads as exactly that."""
    spec = next(s for s in SOURCES if s.audio_tracks == 2)
    path, truth = source(spec, accuracy_dir)
    start, end = spec.cuts[0]
    clip = accuracy_dir / "clips" / "bad.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    # fps=100 repeats each 25 fps frame on its own time, without moving it.
    _ffmpeg("-ss", f"{start}", "-i", str(path), "-t", f"{end - start}", "-map", "0",
            "-vf", "select='not(eq(n,10))',fps=100", "-fps_mode", "passthrough",
            "-af", "adelay=100:all=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip))  # fmt: skip
    measured = measure_clip(clip, truth, start, end)
    assert measured.missing == 1
    assert measured.duplicated >= measured.frames * 3 // 4 - 4
    assert measured.out_of_order == 0 and measured.unreadable == 0
    assert measured.timing_error_ms < 1
    assert len(measured.tracks) == 2
    for track in measured.tracks:
        assert track.offsets_ms and all(abs(o - 100) < 2 for o in track.offsets_ms)


def test_harness_reads_a_sideways_clip(accuracy_dir: Path) -> None:
    """A clip turned a quarter too far is still measured, and says how it is turned."""
    spec = next(s for s in SOURCES if s.rotation)
    path, truth = source(spec, accuracy_dir)
    start, end = spec.cuts[0]
    clip = accuracy_dir / "clips" / "sideways.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-ss", f"{start}", "-i", str(path), "-t", f"{end - start}", "-vf", "transpose=1",
            "-an", "-c:v", "libx264", "-preset", "ultrafast", str(clip))  # fmt: skip
    measured = measure_clip(clip, truth, start, end)
    assert measured.unreadable == 0
    assert measured.rotations == (90,)
    assert abs(measured.start_error_frames or 0) <= 1


# --- the cuts -----------------------------------------------------------------------------


def _exact_params() -> list[Any]:
    return [
        pytest.param(spec, cut, mode, id=f"{_id(spec, n)}-{mode}", marks=_marks(_id(spec, n), mode))
        for spec in SOURCES
        for n, cut in enumerate(spec.cuts)
        for mode in EXACT_MODES
    ]


@pytest.mark.parametrize(("spec", "cut", "mode"), _exact_params())
async def test_exact_cut(
    spec: SourceSpec, cut: tuple[float, float], mode: CutMode, accuracy_dir: Path
) -> None:
    out = await cut_and_measure(spec, mode, cut, accuracy_dir)
    m, receipt = out.measured, out.receipt

    assert m.unreadable == 0, "frames whose index could not be read"
    assert m.rotations == (0,), "the clip does not show the way the source does"
    assert m.start_error_frames is not None and m.end_error_frames is not None
    assert abs(m.start_error_frames) <= 1, m
    assert abs(m.end_error_frames) <= 1, m
    assert m.duplicated == 0
    assert m.missing == 0
    assert m.out_of_order == 0
    assert m.decode_errors == ()
    # Frames are shown when the source shows them, relative to one another.
    assert m.timing_error_ms <= m.frame_interval * 1000 / 2

    # The receipt says what the clip holds.
    assert m.source_start is not None and m.source_end is not None
    assert abs(receipt.actual_start - m.source_start) <= out.frame_sec(m.first) + ROUNDING_SEC
    assert abs(receipt.actual_end - m.source_end) <= out.frame_sec(m.last) + ROUNDING_SEC

    _assert_audio_in_sync(out)


def _assert_audio_in_sync(out: Outcome) -> None:
    m = out.measured
    assert len(m.tracks) == (out.spec.audio_tracks if out.spec.has_audio else 0)
    for track in m.tracks:
        assert track.offsets_ms, "no audio mark to measure the A/V offset by"
        assert track.missing == 0, "source marks the clip's audio should hold are not there"
        assert track.unmatched == 0, "marks that are not where any source mark is"
    if m.tracks:
        assert m.av_offset_ms is not None and abs(m.av_offset_ms) <= AV_LIMIT_MS, m.tracks


@pytest.mark.parametrize(("spec", "cut"), _params(SOURCES, "fast"))
async def test_fast_cut(spec: SourceSpec, cut: tuple[float, float], accuracy_dir: Path) -> None:
    """A stream copy starts at the keyframe at or before the start, and says so."""
    out = await cut_and_measure(spec, "fast", cut, accuracy_dir)
    m, receipt, truth = out.measured, out.receipt, out.truth

    assert receipt.mode == "fast", receipt.fallback_reason
    assert m.unreadable == 0
    assert m.rotations == (0,)
    keyframe = truth.keyframe_at_or_before(truth.first_frame_at(cut[0]))
    assert keyframe is not None and m.first == keyframe
    assert abs(receipt.actual_start - truth.frame_times[keyframe]) <= ROUNDING_SEC
    # Nothing asked for is left out at the end either.
    assert m.end_error_frames is not None and m.end_error_frames >= 0
    assert m.decode_errors == ()
    _assert_audio_in_sync(out)


@pytest.mark.parametrize(("spec", "cut"), _params(SOURCES, "fast-end"))
async def test_fast_cut_ends_cleanly(
    spec: SourceSpec, cut: tuple[float, float], accuracy_dir: Path
) -> None:
    """Copied frames are the source's, each once, none skipped, and the receipt's end is
    while the last one is shown. A copy that ends on a frame whose B-frames were left out
    shows a hitch just before its end."""
    out = await cut_and_measure(spec, "fast", cut, accuracy_dir)
    m, receipt = out.measured, out.receipt
    assert (m.duplicated, m.missing, m.out_of_order) == (0, 0, 0)
    assert m.timing_error_ms <= m.frame_interval * 1000 / 2
    assert m.source_end is not None
    assert abs(receipt.actual_end - m.source_end) <= out.frame_sec(m.last) + ROUNDING_SEC


def _audio_only_params() -> list[Any]:
    return [
        pytest.param(spec, mode, id=f"{spec.name}-{mode}", marks=_marks(spec.name, "audio-only"))
        for spec in AUDIO_ONLY
        for mode in ("fast", *EXACT_MODES)
    ]


@pytest.mark.parametrize(("spec", "mode"), _audio_only_params())
async def test_audio_only_source(spec: SourceSpec, mode: CutMode, accuracy_dir: Path) -> None:
    """An m4a or mp3 gives an audio clip of the range asked for, or a clear 415."""
    path, truth = source(spec, accuracy_dir)
    start, end = spec.cuts[0]
    clip = accuracy_dir / "clips" / f"{spec.name}-{mode}.m4a"
    try:
        info = await probe(str(path), keyframes_near=start)
        await cut_clip(str(path), clip, start, end, mode, info)
    except ClipperError as exc:
        assert HTTP_STATUS[exc.code] == 415, f"{exc.code.value}: {exc.message}"
        return
    assert decode_errors(clip) == []
    audio = read_audio(clip)
    # With no video to line up by, the clip's zero should be the start asked for.
    marks = [audio.start + t for t in find_onsets(audio.samples, audio.sample_rate)]
    span = (start + audio.start, start + audio.end)
    sync = track_sync(marks, truth.marks[0], start, span)
    assert sync.offsets_ms and sync.missing == 0 and sync.unmatched == 0, sync
    assert all(abs(x) <= AV_LIMIT_MS for x in sync.offsets_ms), sync
    assert abs(audio.duration - (end - start)) <= AV_LIMIT_MS / 1000
