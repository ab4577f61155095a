"""End-to-end cost of the service over bare ffmpeg.

    python bench/e2e.py                 # starts its own `workers.dev` stack on free ports
    python bench/e2e.py --url http://127.0.0.1:8000   # measures a running service

Generates a 60 s 1080p H.264 source, uploads it, and makes a 30 s clip in `fast` and
`reencode` mode through the API (job time: create -> done, polled every 10 ms for 2 s,
then every 100 ms). In the same run it times bare ffmpeg doing the same cuts (the argv
the service builds) and prints per mode: job time, ffmpeg time and the difference.
Target: `fast` adds <= 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clipper.infra.postgres import free_port
from clipper.media.commands import fast_cut_args, reencode_cut_args
from clipper.media.probe import keyframe_at_or_before, probe
from tests.media import make_video

START, END = 10.0, 40.0
FAST_TARGET_SEC = 0.5


def start_service(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        DATA_DIR=str(data_dir),
        PORT=str(port),
        TEMPORAL_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(free_port()),
        LOG_LEVEL="warning",
    )
    process = subprocess.Popen([sys.executable, "-m", "workers.dev"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit("the service exited during start-up")
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("the service did not become ready in 120 s")


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - began


async def bare_commands(source: Path, out_dir: Path) -> dict[str, list[str]]:
    """The ffmpeg commands the service runs for each mode, found here without it."""
    info = await probe(str(source))
    keyframe = await keyframe_at_or_before(str(source), START, info=info)
    return {
        "fast": fast_cut_args(
            str(source), out_dir / "bare_fast.mp4", keyframe, END - keyframe, info
        ),
        "reencode": reencode_cut_args(
            str(source), out_dir / "bare_reencode.mp4", START, END - START, info, seek_sec=keyframe
        ),
    }


def job_time(client: httpx.Client, upload_key: str, mode: str) -> float:
    began = time.perf_counter()
    response = client.post(
        "/api/jobs", json={"uploadKey": upload_key, "start": START, "end": END, "mode": mode}
    )
    response.raise_for_status()
    job_id = response.json()["job"]["id"]
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()["job"]
        if job["status"] in {"done", "failed", "canceled"}:
            elapsed = time.perf_counter() - began
            if job["status"] != "done":
                raise SystemExit(f"{mode} job ended {job['status']}: {job.get('error')}")
            return elapsed
        # Poll fast while a fast cut may finish; then gently, so the polling itself does
        # not take CPU from a long encode on this 2-core machine.
        time.sleep(0.01 if time.perf_counter() - began < 2 else 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="a running clipper; default: start one")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (median reported)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clipper-bench-") as tmp:
        work = Path(tmp)
        print("generating a 60 s 1080p H.264 source ...", flush=True)
        source = make_video(
            work / "source_1080p.mp4", duration=60, size="1920x1080", fps=30, gop_sec=2.0
        )
        service = None
        url = args.url
        if url is None:
            service, url = start_service(work / "data")
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                with source.open("rb") as handle:
                    upload = client.post("/api/uploads", files={"file": (source.name, handle)})
                upload.raise_for_status()
                key = upload.json()["uploadKey"]
                job_time(client, key, "fast")  # warm-up: first workflow, first connections
                commands = asyncio.run(bare_commands(source, work))
                rows = []
                for mode in ("fast", "reencode"):
                    jobs = [job_time(client, key, mode) for _ in range(args.repeat)]
                    bare = [timed(commands[mode]) for _ in range(args.repeat)]
                    rows.append((mode, statistics.median(jobs), statistics.median(bare)))
        finally:
            if service is not None:
                service.terminate()
                service.wait(60)

    print(f"\n30 s clip of a 60 s 1080p H.264 source, median of {args.repeat}")
    print(f"{'mode':<10}{'job (s)':>10}{'ffmpeg (s)':>12}{'added (s)':>11}{'ratio':>8}")
    for mode, job, bare in rows:
        print(f"{mode:<10}{job:>10.3f}{bare:>12.3f}{job - bare:>11.3f}{job / bare:>8.2f}")
    fast_added = rows[0][1] - rows[0][2]
    verdict = "meets" if fast_added <= FAST_TARGET_SEC else "MISSES"
    print(f"fast mode adds {fast_added:.3f} s to ffmpeg: {verdict} the {FAST_TARGET_SEC} s target")


if __name__ == "__main__":
    main()
