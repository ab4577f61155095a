"""upload -> ClipWorkflow -> signed download, on a real Temporal dev server, Postgres and ffmpeg."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from clipper.storage import local_root
from tests.ffprobe import frame_md5, probe, video_frame_times
from tests.media import make_video, truncate
from tests.stack import Stack

pytestmark = pytest.mark.integration

FRAME = 1 / 25
HISTORIES = Path(__file__).parent.parent / "histories"


async def record_history_if_asked(stack: Stack, job_id: str, name: str) -> None:
    """With CLIPPER_RECORD_HISTORY=1, keep this run's workflow history for tests/test_replay.py."""
    if not os.environ.get("CLIPPER_RECORD_HISTORY"):
        return
    history = await stack.deps.temporal.get_workflow_handle(f"clip-{job_id}").fetch_history()
    document = {"workflowId": history.workflow_id, "history": history.to_json_dict()}
    (HISTORIES / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


async def test_reencode_clip_is_exact_and_downloadable(
    stack: Stack, source_10s: Path, tmp_path: Path
) -> None:
    upload = await stack.upload(source_10s)
    assert upload["media"]["durationSec"] == pytest.approx(10, abs=0.1)
    assert upload["media"]["videoCodec"] == "h264"

    job = await stack.create_job(
        uploadKey=upload["uploadKey"], start="00:00:02.300", end=6.1, mode="reencode"
    )
    assert job["status"] in {"queued", "processing"}
    done = await stack.wait_for(job["id"])
    assert done["status"] == "done", done
    assert done["progress"] == 100

    response = await stack.http.get(f"/api/jobs/{job['id']}/result")
    assert response.status_code == 200
    result = response.json()
    cut = result["cut"]
    assert cut["mode"] == "reencode"
    assert (cut["requestedStart"], cut["requestedEnd"]) == (2.3, 6.1)
    # Whole frames: from the one on screen at 2.3 s (2.28) to the one still on at 6.1 s
    # (6.08, shown until 6.12): each end within a frame of the request.
    assert cut["actualStart"] == pytest.approx(2.28, abs=1e-3)
    assert cut["actualEnd"] == pytest.approx(6.12, abs=1e-3)
    assert cut["reencodedSec"] == pytest.approx(3.84, abs=1e-3)
    assert cut["copiedSec"] == 0

    clip = await stack.download(result["video"]["url"], tmp_path / "clip.mp4")
    assert clip.stat().st_size == result["video"]["bytes"]
    info = probe(clip)
    assert 3.8 <= float(info["format"]["duration"]) <= 3.8 + 2 * FRAME
    assert len(video_frame_times(clip)) == 96  # frames 57 .. 152 of the source

    events = (await stack.http.get(f"/api/jobs/{job['id']}/events")).json()
    statuses = [event["data"].get("status") for event in events if event["type"] == "status"]
    assert statuses == ["processing", "done"]


async def test_fast_clip_starts_at_the_reported_keyframe(
    stack: Stack, source_10s: Path, tmp_path: Path
) -> None:
    upload = await stack.upload(source_10s)
    job = await stack.create_job(uploadKey=upload["uploadKey"], start=3.3, end=7, mode="fast")
    done = await stack.wait_for(job["id"])
    assert done["status"] == "done", done
    cut = done["result"]["cut"]
    assert cut["mode"] == "fast"
    # Keyframes every 2 s: the one at or before 3.3 s is at 2.0 s.
    assert cut["actualStart"] == pytest.approx(2.0, abs=FRAME / 2)
    assert cut["actualEnd"] >= 7 - FRAME
    assert cut["reencodedSec"] == 0

    await record_history_if_asked(stack, job["id"], "clip_fast_done")

    clip = await stack.download(done["result"]["video"]["url"], tmp_path / "fast.mp4")
    assert video_frame_times(clip)[0] == pytest.approx(0, abs=1e-3)
    assert frame_md5(clip) == frame_md5(source_10s, at=cut["actualStart"])


async def test_non_media_upload_is_415(stack: Stack, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 100)
    with text.open("rb") as handle:
        response = await stack.http.post("/api/uploads", files={"file": ("notes.mp4", handle)})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA"
    assert not any((stack.settings.data_dir / "sources").glob("*/*"))


async def test_audio_only_upload_is_415(stack: Stack, tmp_path: Path) -> None:
    audio = tmp_path / "talk.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=3",
            "-c:a",
            "aac",
            str(audio),
        ],
        check=True,
    )
    with audio.open("rb") as handle:
        response = await stack.http.post("/api/uploads", files={"file": ("talk.m4a", handle)})
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA"
    assert "no video stream" in error["message"]


