# Tests set up and inspect tiny files directly; blocking the loop for that is harmless here.
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from clipper.config import ConfigError, Settings
from clipper.errors import ClipperError, ErrorCode
from clipper.storage import LocalStorage, make_storage
from clipper.storage.local import validate_key
from clipper.storage.signing import UrlSigner

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = 1_700_000_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root, UrlSigner(SECRET), None, clock=lambda: NOW)


async def chunks_of(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def leftovers(folder: Path) -> list[str]:
    """Every file under `folder`, to prove no temp file was left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["sources/u1/source.mp4", "results/job-1/clip.mp4", "a", "a/b_c/D.9.srt", "x/y..z"],
)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "a/.hidden",
        ".signing.key",
        "a/b c",
        "a/é",
        "a\x00b",
        "a/" + "x" * 201,
        "/".join(["abcdefghi"] * 103),
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(ClipperError) as excinfo:
        validate_key(key)
    assert excinfo.value.code is ErrorCode.VALIDATION_ERROR


async def test_invalid_key_refused_by_every_method(storage: LocalStorage, tmp_path: Path) -> None:
    calls = [
        storage.put_stream("../x", chunks_of([b"1"]), "video/mp4"),
        storage.put_file("../x", tmp_path / "f", "video/mp4"),
        storage.get_to_file("../x", tmp_path / "f"),
        storage.media_input("../x"),
        storage.exists("../x"),
        storage.size("/abs"),
        storage.delete("a/../b"),
        storage.signed_url("a//b", 60),
    ]
    for call in calls:
        with pytest.raises(ClipperError) as excinfo:
            await call
        assert excinfo.value.code is ErrorCode.VALIDATION_ERROR


async def test_symlink_escape_is_not_found(
    storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root.mkdir()
    (root / "sources").symlink_to(outside)
    (root / "link.txt").symlink_to(outside / "secret.txt")

    for key in ("sources/secret.txt", "link.txt"):
        assert not await storage.exists(key)
        assert await storage.size(key) is None
        with pytest.raises(ClipperError) as excinfo:
            await storage.media_input(key)
        assert excinfo.value.code is ErrorCode.NOT_FOUND
        with pytest.raises(ClipperError) as excinfo:
            await storage.get_to_file(key, tmp_path / "copy")
        assert excinfo.value.code is ErrorCode.NOT_FOUND

    # Writes through the link must not land outside either.
    with pytest.raises(ClipperError) as excinfo:
        await storage.put_stream("sources/new.mp4", chunks_of([b"x"]), "video/mp4")
    assert excinfo.value.code is ErrorCode.NOT_FOUND
    await storage.delete("link.txt")
    assert await storage.delete_prefix("sources/") == 0
    assert sorted(os.listdir(outside)) == ["secret.txt"]


async def test_symlinked_root_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "disk"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    storage = LocalStorage(tmp_path / "link", UrlSigner(SECRET), None)
    await storage.put_stream("a/b.txt", chunks_of([b"hi"]), "text/plain")
    assert (real / "a" / "b.txt").read_bytes() == b"hi"


# -- writes -----------------------------------------------------------------------------------


async def test_put_stream_roundtrip(storage: LocalStorage, root: Path, tmp_path: Path) -> None:
    parts = [b"a" * 700_000, b"", b"b" * 700_000, b"c"]
    written = await storage.put_stream("sources/u1/source.mp4", chunks_of(parts), "video/mp4")
    assert written == 1_400_001
    assert await storage.size("sources/u1/source.mp4") == written
    assert await storage.exists("sources/u1/source.mp4")
    assert not await storage.exists("sources/u1/other.mp4")
    assert await storage.size("sources/u1") is None  # a folder is not an object
    path = await storage.media_input("sources/u1/source.mp4")
    assert os.path.isabs(path) and Path(path).read_bytes() == b"".join(parts)
    assert await storage.get_to_file("sources/u1/source.mp4", tmp_path / "dl.mp4") == written
    assert (tmp_path / "dl.mp4").read_bytes() == b"".join(parts)
    assert leftovers(root) == ["sources/u1/source.mp4"]


async def test_put_stream_replaces_atomically(storage: LocalStorage, root: Path) -> None:
    await storage.put_stream("r/x.srt", chunks_of([b"old"]), "application/x-subrip")
    await storage.put_stream("r/x.srt", chunks_of([b"new!"]), "application/x-subrip")
    assert (root / "r" / "x.srt").read_bytes() == b"new!"
    assert leftovers(root) == ["r/x.srt"]


async def test_put_stream_size_limit_leaves_nothing(storage: LocalStorage, root: Path) -> None:
    received: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1000):
            received.append(i)
            yield b"x" * 1000

    with pytest.raises(ClipperError) as excinfo:
        await storage.put_stream("sources/u2/source.mp4", endless(), "video/mp4", max_bytes=2500)
    assert excinfo.value.code is ErrorCode.UPLOAD_TOO_LARGE
    assert len(received) == 3  # stopped reading as soon as the limit was passed
    assert leftovers(root) == []
    # Exactly at the limit is fine.
    assert await storage.put_stream("s/ok", chunks_of([b"x" * 2500]), "", max_bytes=2500) == 2500


async def test_put_stream_error_keeps_previous_object(storage: LocalStorage, root: Path) -> None:
    await storage.put_stream("r/clip.mp4", chunks_of([b"good"]), "video/mp4")

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)  # enough to reach the disk before the failure
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put_stream("r/clip.mp4", broken(), "video/mp4")
    assert (root / "r" / "clip.mp4").read_bytes() == b"good"
    assert leftovers(root) == ["r/clip.mp4"]


async def test_put_stream_cancelled_leaves_nothing(storage: LocalStorage, root: Path) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)
        started.set()
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(storage.put_stream("r/slow.mp4", slow(), "video/mp4"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(root) == []


async def test_put_file_copies_and_keeps_source(
    storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch.mp4"
    scratch.write_bytes(b"v" * 10_000)
    assert await storage.put_file("results/j/clip.mp4", scratch, "video/mp4") == 10_000
    assert scratch.read_bytes() == b"v" * 10_000
    # Rewriting the scratch file in place (ffmpeg -y) must not touch the stored object.
    with open(scratch, "r+b") as file:
        file.write(b"Z")
    assert (root / "results/j/clip.mp4").read_bytes() == b"v" * 10_000
    assert leftovers(root) == ["results/j/clip.mp4"]


async def test_put_file_missing_source(storage: LocalStorage, root: Path, tmp_path: Path) -> None:
    with pytest.raises(ClipperError) as excinfo:
        await storage.put_file("results/j/clip.mp4", tmp_path / "nope.mp4", "video/mp4")
    assert excinfo.value.code is ErrorCode.NOT_FOUND
    assert leftovers(root) == []


async def test_missing_objects(storage: LocalStorage, tmp_path: Path) -> None:
    assert await storage.size("nope/x") is None
    for call in (storage.media_input("nope/x"), storage.get_to_file("nope/x", tmp_path / "f")):
        with pytest.raises(ClipperError) as excinfo:
            await call
        assert excinfo.value.code is ErrorCode.NOT_FOUND
    assert not (tmp_path / "f").exists()


async def test_write_failure_is_storage_error(storage: LocalStorage, root: Path) -> None:
    root.mkdir()
    (root / "results").write_bytes(b"a file where a folder should be")
    with pytest.raises(ClipperError) as excinfo:
        await storage.put_stream("results/j/clip.mp4", chunks_of([b"x"]), "video/mp4")
    assert excinfo.value.code is ErrorCode.STORAGE_ERROR
    assert str(root) not in excinfo.value.message


# -- deletes ----------------------------------------------------------------------------------


async def test_delete_and_delete_prefix(storage: LocalStorage, root: Path) -> None:
    for key in ("results/j1/clip.mp4", "results/j1/clip.srt", "results/j1/sub/x", "results/j2/a"):
        await storage.put_stream(key, chunks_of([b"1"]), "")
    await storage.delete("results/j1/clip.srt")
    await storage.delete("results/j1/clip.srt")  # missing is fine
    await storage.delete("results/j1")  # a folder is not an object
    assert await storage.delete_prefix("results/j1/") == 2
    assert await storage.delete_prefix("results/j1/") == 0
    assert leftovers(root) == ["results/j2/a"]
    with pytest.raises(ClipperError) as excinfo:
        await storage.delete_prefix("results/j2")
    assert excinfo.value.code is ErrorCode.VALIDATION_ERROR


# -- URLs and health --------------------------------------------------------------------------


async def test_signed_url_shapes(root: Path) -> None:
    signer = UrlSigner(SECRET)
    relative = LocalStorage(root, signer, None, clock=lambda: NOW)
    public = LocalStorage(root, signer, "https://clips.example/base/", clock=lambda: NOW)

    signed = await relative.signed_url("results/j/clip.mp4", 600)
    sig = signer.sign("results/j/clip.mp4", NOW + 600, None)
    assert signed.url == f"/files/results/j/clip.mp4?exp={NOW + 600}&sig={sig}"
    assert signed.expires_at == datetime.fromtimestamp(NOW + 600, tz=UTC)

    signed = await public.signed_url("results/j/clip.mp4", 60, download_name="mon clip é.mp4")
    parts = urlsplit(signed.url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://clips.example/base/files/results/j/clip.mp4"
    )
    query = parse_qs(parts.query)
    assert query["dl"] == ["mon clip é.mp4"]
    signer.verify(
        "results/j/clip.mp4", int(query["exp"][0]), query["sig"][0], "mon clip é.mp4", NOW
    )

    signed = await public.signed_url("a.vtt", 60, base_url="http://127.0.0.1:8000/")
    assert signed.url.startswith("http://127.0.0.1:8000/files/a.vtt?exp=")


async def test_check(storage: LocalStorage, root: Path, tmp_path: Path) -> None:
    await storage.check()
    assert root.is_dir() and leftovers(root) == []
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    broken = LocalStorage(blocker / "root", UrlSigner(SECRET), None)
    with pytest.raises(ClipperError) as excinfo:
        await broken.check()
    assert excinfo.value.code is ErrorCode.STORAGE_ERROR


def test_make_storage(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_url="https://x.example")
    storage = make_storage(settings)
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "storage").resolve()
    assert storage.public_base_url == "https://x.example"
    assert (tmp_path / "signing.key").exists()
    with pytest.raises(ConfigError) as excinfo:
        make_storage(Settings(data_dir=tmp_path, storage_driver="supabase"))
    assert excinfo.value.variable == "STORAGE_DRIVER"
