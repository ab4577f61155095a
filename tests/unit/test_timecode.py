import pytest

from clipper.domain.timecode import format_timecode, parse_timecode
from clipper.errors import ClipperError, ErrorCode


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:01:02.500", 62.5),
        ("1:02", 62.0),
        ("01:02.25", 62.25),
        ("1:00:00", 3600.0),
        ("100:00:00", 360000.0),
        ("62.5", 62.5),
        ("62", 62.0),
        (" 7 ", 7.0),
        (".5", 0.5),
        ("00:00:01,5", 1.5),
        (12, 12.0),
        (1.25, 1.25),
        (0, 0.0),
    ],
)
def test_accepted_forms(text: str | float, seconds: float) -> None:
    assert parse_timecode(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "-1", "1:60", "1:61:00", "1::2", "1:2:3:4", "1e3", "nan", -1, float("inf"), True],
)
def test_rejected_forms_name_the_field(bad: object) -> None:
    with pytest.raises(ClipperError) as info:
        parse_timecode(bad, "start")  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.INVALID_TIMECODE
    assert info.value.message.startswith("start:")


def test_format_round_trips() -> None:
    assert format_timecode(62.5) == "00:01:02.500"
    assert parse_timecode(format_timecode(3723.042)) == pytest.approx(3723.042)
