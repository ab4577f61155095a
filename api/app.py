"""The Litestar application: create_app(deps) for tests, `python -m api` for a server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from api.deps import AppDeps
from api.errors import EXCEPTION_HANDLERS
from api.files import files_router
from api.health import healthz, readyz
from api.jobs import JobController
from api.uploads import create_upload
from api.web import index
from clipper.storage.local import LocalStorage


def create_app(deps: AppDeps, *, on_shutdown: list[Any] | None = None) -> Litestar:
    async def provide_deps() -> AppDeps:
        return deps

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for hook in on_shutdown or []:
                await hook()

    handlers: list[Any] = [index, create_upload, JobController, healthz, readyz]
    if isinstance(deps.storage, LocalStorage):
        # Only the local driver needs us to serve its signed URLs; buckets serve their own.
        handlers.append(files_router(deps.storage))
    return Litestar(
        route_handlers=handlers,
        dependencies={"deps": Provide(provide_deps, use_cache=True)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="clipper",
            version="1",
            description="Cut exact clips out of videos; fetch them through signed URLs.",
            path="/schema",
        ),
    )
