"""plan_cut on packet listings shaped like real encoders' output (no ffmpeg here)."""

from __future__ import annotations

import pytest

from clipper.domain.cut_plan import Copy, CutPlan, NoSmartCut, Packet, Reencode, plan_cut

FPS = 25.0
F = 1 / FPS


def stream(
    frames: int, gop: int, *, delay: int = 1, first: int = 0, dts: bool = True
) -> list[Packet]:
    """Closed GOPs of `gop` frames, frame numbers [first, first+frames), decode order.

    delay 0: I P P P...; delay 1: I P B P B... (each B shown before the P stored ahead of it),
    the DTS trailing by one frame as x264 without B-pyramid writes it.
    """
    order: list[int] = []
    for g in range(first, first + frames, gop):
        last = min(g + gop, first + frames)
        order.append(g)
        n = g + 1
        while n < last:
            if delay and n + 1 < last:
                order += [n + 1, n]
                n += 2
            else:
                order.append(n)
                n += 1
    return [
        Packet(
            round(n * F, 6),
            round((first + i - delay) * F, 6) if dts else None,
            (n - first) % gop == 0,
        )
        for i, n in enumerate(order)
    ]


def from_key(packets: list[Packet], t: float) -> list[Packet]:
    """The listing a reader seeking to the keyframe at or before `t` returns."""
    start = max(i for i, p in enumerate(packets) if p.key and p.pts <= t + 1e-9)
    return packets[start:]


def until(packets: list[Packet], t: float) -> list[Packet]:
    """Cut the listing at the first packet shown at or after `t` (as ffprobe's interval end)."""
    stop = next((i for i, p in enumerate(packets) if p.pts >= t), len(packets))
    return packets[:stop]


def plan(
    start: float, end: float, packets: list[Packet], default_dts_delay: float = 0.0
) -> CutPlan:
    listing = until(from_key(packets, start), end + 1)
    result = plan_cut(start, end, listing, frame_duration=F, default_dts_delay=default_dts_delay)
    assert isinstance(result, CutPlan), result
    return result


SOURCE = stream(250, 50)  # 10 s, a keyframe every 2 s


def test_head_copy_tail() -> None:
    result = plan(3.1, 9.3, SOURCE)
    # The frame on screen at 3.1 s began at 3.08 s: the clip opens on it.
    assert result.first_frame == pytest.approx(3.08)
    # Frames 3.08 .. 3.96 before the keyframe at 4; frames 8.00 .. 9.28 after the one at 8.
    assert result.head == Reencode(3.08, 4.0, 23, pytest.approx(3.06), pytest.approx(F))  # type: ignore[arg-type]
    assert result.copies == (
        Copy(4.0, 8.0, pytest.approx(3.98), pytest.approx(7.98), drop_leading=False),  # type: ignore[arg-type]
    )
    assert result.tail == Reencode(8.0, 9.3, 33, pytest.approx(7.98), pytest.approx(F))  # type: ignore[arg-type]
    assert result.copy_end == 8.0
    assert result.copied_sec == pytest.approx(4.0)
    assert result.reencoded_sec == pytest.approx(0.92 + 1.3)


def test_start_on_a_keyframe_needs_no_head() -> None:
    result = plan(4.0, 9.3, SOURCE)
    assert result.head is None
    assert result.first_frame == 4.0 and result.copy_start == 4.0


def test_start_inside_the_frame_before_a_keyframe_keeps_that_frame() -> None:
    # At 3.97 s the frame that began at 3.96 s is on screen: a one-frame head shows it.
    result = plan(3.97, 9.3, SOURCE)
    assert result.first_frame == pytest.approx(3.96)
    assert result.head is not None and result.head.frames == 1


def test_a_one_frame_head() -> None:
    head = plan(3.96, 9.3, SOURCE).head
    assert head is not None and head.frames == 1
    assert head.start == pytest.approx(3.96)


def test_end_on_a_keyframe_needs_no_tail() -> None:
    result = plan(3.1, 8.0, SOURCE)
    assert result.tail is None
    assert result.copies[-1].until == 8.0 and result.copy_end == 8.0


def test_a_one_frame_tail() -> None:
    tail = plan(3.1, 8.001, SOURCE).tail
    assert tail is not None and (tail.start, tail.frames) == (8.0, 1)


def test_keyframe_to_keyframe_is_all_copy() -> None:
    result = plan(2.0, 8.0, SOURCE)
    assert (result.head, result.tail, result.reencoded_sec) == (None, None, 0.0)
    assert [(c.key, c.until) for c in result.copies] == [(2.0, 8.0)]


@pytest.mark.parametrize(("start", "end"), [(2.1, 3.9), (2.1, 4.5), (4.0, 5.5)])
def test_a_clip_without_a_whole_gop_is_not_smart_cut(start: float, end: float) -> None:
    result = plan_cut(start, end, until(from_key(SOURCE, start), end + 1), frame_duration=F)
    assert isinstance(result, NoSmartCut)
    assert "shorter than the source's GOP" in result.reason


