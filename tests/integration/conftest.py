from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.media import make_video
from tests.stack import Stack, running_stack, stack_settings


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def source_10s(media_dir: Path) -> Path:
    """10 s, 320x240, 25 fps, a keyframe every 2 s, AAC audio."""
    return make_video(media_dir / "source_10s.mp4", duration=10, gop_sec=2.0)


@pytest_asyncio.fixture
async def stack(
    tmp_path: Path, db_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Stack]:
    settings = stack_settings(tmp_path / "data", db_url, temporal_env)
    async with running_stack(settings, temporal_env) as running:
        yield running


@pytest_asyncio.fixture
async def idle_stack(
    tmp_path: Path, db_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Stack]:
    """The API without any worker: jobs stay queued."""
    settings = stack_settings(tmp_path / "data", db_url, temporal_env)
    async with running_stack(settings, temporal_env, with_worker=False) as running:
        yield running


@pytest.fixture(scope="session")
def source_long(media_dir: Path) -> Path:
    """A source whose re-encode takes several seconds here: room to kill or cancel mid-cut."""
    return make_video(media_dir / "source_long.mp4", duration=40, size="1280x720", gop_sec=2.0)
