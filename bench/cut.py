"""Cut modes against each other, on the same sources, in one run.

    python bench/cut.py [--repeat 3]

A generated 1080p30 H.264 source with a 2 s GOP and a 25 s clip at points that are not
keyframes; then the same on a long-GOP (8 s) source, where the re-encoded head can be long.
Per mode: median time, and the share of the clip's video packets that are byte-identical
to packets of the source (`ffprobe -show_packets -show_data_hash`), i.e. copied, not
re-encoded. Targets for `accurate`: >= 5x faster than `reencode`, >= 80 % of packets
copied, <= 2x the time of `fast`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clipper.media.cut import cut_clip
from clipper.media.probe import probe
from tests.ffprobe import reused_share
from tests.media import make_video

START, END = 7.3, 32.3  # 25 s, neither end on a keyframe of a 2 s or an 8 s GOP
MODES = ("fast", "accurate", "reencode")


async def measure(source: Path, work: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    info = await probe(str(source), keyframes_near=START)
    rows = []
    for mode in MODES:
        times = []
        for attempt in range(repeat):
            out = work / f"{source.stem}-{mode}-{attempt}.mp4"
            began = time.perf_counter()
            receipt = await cut_clip(str(source), out, START, END, mode, info)
            times.append(time.perf_counter() - began)
        copied = reused_share(source, out)
        note = receipt.fallback_reason or ""
        rows.append((mode, statistics.median(times), copied, note))
    return rows


def report(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    print(f"\n{title}")
    print(f"{'mode':<10}{'time (s)':>10}{'copied':>9}  note")
    for mode, seconds, copied, note in rows:
        print(f"{mode:<10}{seconds:>10.3f}{copied:>8.0%}  {note}")
    by_mode = {mode: (seconds, copied) for mode, seconds, copied, _ in rows}
    accurate, reencode, fast = by_mode["accurate"], by_mode["reencode"], by_mode["fast"]
    speedup = reencode[0] / accurate[0]
    vs_fast = accurate[0] / fast[0]
    print(
        f"accurate: {speedup:.1f}x faster than reencode (target >= 5), "
        f"{accurate[1]:.0%} packets copied (target >= 80 %), "
        f"{vs_fast:.1f}x the time of fast (target <= 2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clipper-bench-cut-") as tmp:
        work = Path(tmp)
        print("generating sources ...", flush=True)
        gop2 = make_video(
            work / "gop2_1080p.mp4", duration=40, size="1920x1080", fps=30, gop_sec=2.0
        )
        gop8 = make_video(
            work / "gop8_1080p.mp4", duration=40, size="1920x1080", fps=30, gop_sec=8.0
        )
        report("1080p30 H.264, 2 s GOP, 25 s clip", asyncio.run(measure(gop2, work, args.repeat)))
        report("1080p30 H.264, 8 s GOP, 25 s clip", asyncio.run(measure(gop8, work, args.repeat)))


if __name__ == "__main__":
    main()
