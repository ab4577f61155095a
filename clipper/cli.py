"""`clipper clip SRC --start 1:02.5 --end 1:32 -o clip.mp4 [--mode accurate|fast|reencode]`

The same cutting engine as the service, on local files, without a server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from clipper.domain.clip_range import parse_clip_range
from clipper.domain.timecode import format_timecode
from clipper.errors import ClipperError, ErrorCode
from clipper.media.cut import cut_clip
from clipper.media.info import CutReceipt
from clipper.media.probe import probe

# Exit statuses: 0 done, 1 the clip could not be made, 2 bad usage (argparse's own).
EXIT_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipper", description="Cut exact clips out of videos.")
    commands = parser.add_subparsers(dest="command", required=True)
    clip = commands.add_parser("clip", help="cut one clip out of a local file")
    clip.add_argument("source", type=Path, help="the source video (any format ffmpeg reads)")
    clip.add_argument("--start", required=True, help="HH:MM:SS(.mmm), MM:SS(.mmm) or seconds")
    clip.add_argument("--end", required=True, help="HH:MM:SS(.mmm), MM:SS(.mmm) or seconds")
    clip.add_argument("-o", "--output", type=Path, required=True, help="the clip to write (MP4)")
    clip.add_argument(
        "--mode",
        choices=("accurate", "fast", "reencode"),
        default="accurate",
        help="accurate: exact frames (default); fast: stream copy from the keyframe "
        "before start; reencode: H.264/AAC",
    )
    clip.add_argument("--json", action="store_true", help="print the receipt as JSON")
    clip.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return parser


async def run_clip(args: argparse.Namespace) -> CutReceipt:
    source: Path = args.source
    if not source.is_file():
        raise ClipperError(ErrorCode.SOURCE_UNAVAILABLE, f"no such file: {source}")
    info = await probe(str(source.resolve()))
    clip = parse_clip_range(
        args.start, args.end, source_duration=info.duration_sec, max_clip_seconds=float("inf")
    )
    show = not args.quiet and sys.stderr.isatty()

    def on_progress(percent: float) -> None:
        if show:
            print(f"\r{args.mode} cut: {percent:5.1f}%", end="", file=sys.stderr, flush=True)

    receipt = await cut_clip(
        str(source.resolve()),
        args.output,
        clip.start,
        clip.end,
        args.mode,
        info,
        on_progress=on_progress,
    )
    if show:
        print(file=sys.stderr)
    return receipt


def describe(receipt: CutReceipt, output: Path) -> str:
    lines = [
        f"wrote {output} ({receipt.bytes / 1e6:.2f} MB, {receipt.duration_sec:.3f} s)",
        f"  mode       {receipt.mode}",
        f"  requested  {format_timecode(receipt.requested_start)} - "
        f"{format_timecode(receipt.requested_end)}",
        f"  actual     {format_timecode(receipt.actual_start)} - "
        f"{format_timecode(receipt.actual_end)}",
        f"  re-encoded {receipt.reencoded_sec:.3f} s, copied {receipt.copied_sec:.3f} s",
    ]
    if receipt.fallback_reason:
        lines.append(f"  note       {receipt.fallback_reason}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        receipt = asyncio.run(run_clip(args))
    except ClipperError as err:
        print(f"clipper: {err.message} ({err.code.value})", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)
    if args.json:
        print(json.dumps(asdict(receipt), indent=2))
    else:
        print(describe(receipt, args.output))


if __name__ == "__main__":
    main()
