"""Long-lived child processes (the supervisor's API and worker).

Run-to-completion tools (ffmpeg, ffprobe) go through clipper.media.runner; both
use `die_with_parent` so no child outlives a killed parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when its parent dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def setup() -> None:
        # Runs in the child between fork and exec. The kernel signals the child when the
        # *thread* that forked it exits; that is the event loop's thread, which lives as
        # long as the work that awaits this process.
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            # The parent died before prctl took effect: no one would ever kill us.
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


async def spawn_child(argv: Sequence[str], *, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        preexec_fn=die_with_parent(os.getpid()),
    )


async def stop_children(
    children: Sequence[asyncio.subprocess.Process], *, grace_sec: float = 15.0
) -> None:
    """SIGTERM every child, give them `grace_sec` to finish, then SIGKILL the rest."""
    for child in children:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*(c.wait() for c in children)), grace_sec)
    except TimeoutError:
        for child in children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
        await asyncio.gather(*(c.wait() for c in children))
