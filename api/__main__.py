"""The API server: `python -m api` (uvicorn on HOST:PORT)."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from api.app import create_app
from api.deps import build_deps
from clipper.config import ConfigError, Settings, load_settings
from clipper.logs import configure_logging


async def serve(settings: Settings) -> None:
    # Dependencies are built on the loop uvicorn will serve from: asyncpg pools and the
    # Temporal client belong to one event loop.
    deps = await build_deps(settings)
    app = create_app(deps, on_shutdown=[deps.pool.close])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
    await server.serve()


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as err:
        sys.exit(f"clipper api: bad configuration: {err}")
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