async def test_bad_ranges_and_unknown_ids(stack: Stack, source_10s: Path) -> None:
    upload = await stack.upload(source_10s)
    key = upload["uploadKey"]
    cases = [
        ({"uploadKey": key, "start": 5, "end": 5}, "INVALID_RANGE"),
        ({"uploadKey": key, "start": "0:06", "end": "0:04"}, "INVALID_RANGE"),
        ({"uploadKey": key, "start": 1, "end": "00:00:12"}, "RANGE_OUTSIDE_SOURCE"),
        ({"uploadKey": key, "start": "1:2:3:4", "end": 5}, "INVALID_TIMECODE"),
        ({"uploadKey": key, "start": 1, "end": 5, "mode": "turbo"}, "VALIDATION_ERROR"),
        ({"uploadKey": key, "start": 1, "end": 5, "colour": "red"}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        response = await stack.http.post("/api/jobs", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, (body, response.text)

    missing = await stack.http.post(
        "/api/jobs", json={"uploadKey": "sources/nope/source.mp4", "start": 1, "end": 2}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "UPLOAD_NOT_FOUND"
    for path in ("/api/jobs/00000000-0000-0000-0000-000000000000", "/api/jobs/not-a-uuid/result"):
        response = await stack.http.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "JOB_NOT_FOUND"


async def test_idempotency_key_maps_to_one_job(stack: Stack, source_10s: Path) -> None:
    upload = await stack.upload(source_10s)
    body = {"uploadKey": upload["uploadKey"], "start": 1, "end": 2, "mode": "fast"}
    headers = {"Idempotency-Key": "clip-once"}
    first = await stack.http.post("/api/jobs", json=body, headers=headers)
    second = await stack.http.post("/api/jobs", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["job"]["id"] == second.json()["job"]["id"]
    other = await stack.http.post("/api/jobs", json={**body, "end": 3}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "CONFLICT"
    await stack.wait_for(first.json()["job"]["id"])


async def test_result_before_done_is_409(idle_stack: Stack, source_10s: Path) -> None:
    upload = await idle_stack.upload(source_10s)
    job = await idle_stack.create_job(uploadKey=upload["uploadKey"], start=1, end=2)
    try:
        response = await idle_stack.http.get(f"/api/jobs/{job['id']}/result")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "NOT_READY"
    finally:
        handle = idle_stack.deps.temporal.get_workflow_handle(f"clip-{job['id']}")
        await handle.terminate("test over")


async def test_service_documents_and_health(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    schema = (await stack.http.get("/schema/openapi.json")).json()
    for path in ("/api/uploads", "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result"):
        assert path in schema["paths"], sorted(schema["paths"])


async def test_truncated_source_fails_with_a_code_and_no_retries(
    stack: Stack, media_dir: Path
) -> None:
    whole = make_video(media_dir / "to_truncate.mp4", duration=10, faststart=True)
    broken = truncate(whole, 0.5)
    upload = await stack.upload(broken)
    # The index at the front still promises 10 s; the bytes for the second half are gone.
    job = await stack.create_job(uploadKey=upload["uploadKey"], start=7, end=9.5, mode="reencode")
    failed = await stack.wait_for(job["id"])
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "SOURCE_CORRUPT"
    assert failed["attempts"] == 1
    await record_history_if_asked(stack, job["id"], "clip_source_corrupt")
    history = await stack.deps.temporal.get_workflow_handle(f"clip-{job['id']}").fetch_history()
    attempts = [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert attempts and max(attempts) == 1
    result = await stack.http.get(f"/api/jobs/{job['id']}/result")
    assert result.status_code == 409
    assert not (local_root(stack.settings) / "results" / job["id"]).exists()
