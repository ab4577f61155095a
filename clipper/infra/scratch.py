"""Per-worker scratch space, and the sweeping of what dead workers left behind.

Each worker process owns `root/<worker_id>/` and holds an exclusive flock on its
`.lock` file for as long as it lives. The kernel drops the lock when the process dies,
however it dies, so a new worker can tell a dead worker's dir from a live one's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path


class ScratchSpace:
    def __init__(self, root: Path, worker_id: str) -> None:
        self.root = root
        self.dir = root / worker_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def job_dir(self, job_id: str, *, fresh: bool = False) -> Path:
        """The job's dir; `fresh` empties what an earlier attempt left."""
        path = self.dir / job_id
        if fresh:
            shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def discard(self, job_id: str) -> None:
        shutil.rmtree(self.dir / job_id, ignore_errors=True)

    def sweep_stale(self) -> list[Path]:
        """Remove the dirs of workers that are no longer alive; return what was removed."""
        removed = []
        for other in self.root.iterdir():
            if other == self.dir or not other.is_dir():
                continue
            if _lock_is_free(other / ".lock"):
                shutil.rmtree(other, ignore_errors=True)
                removed.append(other)
        return removed

    def close(self) -> None:
        os.close(self._lock_fd)
        shutil.rmtree(self.dir, ignore_errors=True)


def _lock_is_free(lock_file: Path) -> bool:
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
