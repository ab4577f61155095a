"""The `-progress pipe:1` parser, on output captured from ffmpeg 5.1."""

from __future__ import annotations

import pytest

from clipper.media.runner import Progress, ProgressParser, parse_progress

# ffmpeg 5.1, `-progress pipe:1` of a 2 s libx264/aac encode.
CAPTURED = """\
frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=   9.0kbits/s
total_size=48
out_time_us=42667
out_time_ms=42667
out_time=00:00:00.042667
dup_frames=0
drop_frames=0
speed=4.64x
progress=continue
frame=50
fps=0.00
stream_0_0_q=-1.0
bitrate= 328.6kbits/s
total_size=82365
out_time_us=2005333
out_time_ms=2005333
out_time=00:00:02.005333
dup_frames=0
drop_frames=0
speed=25.8x
progress=end
"""


def test_captured_blocks() -> None:
    assert parse_progress(CAPTURED.splitlines()) == [
        Progress(out_time_sec=0.042667, speed=4.64, done=False),
        Progress(out_time_sec=2.005333, speed=25.8, done=True),
    ]


def test_unknown_values_before_the_first_packet() -> None:
    block = ["out_time_us=N/A", "out_time_ms=N/A", "out_time=N/A", "speed=N/A", "progress=continue"]
    assert parse_progress(block) == [Progress(out_time_sec=0.0, speed=None, done=False)]


def test_negative_time_while_priming_is_clamped() -> None:
    block = ["out_time_us=-21333", "speed=1.0x", "progress=continue"]
    assert parse_progress(block) == [Progress(out_time_sec=0.0, speed=1.0, done=False)]


def test_unknown_time_keeps_the_last_known_one() -> None:
    lines = ["out_time_us=1500000", "progress=continue", "out_time_us=N/A", "progress=end"]
    assert [p.out_time_sec for p in parse_progress(lines)] == [1.5, 1.5]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # Older builds write only out_time_ms, which holds microseconds all the same.
        (["out_time_ms=3000000", "progress=continue"], 3.0),
        (["out_time=01:02:03.500000", "progress=continue"], 3723.5),
        (["out_time=-00:00:00.021333", "progress=continue"], 0.0),
        # out_time_us wins when both are present, whatever the order.
        (["out_time=00:00:09.000000", "out_time_us=1000000", "progress=continue"], 1.0),
    ],
)
def test_time_keys(lines: list[str], expected: float) -> None:
    [progress] = parse_progress(lines)
    assert progress.out_time_sec == pytest.approx(expected)


def test_speed_formats() -> None:
    lines = ["speed=1.95e+03x", "progress=continue", "speed= 0.5x ", "progress=continue"]
    assert [p.speed for p in parse_progress(lines)] == [1950.0, 0.5]


def test_noise_and_crlf() -> None:
    parser = ProgressParser()
    assert parser.feed("garbage without equals") is None
    assert parser.feed("\r\n") is None
    assert parser.feed("out_time_us=250000\r\n") is None
    assert parser.feed("progress=end\r\n") == Progress(0.25, None, True)


def test_blocks_do_not_leak_speed() -> None:
    lines = ["speed=2.0x", "progress=continue", "out_time_us=10", "progress=continue"]
    assert [p.speed for p in parse_progress(lines)] == [2.0, None]
