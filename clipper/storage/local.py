"""The `local` storage driver: objects are files under one root directory.

Keys map to paths below the root. A key is one or more segments of `[A-Za-z0-9._-]`
joined by '/'; segments may not start with '.' (that keeps temp files, `.`/`..` and hidden
files out of the key space) and are at most 200 characters so the temp name still fits in
NAME_MAX. Errors:

- a malformed key is a caller bug: ClipperError(VALIDATION_ERROR);
- a well-formed key whose real path leaves the root (a symlink inside the root pointing out)
  is treated as an object we do not have: ClipperError(NOT_FOUND) from reads and writes,
  False/None from `exists`/`size`, and a no-op for `delete`;
- filesystem failures (disk full, permissions) surface as ClipperError(STORAGE_ERROR).

Writes go to `.{name}.{random}.part` next to the target, are fsynced, then `os.replace`d
into place, so readers see the old object or the new one, never a mix. `content_type` is
not stored: the file route derives it from the key's extension.

Only the API serves these files (api/files.py), through URLs signed by `UrlSigner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from clipper.errors import ClipperError, ErrorCode
from clipper.storage.base import SignedUrl
from clipper.storage.signing import UrlSigner

MAX_KEY_LENGTH = 1024
MAX_SEGMENT_LENGTH = 200
# Chunks are batched up to this size before one blocking write in a worker thread: large
# enough that thread hops are rare, small enough that memory per upload stays bounded.
WRITE_BATCH_BYTES = 1024 * 1024

_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def validate_key(key: str) -> str:
    """Return `key` if it is a well-formed storage key, else raise VALIDATION_ERROR."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ClipperError(ErrorCode.VALIDATION_ERROR, "Storage key is empty or too long.")
    for segment in key.split("/"):
        if len(segment) > MAX_SEGMENT_LENGTH or not _SEGMENT.fullmatch(segment):
            raise ClipperError(ErrorCode.VALIDATION_ERROR, f"Invalid storage key {key[:100]!r}.")
    return key


def _storage_error(action: str, exc: OSError) -> ClipperError:
    # The user may see this message: name the failure, not our filesystem layout.
    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return ClipperError(ErrorCode.STORAGE_ERROR, f"Storage could not {action} ({reason}).")


def _not_found(key: str) -> ClipperError:
    return ClipperError(ErrorCode.NOT_FOUND, f"No object {key!r} in storage.")


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")


