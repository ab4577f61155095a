"""`make run`'s supervisor: embedded Temporal + Postgres, API and worker as children;
one clip through it; SIGTERM stops every child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from clipper.infra.temporal import temporal_cli
from tests.stack import free_port

pytestmark = pytest.mark.integration


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may contain spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(proc.name))
    return found


def start_supervisor(root: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """`make run`'s supervisor with everything under `root`, on free ports."""
    port = free_port()
    env = dict(
        os.environ,
        DATA_DIR=str(root / "data"),
        PORT=str(port),
        TEMPORAL_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(free_port()),
        LOG_LEVEL="warning",
    )
    for inherited in ("DATABASE_URL", "TEMPORAL_ADDRESS"):
        env.pop(inherited, None)
    process = subprocess.Popen([sys.executable, "-m", "workers.dev"], env=env)
    return process, f"http://127.0.0.1:{port}", env


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the supervisor exited during start-up"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("not ready in time")


def test_supervisor_runs_a_clip_and_stops_everything(tmp_path: Path, source_10s: Path) -> None:
    supervisor, url, env = start_supervisor(tmp_path / "one")
    # A second instance, with its own DATA_DIR and ports, runs beside the first.
    beside, beside_url, _ = start_supervisor(tmp_path / "two")
    try:
        wait_ready(url, supervisor)
        wait_ready(beside_url, beside)
        children = children_of(supervisor.pid)
        assert len(children) >= 3  # temporal dev server, API, worker (+ postgres via runuser)

        with httpx.Client(base_url=url, timeout=60) as client:
            with source_10s.open("rb") as handle:
                upload = client.post("/api/uploads", files={"file": ("s.mp4", handle)}).json()
            job = client.post(
                "/api/jobs",
                json={"uploadKey": upload["uploadKey"], "start": 1, "end": 3, "mode": "fast"},
            ).json()["job"]
            deadline = time.monotonic() + 60
            while (state := client.get(f"/api/jobs/{job['id']}").json()["job"])["status"] not in {
                "done",
                "failed",
            }:
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
            assert state["status"] == "done", state
            clip = client.get(state["result"]["video"]["url"])
            assert clip.status_code == 200
            assert clip.headers["content-type"] == "video/mp4"

        # Operators find the job in Temporal by its id and status, and the Web UI is up.
        query = f'ClipJobId="{job["id"]}" AND ClipStatus="done"'
        listed = ""
        for _ in range(50):  # visibility is eventually consistent
            listed = subprocess.run(
                [
                    str(temporal_cli()),
                    "workflow",
                    "list",
                    "--address",
                    f"127.0.0.1:{env['TEMPORAL_PORT']}",
                    "--query",
                    query,
                    "--output",
                    "json",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            if job["id"] in listed:
                break
            time.sleep(0.1)
        assert f"clip-{job['id']}" in listed
        assert (
            httpx.get(f"http://127.0.0.1:{env['TEMPORAL_UI_PORT']}/", timeout=10).status_code == 200
        )

        assert httpx.get(f"{beside_url}/api/jobs/{job['id']}").status_code == 404

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(60) == 0
        assert httpx.get(f"{beside_url}/readyz").status_code == 200
        time.sleep(0.5)
        assert {pid for pid in children if _running(pid)} == set()
        # Postgres daemonizes away from the supervisor: find it by its data dir instead.
        assert processes_mentioning(str(tmp_path / "one")) == []
    finally:
        for process in (supervisor, beside):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _running(int(proc.name)):
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
