"""The process runner against real processes: output, errors, timeouts, and killing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clipper.errors import ClipperError, ErrorCode
from clipper.media.runner import STDERR_TAIL_LINES, ProcessError, Progress, run_process

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# Paced by -re to real time, so it is long without loading the machine.
ENDLESS_FFMPEG = [
    "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-nostats", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-f", "null", "-",
]  # fmt: skip


def children(parent: int, name: str = "ffmpeg") -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == parent and comm == name:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited; only reaping is left


async def wait_for_child(parent: int) -> int:
    for _ in range(200):
        pids = children(parent)
        if pids:
            return pids[0]
        await asyncio.sleep(0.02)
    raise AssertionError("ffmpeg did not start")


async def test_stdout_and_success() -> None:
    result = await run_process(
        [sys.executable, "-c", "print('hello'); import sys; print('w', file=sys.stderr)"]
    )
    assert result.returncode == 0
    assert result.stdout == "hello\n"
    assert result.stderr_tail == ("w",)


async def test_failure_keeps_the_stderr_tail() -> None:
    script = "import sys\nfor i in range(100): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(ProcessError) as caught:
        await run_process([sys.executable, "-c", script])
    error = caught.value
    assert error.returncode == 3
    assert len(error.stderr_tail) == STDERR_TAIL_LINES
    assert error.stderr_tail[-1] == "line 99"
    assert error.argv[0] == sys.executable
    assert "exited with status 3: line 99" in str(error)


async def test_ffmpeg_failure() -> None:
    with pytest.raises(ProcessError) as caught:
        await run_process(["ffmpeg", "-hide_banner", "-nostdin", "-i", "file:/nonexistent/x.mp4"])
    assert caught.value.returncode != 0
    assert any("No such file" in line for line in caught.value.stderr_tail)


async def test_progress_sync_and_async_callbacks() -> None:
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-f", "null", "-",
    ]  # fmt: skip
    seen: list[Progress] = []
    result = await run_process(argv, on_progress=seen.append)
    assert "progress=end" in result.stdout
    assert seen[-1].done and not any(p.done for p in seen[:-1])
    assert seen[-1].out_time_sec == pytest.approx(2.0, abs=0.05)

    async def slow(progress: Progress) -> None:
        await asyncio.sleep(0)
        seen_async.append(progress)

    seen_async: list[Progress] = []
    await run_process(argv, on_progress=slow)
    assert seen_async[-1].done


async def test_timeout_kills() -> None:
    started = time.monotonic()
    with pytest.raises(ClipperError) as caught:
        await run_process(ENDLESS_FFMPEG, timeout_sec=0.5)
    assert caught.value.code is ErrorCode.TIMEOUT
    assert time.monotonic() - started < 5
    assert children(os.getpid()) == []


async def test_cancellation_kills_ffmpeg() -> None:
    task = asyncio.create_task(run_process(ENDLESS_FFMPEG))
    pid = await wait_for_child(os.getpid())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Killed and reaped before CancelledError reached us.
    assert not Path(f"/proc/{pid}").exists()


def test_child_dies_with_a_sigkilled_parent() -> None:
    # The child ffmpeg writes nothing to its pipes, so only PR_SET_PDEATHSIG can end it: a
    # child that wrote would die of SIGPIPE anyway and prove nothing.
    quiet = [arg if arg != "warning" else "quiet" for arg in ENDLESS_FFMPEG]
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from pathlib import Path
        from clipper.media.runner import run_process

        async def main():
            task = asyncio.create_task(run_process({quiet!r}))
            while True:
                await asyncio.sleep(0.02)
                for entry in os.listdir("/proc"):
                    if not entry.isdigit():
                        continue
                    try:
                        stat = Path(f"/proc/{{entry}}/stat").read_text()
                    except OSError:
                        continue
                    ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                    if "(ffmpeg)" in stat and ppid == os.getpid():
                        print(entry, flush=True)
                        await task

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        ffmpeg_pid = int(line)
        assert alive(ffmpeg_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 2.0
        while alive(ffmpeg_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(ffmpeg_pid), "ffmpeg outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
