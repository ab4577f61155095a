"""The pure parts of probing, and keyframe_at_or_before's search against a fake ffprobe."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from clipper.errors import ClipperError, ErrorCode
from clipper.media import probe as probe_module
from clipper.media.commands import probe_args
from clipper.media.info import MediaInfo, VideoStream
from clipper.media.probe import (
    keyframe_at_or_before,
    keyframe_span,
    parse_keyframes,
    scrub,
    stderr_says_corrupt,
)


@dataclass
class FakeProbe:
    keyframes: list[float]
    # ffprobe seeks to the keyframe at or before an interval's start; some demuxers' seeks
    # land after it instead, which the search must survive.
    seek_lands_before: bool = True
    calls: list[tuple[float, float]] = field(default_factory=list)

    async def __call__(
        self,
        input: str,
        around: float,
        window: float,
        after: float,
        stream_index: int | None,
        timeout_sec: float | None,
    ) -> list[float]:
        lo, hi = around - window, around + after
        self.calls.append((lo, hi))
        first = bisect.bisect_left(self.keyframes, lo)
        if self.seek_lands_before and first > 0 and self.keyframes[first - 1] < lo:
            first -= 1
        return [k for k in self.keyframes[first:] if k < hi]


def _info(start_time: float, duration: float) -> MediaInfo:
    video = VideoStream(0, "h264", 320, 240, 25.0, "1/12800", "yuv420p", None, 0, 0)
    return MediaInfo(duration, start_time, "mov,mp4,m4a,3gp,3g2,mj2", None, video, ())


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProbe:
    fake = FakeProbe(keyframes=[])
    monkeypatch.setattr(probe_module, "_keyframes", fake)
    return fake


@pytest.mark.parametrize(
    ("t", "expected"), [(0.0, 0.0), (1.99, 0.0), (2.0, 2.0), (2.000001, 2.0), (9.5, 8.0)]
)
async def test_regular_gop(fake: FakeProbe, t: float, expected: float) -> None:
    fake.keyframes = [0.0, 2.0, 4.0, 6.0, 8.0]
    assert await keyframe_at_or_before("in.mp4", t) == expected
    assert len(fake.calls) == 1


async def test_reads_a_window_not_the_file(fake: FakeProbe) -> None:
    fake.keyframes = [float(k) for k in range(0, 7200, 2)]
    assert await keyframe_at_or_before("in.mp4", 3601.0) == 3600.0
    [(lo, hi)] = fake.calls
    assert hi - lo < 60


async def test_widens_backwards_when_the_seek_lands_late(fake: FakeProbe) -> None:
    fake.keyframes = [0.0, 500.0]
    fake.seek_lands_before = False
    assert await keyframe_at_or_before("in.mp4", 450.0) == 0.0
    # Each widening reads only the part the previous windows did not cover.
    for (lo, _), (_, hi) in zip(fake.calls, fake.calls[1:], strict=False):
        assert hi == pytest.approx(lo)
    assert len(fake.calls) == 3
    assert fake.calls[-1][0] <= 0.0


async def test_before_the_first_keyframe_returns_the_first(fake: FakeProbe) -> None:
    # MKV whose audio starts before the first video keyframe.
    fake.keyframes = [10.0, 12.0]
    info = _info(start_time=9.977, duration=3.0)
    assert await keyframe_at_or_before("in.mkv", 9.977, info=info) == 10.0


async def test_first_keyframe_far_after_t(fake: FakeProbe) -> None:
    # A recording that starts mid-GOP: the first keyframe comes 45 s in.
    fake.keyframes = [45.0, 90.0]
    assert await keyframe_at_or_before("in.ts", 3.0, info=_info(0.0, 120.0)) == 45.0


async def test_no_keyframe_at_all(fake: FakeProbe) -> None:
    fake.keyframes = []
    with pytest.raises(ClipperError) as caught:
        await keyframe_at_or_before("in.mp4", 3.0, info=_info(0.0, 100.0))
    assert caught.value.code is ErrorCode.SOURCE_CORRUPT


def test_parse_keyframes() -> None:
    doc = {
        "packets": [
            {"pts_time": "4.000000", "dts_time": "3.920000", "flags": "K__"},
            {"pts_time": "4.040000", "dts_time": "3.960000", "flags": "___"},  # not a keyframe
            {"pts_time": "N/A", "dts_time": "2.000000", "flags": "K_"},  # no pts (AVI)
            {"dts_time": "6.000000", "flags": "K__"},
            {"pts_time": "4.000000", "flags": "K"},  # the same keyframe twice
            {"flags": "K__"},  # no time at all
            {"pts_time": "8.000000", "flags": "_D_"},  # a discarded packet
        ]
    }
    assert parse_keyframes(doc) == [2.0, 4.0, 6.0]
    assert parse_keyframes({}) == []


def test_scrub_removes_paths_and_names() -> None:
    line = "file:/srv/up/holiday-2024.mp4: Invalid data found when processing input"
    assert (
        scrub(line, "/srv/up/holiday-2024.mp4")
        == "<file>: Invalid data found when processing input"
    )
    assert scrub("[mov] holiday-2024.mp4 partial file", "/srv/up/holiday-2024.mp4") == (
        "[mov] <file> partial file"
    )
    # Short names are left alone rather than clobbering words.
    assert scrub("a partial file", "/x/a") == "a partial file"
    assert scrub("/out/.c.mp4.part: No space left", "/in.mp4", Path("/out/.c.mp4.part")) == (
        "<file>: No space left"
    )


@pytest.mark.parametrize(
    ("line", "corrupt"),
    [
        ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5623755bf240] stream 1, offset 0x3745f: partial file", True),
        ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found", True),
        ("[NULL @ 0x55] Invalid NAL unit size (2004 > 621).", True),
        ("<file>: corrupt input packet in stream 0", True),
        ("Error while decoding stream #0:0: Invalid data found when processing input", True),
        ("<file>: No space left on device", False),
        ("Unknown encoder 'libfoo'", False),
    ],
)
def test_stderr_says_corrupt(line: str, corrupt: bool) -> None:
    assert stderr_says_corrupt([line]) is corrupt


def _packets(video: list[tuple[float, str]], audio_times: list[float]) -> dict[str, object]:
    packets = [{"stream_index": 0, "pts_time": f"{t:.6f}", "flags": flags} for t, flags in video]
    packets += [{"stream_index": 1, "pts_time": f"{t:.6f}", "flags": "K__"} for t in audio_times]
    return {"packets": packets}


def test_a_probe_window_lists_the_video_keyframes_it_covered() -> None:
    doc = _packets(
        [(4.0, "K__"), (4.04, "___"), (6.0, "K__"), (6.04, "___"), (7.96, "___")],
        audio_times=[5.0, 7.0, 9.0],  # audio packets are all "keyframes": they must not count
    )
    span = keyframe_span(doc, _info(0.0, 60.0))
    assert span is not None
    assert (span.first, span.last, span.keyframes) == (4.0, 7.96, (4.0, 6.0))
    assert span.keyframe_at_or_before(5.9) == 4.0
    assert span.keyframe_at_or_before(6.5) == 6.0
    # Outside what was read nothing is claimed: a keyframe could hide there.
    assert span.keyframe_at_or_before(8.5) is None
    assert span.keyframe_at_or_before(3.0) is None


async def test_a_known_keyframe_spares_the_search(fake: FakeProbe) -> None:
    fake.keyframes = [0.0, 2.0, 4.0, 6.0]
    span = keyframe_span(
        _packets([(2.0, "K"), (3.0, "_"), (4.0, "K"), (5.0, "_")], []), _info(0, 60)
    )
    info = replace(_info(0.0, 60.0), keyframe_spans=(span,))  # type: ignore[arg-type]
    assert await keyframe_at_or_before("in.mp4", 4.5, info=info) == 4.0
    assert fake.calls == []
    # Past the span, the search reads the source as before.
    assert await keyframe_at_or_before("in.mp4", 6.5, info=info) == 6.0
    assert fake.calls


def test_probe_args_with_a_keyframe_window() -> None:
    argv = probe_args("in.mp4", keyframes_near=30.0)
    assert argv[argv.index("-read_intervals") + 1] == "10.000000%31.000000"
    assert "packet=stream_index,pts_time,dts_time,flags" in argv
    assert probe_args("in.mp4", keyframes_near=5.0)[argv.index("-read_intervals") + 1].startswith(
        "0.000000%"
    )
    assert "-read_intervals" not in probe_args("in.mp4")
