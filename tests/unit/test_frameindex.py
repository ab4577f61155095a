"""The measuring harness's pure parts: the frame code, the mark finder, the frame rules.

What needs ffmpeg (the sources read back as generated, a plain re-encode measured exact, a
bad clip measured bad) is in tests/integration/test_cut_accuracy.py.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from tests.frameindex import (
    CODE_BITS,
    CODE_CELLS,
    MARK_AMPLITUDE,
    MARK_QUIET_SEC,
    MARK_SEC,
    SourceTruth,
    code_geometry,
    continuity,
    decode_index,
    find_onsets,
    mark_schedule,
    markdown_table,
    track_sync,
)
from tests.sources import SOURCES, SourceSpec, frame_count, frame_time


def draw(index: int, width: int, height: int, *, seed: int = 1) -> bytearray:
    """An upright gray picture with `index` coded as frame_index_filter draws it, over noise."""
    rng = random.Random(seed)
    frame = bytearray(rng.randrange(40, 216) for _ in range(width * height))
    cell, margin = code_geometry(width, height)
    bits = [1, *((index >> (CODE_BITS - 1 - k)) & 1 for k in range(CODE_BITS)), 0]
    for column, bit in enumerate(bits):
        for row, value in ((0, bit), (1, 1 - bit)):
            x0 = round(margin + column * cell)
            y0 = round(margin + row * cell)
            for y in range(y0, round(margin + (row + 1) * cell)):
                for x in range(x0, round(margin + (column + 1) * cell)):
                    frame[y * width + x] = 255 * value
    return frame


def turn(frame: bytearray, width: int, height: int, degrees: int) -> tuple[bytearray, int, int]:
    """`frame` turned clockwise by a multiple of 90 degrees, and its new size."""
    for _ in range(degrees // 90 % 4):
        out = bytearray(len(frame))
        # Clockwise: the new row y is the old column y, read from the bottom up.
        for y in range(height):
            for x in range(width):
                out[x * height + (height - 1 - y)] = frame[y * width + x]
        frame, width, height = out, height, width
    return frame, width, height


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (480, 270)])
@pytest.mark.parametrize("index", [0, 1, 1234, 2**CODE_BITS - 1])
def test_code_reads_back(size: tuple[int, int], index: int) -> None:
    width, height = size
    assert decode_index(draw(index, width, height), width, height) == index


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_code_reads_back_turned_and_only_in_its_orientation(degrees: int) -> None:
    frame, width, height = turn(draw(777, 240, 320), 240, 320, degrees)
    assert decode_index(frame, width, height, degrees) == 777
    for other in {0, 90, 180, 270} - {degrees}:
        assert decode_index(frame, width, height, other) is None


def test_code_survives_limited_range_and_noise() -> None:
    rng = random.Random(7)
    frame = draw(2049, 320, 240)
    # Studio range (16-235) as a re-encode may leave it, plus coding noise.
    squeezed = bytearray(
        max(0, min(255, 16 + v * 219 // 255 + rng.randrange(-20, 21))) for v in frame
    )
    assert decode_index(squeezed, 320, 240) == 2049


def test_no_code_reads_as_none() -> None:
    flat = bytearray([128] * 320 * 240)
    assert decode_index(flat, 320, 240) is None
    noise = bytearray(random.Random(3).randrange(256) for _ in range(320 * 240))
    assert decode_index(noise, 320, 240) is None
    # The code, washed out to a few levels of contrast: not legible, not guessed.
    faint = bytearray(120 + v // 32 for v in draw(5, 320, 240))
    assert decode_index(faint, 320, 240) is None


def test_code_fits_the_narrowest_picture() -> None:
    cell, margin = code_geometry(240, 320)
    assert cell >= 16
    assert margin + CODE_CELLS * cell <= 240


def tone(
    onsets: list[float], *, duration: float, rate: int = 48000, freq: int = 1000
) -> list[float]:
    """Hum plus a MARK_SEC burst at each onset, as audio_marks_filter makes them."""
    out = []
    for n in range(round(duration * rate)):
        t = n / rate
        burst = any(o <= t <= o + MARK_SEC for o in onsets)
        value = 0.02 * math.sin(2 * math.pi * 220 * t)
        if burst:
            value += MARK_AMPLITUDE * math.sin(2 * math.pi * freq * t)
        out.append(value)
    return out


def test_onsets_are_found_to_the_sample() -> None:
    marks = [0.25, 0.6, 1.05]
    found = find_onsets(tone(marks, duration=1.2), 48000)
    assert len(found) == len(marks)
    # The first loud sample comes a fraction of a tone period after the onset.
    assert all(0 <= f - m < 0.0002 for f, m in zip(found, marks, strict=True))


def test_a_burst_the_audio_starts_inside_of_is_not_an_onset() -> None:
    samples = tone([0.0, 0.5], duration=0.7)
    # Audio that starts 10 ms into a burst, or just before one: neither can be timed.
    assert find_onsets(samples[480:], 48000) == pytest.approx([0.49], abs=2e-4)
    quiet = round(MARK_QUIET_SEC * 48000) // 2
    assert find_onsets(samples[24000 - quiet :], 48000) == []


def test_hum_alone_has_no_onsets() -> None:
    assert find_onsets(tone([], duration=0.5), 48000) == []


@pytest.mark.parametrize("track", [0, 1])
def test_mark_schedule(track: int) -> None:
    marks = mark_schedule(30, track)
    assert len(marks) == 30
    assert all(m + MARK_SEC <= 30 for m in marks)
    # Whole periods of the tone (and exact samples at 48 kHz): each burst starts at phase 0.
    assert all(abs(m * 40 - round(m * 40)) < 1e-9 for m in marks)
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    assert min(gaps) >= 0.35
    # No shift by whole seconds lines most of the marks up with others: audio moved by a
    # GOP cannot pass for audio in sync.
    for shift in range(1, 25):
        moved = {round(m + shift, 6) for m in marks}
        assert len(moved & {round(m, 6) for m in marks}) <= len(marks) // 3


def test_tracks_have_their_own_schedules() -> None:
    assert set(mark_schedule(10, 0)).isdisjoint(mark_schedule(10, 1))


def cfr(fps: float, frames: int) -> SourceTruth:
    times = tuple(n / fps for n in range(frames))
    return SourceTruth(times, frozenset(range(0, frames, 50)), frames / fps, (), ())


def test_first_frame_is_the_one_on_screen_at_start() -> None:
    truth = cfr(25, 600)
    assert truth.first_frame_at(12.35) == 308  # 12.32-12.36 is on screen at 12.35
    assert truth.first_frame_at(4.0) == 100  # a frame that starts at `start` is on screen
    assert truth.first_frame_at(0.0) == 0


def test_last_frame_is_the_one_on_screen_just_before_end() -> None:
    truth = cfr(25, 600)
    assert truth.last_frame_before(15.05) == 376
    assert truth.last_frame_before(4.0) == 99  # the frame starting at `end` is not in
    assert truth.last_frame_before(24.0) == 599


def test_frame_rules_on_variable_frame_times() -> None:
    times = (0.0, 0.033, 0.1, 0.2, 0.21, 0.3)
    truth = SourceTruth(times, frozenset({0, 3}), 0.35, (), ())
    assert truth.first_frame_at(0.15) == 2
    assert truth.last_frame_before(0.205) == 3
    assert truth.frame_end(5) == 0.35
    assert truth.keyframe_at_or_before(2) == 0
    assert truth.keyframe_at_or_before(4) == 3
    assert truth.frame_interval == pytest.approx(0.067)


def test_continuity_counts_repeats_gaps_and_reversals() -> None:
    steady = continuity([5, 6, 7, 8])
    assert (steady.duplicated, steady.missing, steady.out_of_order) == (0, 0, 0)
    flow = continuity([1, 2, 2, 5, 4, 5])
    assert (flow.duplicated, flow.missing, flow.out_of_order) == (1, 2, 1)


def test_track_sync_measures_offsets_and_missing_marks() -> None:
    source = [1.0, 2.2, 3.1, 4.5]
    # Clip zero is source 2.0; the audio is 12 ms late; the mark at 3.1 did not come out.
    clip = [0.2 + 0.012, 2.5 + 0.012]
    sync = track_sync(clip, source, 2.0, (2.0, 5.0))
    assert sync.offsets_ms == pytest.approx((12.0, 12.0))
    assert (sync.expected, sync.missing, sync.unmatched) == (3, 1, 0)
    assert sync.worst_ms == pytest.approx(12.0)
    stray = track_sync([1.65], source, 2.0, (2.0, 5.0))  # 3.65: no source mark near it
    assert stray.unmatched == 1 and stray.offsets_ms == ()


def test_markdown_table() -> None:
    table = markdown_table([{"a": 1, "long name": "x"}, {"a": 22, "long name": "yy"}])
    assert table.splitlines() == [
        "| a  | long name |",
        "| -- | --------- |",
        "| 1  | x         |",
        "| 22 | yy        |",
    ]


@pytest.mark.parametrize(
    "spec", [s for s in SOURCES if s.vfr or s.rate != "25"], ids=lambda s: s.name
)
def test_source_frame_schedules(spec: SourceSpec) -> None:
    times = [frame_time(spec, n) for n in range(frame_count(spec))]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] < spec.duration
