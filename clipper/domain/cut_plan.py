"""Where a smart cut re-encodes and where it copies, decided from the packets near its ends.

Pure: the caller lists the video packets (decode order, as the demuxer reads them) of a window
at each end of the clip and passes them in as plain tuples; nothing here reads a file.

The clip `[start, end)` holds the frames whose pts lie in that range. A smart cut splits it at
keyframes: the *head* (first frame up to the first keyframe) and the *tail* (last keyframe up to
the end) are re-encoded, the *middle* (whole GOPs) is copied packet for packet.

Open GOPs (HEVC CRA pictures, H.264 recovery points) complicate both joins. Pictures that follow
a keyframe in decode order but are shown before it ("leading pictures") may reference the GOP
before. So the first copied keyframe's leading pictures must not be copied (their references
were re-encoded), and the middle ends, on screen, at the earliest leading picture of the
keyframe that starts the tail rather than at that keyframe.

All times are seconds on the source's own timeline (raw packet timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

# ffprobe prints times with six decimals; closer than this is the same instant.
EPSILON = 1e-6


class Packet(NamedTuple):
    """One video packet: presentation and decode time (None when the container has none)."""

    pts: float
    dts: float | None
    key: bool


@dataclass(frozen=True)
class Reencode:
    """The frames `[start, end)` decoded from the source and encoded anew: `frames` of them."""

    start: float
    end: float
    frames: int
    # Halfway between the frame before `start` and `start`: decoding is asked to begin here,
    # which no rounding of either frame's timestamp can push past the wrong frame.
    seek: float
    # How far the piece's DTS must trail its PTS so that decode times keep rising across the
    # joins with the copied packets next to it.
    dts_delay: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Copy:
    """Packets copied as they are: decode order from keyframe `key` up to keyframe `until`
    (exclusive; None: to the end of the source)."""

    key: float
    until: float | None
    # Split points for a keyframe-aligned segmenter: the first keyframe at or after `split_at`
    # is `key` and the first at or after `split_until` is `until`.
    split_at: float
    split_until: float | None
    # The leading pictures of `key` reference the GOP before it, which is not copied.
    drop_leading: bool


@dataclass(frozen=True)
class CutPlan:
    first_frame: float
    end: float
    head: Reencode | None
    copies: tuple[Copy, ...]
    # On screen the copied packets cover [copies[0].key, copy_end).
    copy_end: float
    tail: Reencode | None

    @property
    def copy_start(self) -> float:
        return self.copies[0].key

    @property
    def copied_sec(self) -> float:
        return self.copy_end - self.copy_start

    @property
    def reencoded_sec(self) -> float:
        pieces = (self.head, self.tail)
        return sum((piece.duration for piece in pieces if piece is not None), 0.0)


@dataclass(frozen=True)
class NoSmartCut:
    """Why the clip cannot be cut smartly; the caller re-encodes it whole."""

    reason: str


@dataclass(frozen=True)
class _Key:
    pts: float
    dts: float | None
    # Earliest pts among the keyframe and its leading pictures.
    lead_start: float
    # A picture shown after the keyframe was read, so every leading picture was seen.
    complete: bool

    @property
    def has_leading(self) -> bool:
        return self.lead_start < self.pts - EPSILON


def _keys(run: Sequence[Packet], at_eof: bool) -> list[_Key]:
    keys = []
    for i, packet in enumerate(run):
        if not packet.key:
            continue
        lead_start, complete = packet.pts, at_eof
        for later in run[i + 1 :]:
            if later.key:
                complete = True
                break
            if later.pts > packet.pts + EPSILON:
                complete = True
                # Leading pictures precede every trailing picture in decode order.
                break
            lead_start = min(lead_start, later.pts)
        keys.append(_Key(packet.pts, packet.dts, lead_start, complete))
    return keys


def _before(frames: Sequence[float], t: float) -> float | None:
    earlier = [f for f in frames if f < t - EPSILON]
    return max(earlier) if earlier else None


def _midpoint_before(frames: Sequence[float], t: float, frame_duration: float) -> float:
    previous = _before(frames, t)
    return t - frame_duration / 2 if previous is None else (previous + t) / 2


def _delay(key: _Key, default: float) -> float:
    return max(0.0, key.pts - key.dts) if key.dts is not None else default


def frame_on_screen_at(frames: Sequence[float], t: float) -> float | None:
    """The presentation time of the frame shown at `t`: the last one starting at or before it."""
    shown = [f for f in frames if f <= t + EPSILON]
    return max(shown) if shown else None


def plan_cut(
    start: float,
    end: float,
    head_run: Sequence[Packet],
    tail_run: Sequence[Packet] | None = None,
    *,
    frame_duration: float,
    default_dts_delay: float = 0.0,
) -> CutPlan | NoSmartCut:
    """Plan a smart cut of `[start, end)`.

    `head_run` lists the packets read from the keyframe at or before `start` onwards, over a
    window long enough to hold the next keyframe or two; `tail_run` those read from some
    keyframe before `end` to past `end`. A short clip passes one listing, from before `start`
    to past `end`, as `head_run` alone. A listing that reaches no frame at or after `end` says
    the video ends before `end`. `frame_duration` is the nominal one, used at the edges of what
    was listed; `default_dts_delay` stands in where the container stores no decode times.
    """
    one_run = tail_run is None
    last_run = head_run if tail_run is None else tail_run
    frames = sorted({p.pts for run in (head_run, last_run) for p in run})
    # The clip opens on the frame on screen at `start`, which may have begun before it.
    first = frame_on_screen_at(frames, start)
    clip = [f for f in frames if (start if first is None else first) - EPSILON <= f < end - EPSILON]
    if end <= start + EPSILON or not clip:
        return NoSmartCut("no video frame lies in the clip's range")
    at_eof = not any(p.pts >= end - EPSILON for p in last_run)
    head_keys = _keys(head_run, at_eof and one_run)
    tail_keys = head_keys if one_run else _keys(last_run, at_eof)

    key_start = _start_key(head_keys, clip[0], end, one_run)
    if isinstance(key_start, NoSmartCut):
        return key_start
    key_end = None if at_eof else _end_key(tail_keys, key_start, end)
    if isinstance(key_end, NoSmartCut):
        return key_end
    copies = _copies(key_start, key_end, head_keys, one_run, frames, frame_duration)
    if isinstance(copies, NoSmartCut):
        return copies
    copy_end = key_end.lead_start if key_end is not None else frames[-1] + frame_duration
    if copy_end <= key_start.pts + EPSILON:
        return NoSmartCut("the copied part would be empty")

    delay = _delay(key_start, default_dts_delay)
    head = _piece(clip, clip[0], key_start.pts, delay, frames, frame_duration)
    tail = None
    if key_end is not None:
        # The tail's first frame takes the decode slot of the keyframe, which is shown `lead`
        # later: its DTS may trail its PTS by that much less.
        lead = key_end.pts - key_end.lead_start
        delay = max(0.0, _delay(key_end, default_dts_delay) - lead)
        tail = _piece(clip, key_end.lead_start, end, delay, frames, frame_duration)
    return CutPlan(clip[0], end, head, copies, copy_end, tail)


def _start_key(keys: Sequence[_Key], first: float, end: float, one_run: bool) -> _Key | NoSmartCut:
    """The first keyframe at or after the clip's first frame."""
    inside = [k for k in keys if first - EPSILON <= k.pts < end - EPSILON]
    if inside and inside[0].complete:
        return inside[0]
    if one_run:
        return NoSmartCut("no keyframe inside the clip: it is shorter than the source's GOP")
    return NoSmartCut("no keyframe in the window read after the start: the GOP is too long")


