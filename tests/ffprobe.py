"""Independent measurements of media files for assertions (plain ffprobe/ffmpeg)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        check=True,
        capture_output=True,
    ).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


def video_frame_times(path: Path) -> list[float]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [float(line.strip().rstrip(",")) for line in out.splitlines() if line.strip()]


def frame_md5(path: Path, at: float | None = None) -> str:
    """MD5 of one decoded video frame: the first, or the one shown at `at` (exact seek)."""
    seek = ["-ss", f"{at:.6f}"] if at is not None else []
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            *seek,
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-f",
            "framemd5",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [line for line in out.splitlines() if line and not line.startswith("#")]
    return rows[0].split(",")[-1].strip()


def ffmpeg_pids_reading(marker: str) -> list[int]:
    """PIDs of running ffmpeg processes whose command line mentions `marker`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"ffmpeg")
            and any(marker.encode() in a for a in cmdline)
        ):
            pids.append(int(proc.name))
    return pids


def packet_hashes(path: Path) -> list[str]:
    """MD5 of every video packet, in file order: equal hashes are byte-identical packets."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=data_hash",
         "-show_data_hash", "md5", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return [line.strip() for line in out.splitlines() if line.strip()]


def reused_share(source: Path, output: Path) -> float:
    """Share of the output's video packets that are byte-identical to a source packet."""
    known = set(packet_hashes(source))
    out = packet_hashes(output)
    return sum(h in known for h in out) / len(out)
