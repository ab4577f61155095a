"""The API's other doors: one-request upload+job, raw uploads, size limits, live events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from clipper.storage import local_root
from tests.stack import Stack, running_stack, stack_settings

pytestmark = pytest.mark.integration


async def test_upload_and_job_in_one_request(stack: Stack, source_10s: Path) -> None:
    with source_10s.open("rb") as handle:
        response = await stack.http.post(
            "/api/jobs/upload",
            data={"start": "00:00:01", "end": "2.5", "mode": "fast"},
            files={"file": ("talk.mp4", handle, "video/mp4")},
        )
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert job["request"]["uploadKey"].startswith("sources/")
    assert job["request"]["uploadKey"].endswith("/source.mp4")
    done = await stack.wait_for(job["id"])
    assert done["status"] == "done", done


async def test_bad_fields_of_a_one_request_job_are_400(stack: Stack, source_10s: Path) -> None:
    with source_10s.open("rb") as handle:
        response = await stack.http.post(
            "/api/jobs/upload",
            data={"start": "5", "end": "3"},
            files={"file": ("talk.mp4", handle, "video/mp4")},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_RANGE"
    # The upload is kept: the job can be fixed without sending the file again.
    fixed = await stack.http.post(
        "/api/jobs", json={"uploadKey": error["details"]["uploadKey"], "start": 3, "end": 5}
    )
    assert fixed.status_code == 202, fixed.text
    assert (await stack.wait_for(fixed.json()["job"]["id"]))["status"] == "done"


async def test_a_raw_body_upload_works_too(stack: Stack, source_10s: Path) -> None:
    response = await stack.http.post(
        "/api/uploads?filename=clip.mov",
        content=source_10s.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["uploadKey"].endswith("/source.mov")
    assert response.json()["bytes"] == source_10s.stat().st_size


async def test_a_multipart_body_without_a_file_is_400(stack: Stack) -> None:
    response = await stack.http.post("/api/uploads", files={"start": (None, "1")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_uploads_over_the_limit_are_413_and_leave_nothing(
    tmp_path: Path, db_url: str, temporal_env: WorkflowEnvironment, source_10s: Path
) -> None:
    assert source_10s.stat().st_size > 100_000
    settings = stack_settings(tmp_path / "data", db_url, temporal_env, max_upload_mb=1)
    big = tmp_path / "big.mp4"
    big.write_bytes(source_10s.read_bytes() * (2 * 1024 * 1024 // source_10s.stat().st_size + 1))
    async with running_stack(settings, temporal_env, with_worker=False) as stack:
        with big.open("rb") as handle:
            response = await stack.http.post("/api/uploads", files={"file": ("big.mp4", handle)})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "UPLOAD_TOO_LARGE"

        # Without a Content-Length to refuse early, the stream is cut off at the limit.
        async def chunks():  # type: ignore[no-untyped-def]
            data = big.read_bytes()
            for offset in range(0, len(data), 256 * 1024):
                yield data[offset : offset + 256 * 1024]

        response = await stack.http.post(
            "/api/uploads", content=chunks(), headers={"Content-Type": "video/mp4"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "UPLOAD_TOO_LARGE"
        stored = [p for p in (local_root(settings) / "sources").rglob("*") if p.is_file()]
        assert stored == []


async def test_live_events_follow_the_job_to_its_end(stack: Stack, source_10s: Path) -> None:
    upload = await stack.upload(source_10s)
    job = await stack.create_job(uploadKey=upload["uploadKey"], start=1, end=3, mode="reencode")
    seen: list[tuple[str, dict[str, object]]] = []
    async with stack.http.stream(
        "GET", f"/api/jobs/{job['id']}/events", headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((kind, json.loads(line.split(":", 1)[1])))
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "created"
    statuses = [data["data"]["status"] for kind, data in seen if kind == "status"]  # type: ignore[index]
    assert statuses == ["processing", "done"]
    assert seen[-1][0] in {"status", "progress"}
    progress = [data for kind, data in seen if kind == "progress"]
    assert progress and progress[-1]["status"] == "done"
