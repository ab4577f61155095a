"""What the API's handlers need, built once per process (or handed in by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from temporalio.client import Client

from clipper.config import Settings
from clipper.db.jobs import JobRepo
from clipper.db.pool import create_pool
from clipper.db.uploads import UploadRepo
from clipper.infra.temporal import connect
from clipper.services.jobs import JobService
from clipper.services.uploads import UploadService
from clipper.storage import make_storage
from clipper.storage.base import Storage


@dataclass
class AppDeps:
    settings: Settings
    pool: Any  # asyncpg.Pool
    storage: Storage
    temporal: Client
    jobs: JobService
    uploads: UploadService

    def base_url(self, request: Request[Any, Any, Any]) -> str:
        """Base of the signed URLs we hand out: PUBLIC_URL, else how the client reached us."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")


# How handlers ask for them: `deps: Deps`.
Deps = NamedDependency[AppDeps]


async def build_deps(settings: Settings) -> AppDeps:
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is unset: start the API through `make run`")
    pool = await create_pool(settings.database_url)
    storage = make_storage(settings)
    temporal = await connect(settings)
    jobs, uploads = JobRepo(pool), UploadRepo(pool)
    return AppDeps(
        settings=settings,
        pool=pool,
        storage=storage,
        temporal=temporal,
        jobs=JobService(settings, jobs, uploads, temporal),
        uploads=UploadService(settings, storage, uploads),
    )