def test_a_clip_to_the_end_of_the_source_copies_to_the_end() -> None:
    result = plan(3.1, 12.0, SOURCE)
    assert result.tail is None
    assert [(c.key, c.until, c.split_until) for c in result.copies] == [(4.0, None, None)]
    assert result.copy_end == pytest.approx(10.0)  # the last frame, 9.96, and its duration


def test_the_last_gop_to_the_end_of_the_source() -> None:
    result = plan(7.0, 10.0, SOURCE)
    assert [(c.key, c.until) for c in result.copies] == [(8.0, None)]
    assert result.head is not None and result.head.frames == 25


def test_no_frame_in_range() -> None:
    assert isinstance(plan_cut(3.0, 3.0, SOURCE, frame_duration=F), NoSmartCut)
    assert isinstance(plan_cut(20.0, 21.0, [], frame_duration=F), NoSmartCut)


def test_dts_delay_follows_the_source() -> None:
    no_b = plan(3.1, 9.3, stream(250, 50, delay=0))
    assert no_b.head is not None and no_b.head.dts_delay == 0.0
    unknown = plan(3.1, 9.3, stream(250, 50, dts=False), default_dts_delay=2 * F)
    assert unknown.head is not None and unknown.head.dts_delay == pytest.approx(2 * F)
    assert unknown.tail is not None and unknown.tail.dts_delay == pytest.approx(2 * F)


def test_two_listings_of_a_long_clip() -> None:
    source = stream(1500, 50)  # 60 s
    head = until(from_key(source, 3.1), 13.1)
    tail = until(from_key(source, 46.0), 57.0)
    result = plan_cut(3.1, 56.0, head, tail, frame_duration=F)
    assert isinstance(result, CutPlan)
    assert [(c.key, c.until) for c in result.copies] == [(4.0, 56.0)]
    assert result.tail is None and result.head is not None and result.head.frames == 23


def test_a_start_listing_without_a_keyframe_after_the_start_is_not_enough() -> None:
    source = stream(1500, 500)  # keyframes every 20 s
    head = until(from_key(source, 3.1), 13.1)
    tail = until(from_key(source, 46.0), 57.0)
    result = plan_cut(3.1, 56.0, head, tail, frame_duration=F)
    assert isinstance(result, NoSmartCut) and "GOP is too long" in result.reason


def open_gop() -> list[Packet]:
    """CRA keyframes at 0, 2, 4, 6, 8 s, each followed in decode order by one leading picture
    (the frame shown just before it), as x265 writes open GOPs."""
    order: list[int] = []
    for g in range(0, 250, 50):
        order.append(g)
        if g:
            order.append(g - 1)
        order += list(range(g + 1, min(g + 49, 250) if g + 50 < 250 else 250))
    packets = [Packet(round(n * F, 6), round((i - 2) * F, 6), n % 50 == 0) for i, n in
               enumerate(order)]  # fmt: skip
    return packets


def test_open_gop_drops_the_first_leading_pictures_and_ends_at_the_last_ones() -> None:
    result = plan(3.1, 9.3, open_gop())
    # 3.96 is the keyframe 4.0's leading picture: it is re-encoded, not copied.
    assert result.head is not None and (result.head.start, result.head.frames) == (3.08, 23)
    assert [(c.key, c.until, c.drop_leading) for c in result.copies] == [
        (4.0, 6.0, True),
        (6.0, 8.0, False),
    ]
    # The middle ends on screen at 7.96, the leading picture of the keyframe 8.0.
    assert result.copy_end == pytest.approx(7.96)
    tail = result.tail
    assert tail is not None and tail.frames == 34
    assert tail.start == pytest.approx(7.96)
    # The keyframe's DTS trails its PTS by three frames; the tail's first frame takes that
    # decode slot but is shown a frame earlier, so its DTS trails by two.
    assert tail.dts_delay == pytest.approx(2 * F)
    assert result.copies[0].split_at == pytest.approx(3.98)


def test_open_gop_with_one_copied_gop() -> None:
    result = plan(3.1, 6.5, open_gop())
    assert [(c.key, c.until, c.drop_leading) for c in result.copies] == [(4.0, 6.0, True)]


def test_open_gop_without_the_following_keyframe_listed() -> None:
    source = open_gop()
    head = until(from_key(source, 3.1), 5.0)
    tail = until(from_key(source, 8.0), 10.3)
    result = plan_cut(3.1, 9.3, head, tail, frame_duration=F)
    assert isinstance(result, NoSmartCut) and "open GOP" in result.reason


def test_a_keyframe_that_ends_the_listing_is_not_trusted() -> None:
    # Its leading pictures, if any, were not read.
    head = until(from_key(SOURCE, 3.1), 4.01)[:-1]
    head = [p for p in head if p.pts <= 4.0]
    result = plan_cut(3.1, 9.3, head, until(from_key(SOURCE, 8.0), 10.3), frame_duration=F)
    assert isinstance(result, NoSmartCut)


def test_timestamps_need_not_start_at_zero() -> None:
    source = stream(250, 50, first=250)  # 10 s .. 20 s
    result = plan(13.1, 19.3, source)
    assert [(c.key, c.until) for c in result.copies] == [(14.0, 18.0)]
    assert result.head is not None and result.head.start == pytest.approx(13.08)
