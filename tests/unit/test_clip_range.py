import pytest

from clipper.domain.clip_range import parse_clip_range
from clipper.errors import ClipperError, ErrorCode


def check(start: object, end: object, duration: float | None = 60.0, limit: float = 120.0):  # type: ignore[no-untyped-def]
    return parse_clip_range(start, end, source_duration=duration, max_clip_seconds=limit)  # type: ignore[arg-type]


def test_valid_range_in_mixed_formats() -> None:
    clip = check("00:00:10.5", "0:20")
    assert (clip.start, clip.end, clip.duration) == (10.5, 20.0, 9.5)


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (10, 10, ErrorCode.INVALID_RANGE),
        (20, 10, ErrorCode.INVALID_RANGE),
        (0, 61, ErrorCode.RANGE_OUTSIDE_SOURCE),
        ("x", 10, ErrorCode.INVALID_TIMECODE),
    ],
)
def test_rejections(start: object, end: object, code: ErrorCode) -> None:
    with pytest.raises(ClipperError) as info:
        check(start, end)
    assert info.value.code is code
    assert info.value.http_status == 400


def test_length_limit() -> None:
    with pytest.raises(ClipperError) as info:
        check(0, 31, duration=None, limit=30)
    assert info.value.code is ErrorCode.CLIP_TOO_LONG


def test_end_a_hair_past_the_container_duration_is_clamped() -> None:
    assert check(50, 60.02).end == 60.0