def _fsync_dir(directory: Path) -> None:
    # Without this a crash right after os.replace may forget the rename.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class LocalStorage:
    """Storage on the local filesystem; implements `clipper.storage.base.Storage`."""

    def __init__(
        self,
        root: Path,
        signer: UrlSigner,
        public_base_url: str | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Resolved once so a root that is itself a symlink (e.g. to a mounted disk) is allowed.
        self.root = Path(os.path.realpath(root))
        self.signer = signer
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._clock = clock

    # -- paths -----------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The absolute path of `key`, guaranteed inside the root (following symlinks).

        Raises VALIDATION_ERROR for a malformed key, NOT_FOUND when it escapes the root.
        The file itself need not exist.
        """
        validate_key(key)
        path = Path(os.path.realpath(self.root / key))
        if not path.is_relative_to(self.root) or path == self.root:
            raise _not_found(key)
        return path

    def _contained(self, key: str) -> Path | None:
        try:
            return self.path_for(key)
        except ClipperError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return None
            raise

    def _prepare_target(self, key: str) -> Path:
        """Create the parent folders of `key` and return its path, re-checked after mkdir."""
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _storage_error("create a folder", exc) from exc
        # A symlink swapped in while we created folders must not redirect the write.
        if self.path_for(key) != path:
            raise _not_found(key)
        return path

    # -- writes ----------------------------------------------------------------------------

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str,
        max_bytes: int | None = None,
    ) -> int:
        target = await asyncio.to_thread(self._prepare_target, key)
        tmp = _temp_path(target)
        total = 0
        try:
            file = await asyncio.to_thread(open, tmp, "xb")
        except OSError as exc:
            raise _storage_error("create a file", exc) from exc
        try:
            batch: list[bytes] = []
            batched = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise ClipperError(
                        ErrorCode.UPLOAD_TOO_LARGE,
                        f"The upload is larger than the limit of {max_bytes} bytes.",
                        {"maxBytes": max_bytes},
                    )
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH_BYTES:
                    await asyncio.to_thread(_write_all, file, batch)
                    batch, batched = [], 0
            await asyncio.to_thread(_finish, file, batch, tmp, target)
        except BaseException:
            # Synchronous on purpose: cleanup must also run when we are being cancelled.
            # BufferedWriter.close waits for a write still running in its thread.
            with contextlib.suppress(OSError):
                file.close()
            _unlink_quietly(tmp)
            raise
        return total

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        return await asyncio.to_thread(self._put_file_sync, key, path)

    def _put_file_sync(self, key: str, source: Path) -> int:
        # A copy, not a hard link: a caller re-running ffmpeg with -y on the same scratch path
        # would truncate a linked inode and corrupt the stored object. shutil.copyfile uses
        # sendfile on Linux, so the bytes never pass through Python.
        target = self._prepare_target(key)
        tmp = _temp_path(target)
        try:
            shutil.copyfile(source, tmp)
            size = _fsync_and_size(tmp)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except FileNotFoundError as exc:
            _unlink_quietly(tmp)
            if not source.exists():
                raise ClipperError(ErrorCode.NOT_FOUND, "The file to store is missing.") from exc
            raise _storage_error("write a file", exc) from exc
        except BaseException as exc:
            _unlink_quietly(tmp)
            if isinstance(exc, OSError):
                raise _storage_error("write a file", exc) from exc
            raise
        return size

    # -- reads -----------------------------------------------------------------------------

    async def get_to_file(self, key: str, path: Path) -> int:
        return await asyncio.to_thread(self._get_to_file_sync, key, path)

    def _get_to_file_sync(self, key: str, destination: Path) -> int:
        source = self.path_for(key)
        if not source.is_file():
            raise _not_found(key)
        tmp = _temp_path(destination)
        try:
            shutil.copyfile(source, tmp)
            size = tmp.stat().st_size
            os.replace(tmp, destination)
        except FileNotFoundError as exc:
            _unlink_quietly(tmp)
            if not source.exists():
                raise _not_found(key) from exc
            raise _storage_error("read a file", exc) from exc
        except BaseException as exc:
            _unlink_quietly(tmp)
            if isinstance(exc, OSError):
                raise _storage_error("read a file", exc) from exc
            raise
        return size

    async def media_input(self, key: str) -> str:
        validate_key(key)
        path = await asyncio.to_thread(self.path_for, key)  # NOT_FOUND when it escapes the root
        if await asyncio.to_thread(_file_size, path) is None:
            raise _not_found(key)
        return str(path)

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def size(self, key: str) -> int | None:
        validate_key(key)
        # realpath() walks the key's folders with lstat(): I/O, so off the event loop too.
        return await asyncio.to_thread(self._size_sync, key)

    def _size_sync(self, key: str) -> int | None:
        path = self._contained(key)
        return None if path is None else _file_size(path)

    # -- deletes ---------------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        validate_key(key)
        try:
            await asyncio.to_thread(self._delete_sync, key)
        except OSError as exc:
            raise _storage_error("delete a file", exc) from exc

    def _delete_sync(self, key: str) -> None:
        path = self._contained(key)
        if path is None:
            return
        with contextlib.suppress(IsADirectoryError):  # a folder is not an object
            path.unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ClipperError(ErrorCode.VALIDATION_ERROR, "A storage prefix must end with '/'.")
        validate_key(prefix[:-1])
        try:
            return await asyncio.to_thread(self._delete_prefix_sync, prefix[:-1])
        except OSError as exc:
            raise _storage_error("delete a folder", exc) from exc

    def _delete_prefix_sync(self, folder_key: str) -> int:
        folder = self._contained(folder_key)
        return 0 if folder is None else _remove_tree(folder)

    # -- URLs and health -------------------------------------------------------------------

    async def signed_url(
        self,
        key: str,
        ttl_sec: int,
        *,
        download_name: str | None = None,
        base_url: str | None = None,
    ) -> SignedUrl:
        validate_key(key)
        # "" and None would sign differently but look the same in a URL (`&dl=`).
        download_name = download_name or None
        if ttl_sec <= 0:
            raise ValueError("ttl_sec must be positive")
        exp = int(self._clock()) + ttl_sec
        sig = self.signer.sign(key, exp, download_name)
        base = (base_url.rstrip("/") if base_url else None) or self.public_base_url or ""
        url = f"{base}/files/{quote(key, safe='/')}?exp={exp}&sig={sig}"
        if download_name is not None:
            url += f"&dl={quote(download_name, safe='')}"
        return SignedUrl(url=url, expires_at=datetime.fromtimestamp(exp, tz=UTC))

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self._check_sync)
        except OSError as exc:
            raise _storage_error("write to its folder", exc) from exc

    def _check_sync(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".check.{secrets.token_hex(8)}.part"
        try:
            with open(probe, "xb") as file:
                file.write(b"ok")
        finally:
            _unlink_quietly(probe)


def _write_all(file: BinaryIO, batch: list[bytes]) -> None:
    # Only our own writes become STORAGE_ERROR; an OSError from the incoming stream (a client
    # that hung up) is not a storage fault and propagates unchanged.
    try:
        for chunk in batch:
            file.write(chunk)
    except OSError as exc:
        raise _storage_error("write a file", exc) from exc


def _finish(file: BinaryIO, batch: list[bytes], tmp: Path, target: Path) -> None:
    try:
        _write_all(file, batch)
        file.flush()
        os.fsync(file.fileno())
    except OSError as exc:
        raise _storage_error("write a file", exc) from exc
    finally:
        file.close()
    try:
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        raise _storage_error("write a file", exc) from exc


def _fsync_and_size(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def _file_size(path: Path) -> int | None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _remove_tree(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    count = sum(1 for _, _, files in os.walk(folder) for name in files if not name.startswith("."))
    shutil.rmtree(folder, onerror=_ignore_vanished)
    return count


def _ignore_vanished(
    function: object, path: str, exc_info: tuple[type[BaseException], BaseException, object]
) -> None:
    # Prefix deletes run from retention, possibly twice at once: an entry already gone is fine.
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]
