"""A worker dying mid-cut, and a user canceling one: nothing lost, nothing left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clipper.storage import local_root
from tests.ffprobe import ffmpeg_pids_reading, probe
from tests.stack import Stack

pytestmark = pytest.mark.integration


def cutting(job: dict[str, Any]) -> bool:
    return job["status"] == "processing" and job.get("stage") == "cutting" and job["progress"] >= 3


def upload_id(upload: dict[str, Any]) -> str:
    return str(upload["uploadKey"]).split("/")[1]


async def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_worker_killed_mid_cut_finishes_the_job_once(
    idle_stack: Stack, source_long: Path
) -> None:
    stack = idle_stack
    upload = await stack.upload(source_long)
    first = subprocess.Popen(stack.worker_command(), env=stack.worker_env(), start_new_session=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        job = await stack.create_job(
            uploadKey=upload["uploadKey"], start=1, end=39, mode="reencode"
        )
        await stack.wait_for(job["id"], until=cutting, timeout=120)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        # ffmpeg dies with its worker instead of writing on as an orphan.
        await asyncio.sleep(1)
        assert ffmpeg_pids_reading(upload_id(upload)) == []

        second = subprocess.Popen(
            stack.worker_command(), env=stack.worker_env(), start_new_session=True
        )
        done = await stack.wait_for(job["id"], timeout=300)
        assert done["status"] == "done", done
        assert done["attempts"] >= 2

        results = local_root(stack.settings) / "results"
        assert sorted(p.relative_to(results).as_posix() for p in results.rglob("*")) == [
            job["id"],
            f"{job['id']}/clip.mp4",
        ]
        clip = results / job["id"] / "clip.mp4"
        assert float(probe(clip)["format"]["duration"]) == pytest.approx(38, abs=0.05)
        events = (await stack.http.get(f"/api/jobs/{job['id']}/events")).json()
        assert [e["data"]["status"] for e in events if e["type"] == "status"].count("done") == 1
    finally:
        await stop(first)
        if second is not None:
            await stop(second)


async def test_cancel_during_cut_kills_ffmpeg_and_publishes_nothing(
    stack: Stack, source_long: Path
) -> None:
    upload = await stack.upload(source_long)
    job = await stack.create_job(uploadKey=upload["uploadKey"], start=1, end=39, mode="reencode")
    await stack.wait_for(job["id"], until=cutting, timeout=120)
    assert ffmpeg_pids_reading(upload_id(upload)), "the cut should be running"

    response = await stack.http.delete(f"/api/jobs/{job['id']}")
    assert response.status_code == 202
    canceled = await stack.wait_for(job["id"], timeout=60)
    assert canceled["status"] == "canceled", canceled.get("error")

    assert ffmpeg_pids_reading(upload_id(upload)) == []
    assert not (local_root(stack.settings) / "results" / job["id"]).exists()
    assert not list((stack.settings.data_dir / "scratch").glob(f"*/{job['id']}"))
    result = await stack.http.get(f"/api/jobs/{job['id']}/result")
    assert result.status_code == 409
    again = await stack.http.delete(f"/api/jobs/{job['id']}")
    assert again.status_code == 409
