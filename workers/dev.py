"""The single-machine supervisor behind `make run`.

Starts what is not configured elsewhere (the Temporal dev server with its Web UI, an
embedded Postgres with the migrations applied), then the API and one worker serving
every queue, as child processes. Ctrl-C or SIGTERM stops every child, then the
embedded services. A second instance with another DATA_DIR and ports runs beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

import structlog

from clipper.config import ConfigError, Settings, load_settings
from clipper.infra.postgres import EmbeddedPostgres, migrate
from clipper.infra.process import spawn_child, stop_children
from clipper.infra.temporal import connect, ensure_search_attributes, start_dev_server
from clipper.logs import configure_logging

log = structlog.get_logger("clipper.dev")

CHILDREN: dict[str, Sequence[str]] = {
    "api": (sys.executable, "-m", "api"),
    "worker": (sys.executable, "-m", "workers.worker"),
}


async def supervise(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DATA_DIR"] = str(settings.data_dir.resolve())
    async with contextlib.AsyncExitStack() as services:
        if settings.temporal_address is None:
            temporal = await start_dev_server(settings)
            services.push_async_callback(temporal.shutdown)
            env["TEMPORAL_ADDRESS"] = temporal.client.service_client.config.target_host
            log.info("temporal dev server started", address=env["TEMPORAL_ADDRESS"])
        else:
            client = await connect(settings)
            await ensure_search_attributes(client, settings.temporal_namespace)

        database_url = settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(settings.data_dir.resolve())
            database_url = await asyncio.to_thread(postgres.start)
            services.push_async_callback(asyncio.to_thread, postgres.stop)
            env["DATABASE_URL"] = database_url
            log.info("embedded postgres started")
        await asyncio.to_thread(migrate, database_url)

        children = {name: await spawn_child(argv, env=env) for name, argv in CHILDREN.items()}
        log.info(
            "clipper is up",
            api=f"http://{settings.host}:{settings.port}",
            temporal_ui=f"http://127.0.0.1:{settings.temporal_ui_port}"
            if settings.temporal_address is None
            else None,
        )
        exit_code = await _wait_for_stop(children)
        await stop_children(list(children.values()))
    return exit_code


async def _wait_for_stop(children: dict[str, asyncio.subprocess.Process]) -> int:
    """Until a signal arrives (exit 0) or a child dies on its own (exit 1)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waits = {asyncio.create_task(child.wait()): name for name, child in children.items()}
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *waits], return_when=asyncio.FIRST_COMPLETED)
    for task in [stopper, *waits]:
        if task not in done:
            task.cancel()
    if stopper in done:
        log.info("stopping")
        return 0
    for task in done:
        log.error("child exited; stopping everything", child=waits[task], code=task.result())
    return 1


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as err:
        sys.exit(f"clipper: bad configuration: {err}")
    configure_logging(settings.log_level)
    sys.exit(asyncio.run(supervise(settings)))


if __name__ == "__main__":
    main()
