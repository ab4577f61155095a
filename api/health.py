"""Liveness (/healthz) and readiness (/readyz: database, Temporal, storage)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get

from api.deps import Deps
from clipper.db.pool import check as check_db

READY_TIMEOUT_SEC = 3.0


@get("/healthz", summary="The process is up", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", summary="Database, Temporal and storage answer", tags=["health"])
async def readyz(deps: Deps) -> Response[dict[str, Any]]:
    checks = {
        "database": check_db(deps.pool),
        "temporal": deps.temporal.service_client.check_health(),
        "storage": deps.storage.check(),
    }
    results: dict[str, str] = {}
    for name, probe in checks.items():
        try:
            await asyncio.wait_for(probe, READY_TIMEOUT_SEC)
            results[name] = "ok"
        except Exception as err:  # any failure means not ready; say which part
            results[name] = f"error: {type(err).__name__}"
    ready = all(value == "ok" for value in results.values())
    return Response(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
    )
