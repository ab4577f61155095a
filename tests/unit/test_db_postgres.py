"""Pure helpers of the database layer; no server needed."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from clipper.db.jobs import _clamp_progress, parse_uuid
from clipper.infra.postgres import (
    MigrationError,
    _conf_quote,
    _proc_alive,
    _read_pidfile,
    fallback_dir,
    find_bindir,
    find_dbmate,
    free_port,
    redact_url,
    run_dbmate,
)


def test_find_bindir_has_server_binaries() -> None:
    bindir = find_bindir()
    for name in ("initdb", "pg_ctl", "postgres", "psql"):
        assert (bindir / name).exists(), name


def test_find_bindir_prefers_the_clusters_version() -> None:
    bindir = find_bindir()
    version = bindir.parent.name
    if not version.isdigit():
        pytest.skip("not a Debian layout")
    assert find_bindir(version) == Path(f"/usr/lib/postgresql/{version}/bin")


def test_find_dbmate() -> None:
    assert os.access(find_dbmate(), os.X_OK)


def test_fallback_dir_is_stable_per_data_dir(tmp_path: Path) -> None:
    root = Path("/var/tmp/x")
    a = fallback_dir(tmp_path / "a", root)
    assert a == fallback_dir(tmp_path / "a" / ".." / "a", root)
    assert a != fallback_dir(tmp_path / "b", root)
    assert a.parent == root and len(a.name) == 16


def test_free_port_is_bindable() -> None:
    assert 1024 <= free_port() <= 65535


def test_redact_url() -> None:
    assert redact_url("postgresql://u:s3cret@h:5432/db?x=1") == "postgresql://u:***@h:5432/db?x=1"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_conf_quote() -> None:
    assert _conf_quote("/tmp/it's") == "'/tmp/it''s'"
    assert _conf_quote("a\\b") == "'a\\\\b'"


def test_read_pidfile(tmp_path: Path) -> None:
    path = tmp_path / "postmaster.pid"
    assert _read_pidfile(path) is None
    path.write_text("4242\n/data\n1700000000\n54321\n/run\n127.0.0.1\n  1 2\nready   \n")
    info = _read_pidfile(path)
    assert info is not None and (info.pid, info.port, info.status) == (4242, 54321, "ready")
    path.write_text("garbage")
    info = _read_pidfile(path)
    assert info is not None and info.pid == 0


def test_proc_alive_treats_zombies_as_dead() -> None:
    assert _proc_alive(os.getpid())
    child = subprocess.Popen(["true"])
    try:
        # Not yet reaped: a zombie, which kill(pid, 0) would still report as alive.
        for _ in range(200):
            if not _proc_alive(child.pid):
                break
            subprocess.run(["sleep", "0.01"], check=False)
        assert not _proc_alive(child.pid)
    finally:
        child.wait()
    assert not _proc_alive(child.pid)


def test_dbmate_errors_never_show_the_password() -> None:
    with pytest.raises(MigrationError) as info:
        run_dbmate("postgresql://u:hunter2@127.0.0.1:1/x?sslmode=disable", "status", timeout=30)
    assert "hunter2" not in str(info.value)
    assert "dbmate status failed" in str(info.value)


def test_parse_uuid() -> None:
    value = uuid.uuid4()
    assert parse_uuid(str(value)) == value
    assert parse_uuid(value) is value
    assert parse_uuid(str(value).upper()) == value
    for bad in ("", "nope", "1234", "../etc"):
        assert parse_uuid(bad) is None


def test_clamp_progress() -> None:
    assert [_clamp_progress(v) for v in (-5, 0, 42, 100, 250)] == [0, 0, 42, 100, 100]
