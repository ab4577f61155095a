"""The one place that spawns processes (ffmpeg, ffprobe).

`run_process` streams `-progress pipe:1` blocks to a callback, keeps the tail of stderr,
enforces a timeout, and makes sure the child never outlives us: on cancellation or timeout
the child's process group is SIGKILLed and reaped, and on Linux the kernel SIGKILLs it if
our process dies without a chance to clean up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from clipper.errors import ClipperError, ErrorCode
from clipper.infra.process import die_with_parent

STDERR_TAIL_LINES = 40
_MAX_LINE_CHARS = 2000
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Progress:
    out_time_sec: float
    speed: float | None
    done: bool


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stdout: str
    stderr_tail: tuple[str, ...]


class ProcessError(Exception):
    """A process exited with a non-zero status."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr_tail: Sequence[str]) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = tuple(stderr_tail)
        program = os.path.basename(self.argv[0]) if self.argv else "?"
        last = self.stderr_tail[-1] if self.stderr_tail else "no output on stderr"
        super().__init__(f"{program} exited with status {returncode}: {last}")


ProgressCallback = Callable[[Progress], Awaitable[None] | None]


class ProgressParser:
    """Incremental parser of ffmpeg's `-progress` output.

    ffmpeg writes `key=value` lines and closes each block with `progress=continue` or
    `progress=end`; one Progress comes out per block.
    """

    def __init__(self) -> None:
        self._out_time: float | None = None
        self._speed: float | None = None
        self._last_out_time = 0.0

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        key, value = key.strip(), value.strip()
        if key == "out_time_us":
            self._out_time = _micros(value)
        elif key == "out_time_ms" and self._out_time is None:
            # Despite its name, ffmpeg writes microseconds here too (a long-standing quirk).
            self._out_time = _micros(value)
        elif key == "out_time" and self._out_time is None:
            self._out_time = _clock(value)
        elif key == "speed":
            self._speed = _speed(value)
        elif key == "progress":
            if self._out_time is not None:
                # Negative while audio priming is skipped; N/A before the first packet.
                self._last_out_time = max(0.0, self._out_time)
            progress = Progress(self._last_out_time, self._speed, value == "end")
            self._out_time = None
            self._speed = None
            return progress
        return None


def parse_progress(lines: Iterable[str]) -> list[Progress]:
    """Every progress block in `lines`, in order."""
    parser = ProgressParser()
    return [p for line in lines if (p := parser.feed(line)) is not None]


def _micros(value: str) -> float | None:
    try:
        return int(value) / 1_000_000
    except ValueError:
        return None  # "N/A"


def _clock(value: str) -> float | None:
    sign = -1.0 if value.startswith("-") else 1.0
    parts = value.lstrip("-").split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, secs = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return sign * (hours * 3600 + minutes * 60 + secs)


def _speed(value: str) -> float | None:
    try:
        return float(value.rstrip("x").strip())
    except ValueError:
        return None  # "N/A"


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass


def _split_lines(buffer: str) -> tuple[list[str], str]:
    parts = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return parts[:-1], parts[-1]


async def _read_stderr(stream: asyncio.StreamReader, tail: deque[str]) -> None:
    pending = ""
    while chunk := await stream.read(_READ_CHUNK):
        lines, pending = _split_lines(pending + chunk.decode("utf-8", errors="replace"))
        tail.extend(line[:_MAX_LINE_CHARS] for line in lines if line.strip())
        # A line without end (a binary spew) must not grow without bound.
        pending = pending[-_MAX_LINE_CHARS:]
    if pending.strip():
        tail.append(pending)


async def _read_stdout(stream: asyncio.StreamReader, on_progress: ProgressCallback | None) -> str:
    chunks: list[str] = []
    parser = ProgressParser()
    pending = ""
    while chunk := await stream.read(_READ_CHUNK):
        text = chunk.decode("utf-8", errors="replace")
        chunks.append(text)
        if on_progress is None:
            continue
        lines, pending = _split_lines(pending + text)
        for line in lines:
            progress = parser.feed(line)
            if progress is not None:
                result = on_progress(progress)
                if inspect.isawaitable(result):
                    await result
    return "".join(chunks)


async def run_process(
    argv: Sequence[str],
    *,
    on_progress: ProgressCallback | None = None,
    timeout_sec: float | None = None,
) -> ProcessResult:
    """Run `argv` to completion and return its stdout and the tail of its stderr.

    Raises ProcessError on a non-zero exit, ClipperError(TIMEOUT) after `timeout_sec`.
    Cancelling the awaiting task kills the process (group) before CancelledError propagates.
    """
    if not argv:
        raise ValueError("empty argv")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # A session of its own: one killpg reaches anything ffmpeg may spawn, and a Ctrl-C
        # meant for us does not reach the child before we can clean up.
        start_new_session=os.name == "posix",
        preexec_fn=die_with_parent(os.getpid()),
    )
    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    stderr_task = asyncio.create_task(_read_stderr(proc.stderr, tail))
    try:
        async with asyncio.timeout(timeout_sec):
            stdout = await _read_stdout(proc.stdout, on_progress)
            await stderr_task
            returncode = await proc.wait()
    except TimeoutError:
        await _reap(proc, stderr_task)
        program = os.path.basename(argv[0])
        raise ClipperError(
            ErrorCode.TIMEOUT,
            f"{program} did not finish within {timeout_sec:g} s",
            details={"stderr_tail": list(tail)},
        ) from None
    except BaseException:
        await _reap(proc, stderr_task)
        raise
    if returncode != 0:
        raise ProcessError(argv, returncode, tuple(tail))
    return ProcessResult(returncode, stdout, tuple(tail))


async def _reap(proc: asyncio.subprocess.Process, stderr_task: asyncio.Task[None]) -> None:
    _kill_group(proc)
    stderr_task.cancel()
    # After SIGKILL the wait is short. Should we be cancelled again meanwhile, the child is
    # dead already and asyncio's child watcher still reaps it.
    await asyncio.gather(proc.wait(), stderr_task, return_exceptions=True)