def _end_key(keys: Sequence[_Key], key_start: _Key, end: float) -> _Key | NoSmartCut:
    """The last keyframe at or before the clip's end, after the first one."""
    ends = [k for k in keys if key_start.pts + EPSILON < k.pts <= end + EPSILON]
    if not ends or not ends[-1].complete:
        return NoSmartCut("the clip holds no whole GOP: it is shorter than the source's GOP")
    return ends[-1]


def _piece(
    clip: Sequence[float],
    begin: float,
    until: float,
    dts_delay: float,
    frames: Sequence[float],
    frame_duration: float,
) -> Reencode | None:
    count = sum(1 for f in clip if begin - EPSILON <= f < until - EPSILON)
    if count == 0:
        return None
    seek = _midpoint_before(frames, begin, frame_duration)
    return Reencode(begin, until, count, seek, dts_delay)


def _copies(
    key_start: _Key,
    key_end: _Key | None,
    head_keys: Sequence[_Key],
    one_run: bool,
    frames: Sequence[float],
    frame_duration: float,
) -> tuple[Copy, ...] | NoSmartCut:
    until = key_end.pts if key_end is not None else None

    def copy(key: float, stop: float | None, drop_leading: bool) -> Copy:
        split_until = None if stop is None else _midpoint_before(frames, stop, frame_duration)
        split_at = _midpoint_before(frames, key, frame_duration)
        return Copy(key, stop, split_at, split_until, drop_leading)

    if not key_start.has_leading:
        return (copy(key_start.pts, until, False),)
    # Only the first GOP loses its leading pictures, so it is copied on its own.
    later = [k.pts for k in head_keys if k.pts > key_start.pts + EPSILON]
    following = later[0] if later else None
    if following is None:
        # Known to be the last keyframe only when one listing ran from it to the end.
        if until is None and one_run:
            return (copy(key_start.pts, None, True),)
        return NoSmartCut("open GOP: the keyframe after the first copied one was not listed")
    if until is not None and following >= until - EPSILON:
        return (copy(key_start.pts, until, True),)
    return (copy(key_start.pts, following, True), copy(following, until, False))
