"""A whole clipper in one test process: the API served by uvicorn on a free port, its
dependencies and a worker, against the session's real Temporal dev server and a fresh
Postgres database. Everything shares the test's event loop, as asyncpg pools require."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.deps import AppDeps, build_deps
from clipper.config import Settings
from clipper.infra.postgres import free_port
from workers.worker import running_workers

TERMINAL = {"done", "failed", "canceled"}


def stack_settings(
    data_dir: Path, db_url: str, env: WorkflowEnvironment, **overrides: Any
) -> Settings:
    base = Settings(
        data_dir=data_dir,
        database_url=db_url,
        temporal_address=env.client.service_client.config.target_host,
        signing_secret="test-signing-secret",
        max_upload_mb=64,
    )
    return msgspec.structs.replace(base, **overrides)


@dataclass
class Stack:
    settings: Settings
    deps: AppDeps
    http: httpx.AsyncClient

    def worker_env(self) -> dict[str, str]:
        """Environment for a worker in a child process, pointing at the same services."""
        env = dict(os.environ)
        env.update(
            DATA_DIR=str(self.settings.data_dir),
            DATABASE_URL=str(self.settings.database_url),
            TEMPORAL_ADDRESS=str(self.settings.temporal_address),
            SIGNING_SECRET=str(self.settings.signing_secret),
            LOG_LEVEL="warning",
        )
        return env

    def worker_command(self) -> list[str]:
        return [sys.executable, "-m", "workers.worker"]

    async def upload(self, path: Path) -> dict[str, Any]:
        with path.open("rb") as handle:
            response = await self.http.post("/api/uploads", files={"file": (path.name, handle)})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def create_job(self, **request: Any) -> dict[str, Any]:
        response = await self.http.post("/api/jobs", json=request)
        assert response.status_code == 202, response.text
        job: dict[str, Any] = response.json()["job"]
        return job

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()["job"]
        return job

    async def wait_for(
        self, job_id: str, *, timeout: float = 120.0, until: Any = None
    ) -> dict[str, Any]:
        """Poll the job until `until(job)` holds (default: a terminal status)."""
        condition = until or (lambda job: job["status"] in TERMINAL)
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
            await asyncio.sleep(0.05)

    async def download(self, url: str, dest: Path) -> Path:
        response = await self.http.get(url)
        assert response.status_code == 200, response.text
        dest.write_bytes(response.content)
        return dest


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, env: WorkflowEnvironment, *, with_worker: bool = True
) -> AsyncIterator[Stack]:
    deps = await build_deps(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if with_worker:
                await stack.enter_async_context(running_workers(env.client, settings))
            base_url = await stack.enter_async_context(serving(create_app(deps)))
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, timeout=60)
            )
            yield Stack(settings, deps, client)
    finally:
        await deps.pool.close()
