"""Pure helpers of the local driver's file route (api/files.py)."""

from __future__ import annotations

import pytest

from api.files import RangeNotSatisfiable, content_disposition, content_type_for, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=0-0", 1000, (0, 0)),
        ("bytes=900-", 1000, (900, 999)),
        ("bytes=990-5000", 1000, (990, 999)),
        ("bytes=-100", 1000, (900, 999)),
        ("bytes=-5000", 1000, (0, 999)),
        ("BYTES = 1 - 2", 1000, (1, 2)),
        # ignored: served whole with 200
        ("bytes=0-1,5-6", 1000, None),
        ("bytes=5-1", 1000, None),
        ("bytes=-", 1000, None),
        ("items=0-1", 1000, None),
        ("bytes=a-b", 1000, None),
        ("bytes=0-1-2", 1000, None),
        ("bytes=" + "9" * 30 + "-", 1000, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=1000-2000", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-1", 0),
    ],
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("results/j/clip.mp4", "video/mp4"),
        ("results/j/CLIP.MP4", "video/mp4"),
        ("results/j/clip.srt", "application/x-subrip"),
        ("results/j/clip.vtt", "text/vtt; charset=utf-8"),
        ("sources/u/source.html", "application/octet-stream"),
        ("sources/u/source", "application/octet-stream"),
        ("mp4/source", "application/octet-stream"),
    ],
)
def test_content_type_for(key: str, expected: str) -> None:
    assert content_type_for(key) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, 'inline; filename="clip.mp4"'),
        ("my clip.mp4", 'attachment; filename="my clip.mp4"'),
        ('a"b\\c/d\r\n.mp4', 'attachment; filename="a_b_c_d__.mp4"'),
        ("", 'attachment; filename="download"'),
        (
            "été 2024.mp4",
            "attachment; filename=\"_t_ 2024.mp4\"; filename*=UTF-8''%C3%A9t%C3%A9%202024.mp4",
        ),
    ],
)
def test_content_disposition(name: str | None, expected: str) -> None:
    assert content_disposition(name, "results/j/clip.mp4") == expected
