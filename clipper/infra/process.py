"""Long-lived child processes (the supervisor's API and worker).

Run-to-completion tools (ffmpeg, ffprobe) go through clipper.media.runner; both
use `die_with_parent` so no child outlives a killed parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
from collections.abc import Mapping, Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGKILL this child when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


async def spawn_child(argv: Sequence[str], *, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        preexec_fn=die_with_parent,
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
