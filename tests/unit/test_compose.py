"""docker-compose.yml cannot run here (no Docker engine), so it is checked as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from clipper.config import Settings

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {field.name.upper() for field in msgspec.structs.fields(Settings)}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_the_whole_deployment_is_described() -> None:
    services = compose()["services"]
    for name in (
        "postgres",
        "temporal",
        "temporal-ui",
        "migrate",
        "api",
        "worker-workflows",
        "worker-encode",
    ):
        assert name in services, name
    assert services["api"]["ports"] == ["8000:8000"]


def test_every_clipper_variable_is_one_we_read() -> None:
    services = compose()["services"]
    for name in ("api", "worker-workflows", "worker-encode"):
        env = services[name]["environment"]
        unknown = set(env) - KNOWN
        assert not unknown, (name, unknown)
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["DATABASE_URL"].startswith("postgresql://")


def test_workers_serve_the_queues_they_claim() -> None:
    services = compose()["services"]
    assert services["worker-encode"]["command"][-1] == "encode"
    assert services["worker-workflows"]["command"][-1] == "workflows"


def test_the_image_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("clipper", "api", "workflows", "activities", "workers", "migrations"):
        assert f"COPY {package} ./{package}" in dockerfile, package
