"""The local driver's signed download route, driven in-process through Litestar."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec
import pytest
from litestar import Litestar, Request, Response
from litestar.testing import AsyncTestClient

from api.files import files_router
from clipper.errors import ClipperError
from clipper.storage.local import LocalStorage
from clipper.storage.signing import UrlSigner

SECRET = b"0123456789abcdef0123456789abcdef"
BODY = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable
KEY = "results/job1/clip.mp4"

Client = AsyncTestClient[Litestar]


def render_error(_: Request[Any, Any, Any], exc: ClipperError) -> Response[bytes]:
    """Stand-in for the API's renderer: the contract's error envelope."""
    body = msgspec.json.encode({"error": {"code": exc.code.value, "message": exc.message}})
    return Response(body, status_code=exc.http_status, media_type="application/json")


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    root = tmp_path / "storage"
    for key, data in {
        KEY: BODY,
        "results/job1/clip.srt": b"1\n",
        "results/job1/empty.vtt": b"",
    }.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return LocalStorage(root, UrlSigner(SECRET), None)


@pytest.fixture
async def client(storage: LocalStorage) -> AsyncIterator[Client]:
    app = Litestar(
        route_handlers=[files_router(storage)], exception_handlers={ClipperError: render_error}
    )
    async with AsyncTestClient(app) as client:
        yield client


async def url_for(storage: LocalStorage, key: str = KEY, **kwargs: Any) -> str:
    return (await storage.signed_url(key, 600, **kwargs)).url


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


async def test_full_get(client: Client, storage: LocalStorage) -> None:
    response = await client.get(await url_for(storage))
    assert response.status_code == 200
    assert response.content == BODY
    headers = response.headers
    assert headers["content-type"] == "video/mp4"
    assert headers["content-length"] == str(len(BODY))
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-disposition"] == 'inline; filename="clip.mp4"'
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"].startswith("private, max-age=")
    assert 590 <= int(headers["cache-control"].rsplit("=", 1)[1]) <= 600
    assert "content-range" not in headers


async def test_head(client: Client, storage: LocalStorage) -> None:
    response = await client.head(await url_for(storage))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"

    response = await client.head(await url_for(storage), headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-9/{len(BODY)}"
    assert response.content == b""


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # first bytes, as players probe
        ("bytes=-500", len(BODY) - 500, len(BODY) - 1),  # suffix
        ("bytes=10000-", 10000, len(BODY) - 1),  # open-ended
        ("bytes=100-99999", 100, len(BODY) - 1),  # end past the file is clamped
    ],
)
async def test_ranges(
    client: Client, storage: LocalStorage, header: str, first: int, last: int
) -> None:
    response = await client.get(await url_for(storage), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == BODY[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "video/mp4"


async def test_large_file_streams_in_chunks(client: Client, storage: LocalStorage) -> None:
    data = os.urandom(3 * 512 * 1024 + 17)
    (storage.root / "results/job1/big.mp4").write_bytes(data)
    url = await url_for(storage, "results/job1/big.mp4")
    response = await client.get(url)
    assert response.content == data
    response = await client.get(url, headers={"Range": "bytes=524000-1600000"})
    assert response.status_code == 206 and response.content == data[524000:1600001]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0"])
async def test_unsatisfiable_range(client: Client, storage: LocalStorage, header: str) -> None:
    response = await client.get(await url_for(storage), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(BODY)}"
    assert error_code(response) == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-2", "lines=1-2"])
async def test_ignored_ranges_get_the_whole_file(
    client: Client, storage: LocalStorage, header: str
) -> None:
    response = await client.get(await url_for(storage), headers={"Range": header})
    assert response.status_code == 200 and response.content == BODY


async def test_if_range_and_if_none_match(client: Client, storage: LocalStorage) -> None:
    url = await url_for(storage)
    etag = (await client.head(url)).headers["etag"]
    response = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert response.status_code == 206
    response = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200 and response.content == BODY
    response = await client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""


async def test_download_name(client: Client, storage: LocalStorage) -> None:
    response = await client.get(await url_for(storage, download_name="clip 1.mp4"))
    assert response.headers["content-disposition"] == 'attachment; filename="clip 1.mp4"'
    response = await client.get(await url_for(storage, download_name="vidéo.mp4"))
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"vid_o.mp4\"; filename*=UTF-8''vid%C3%A9o.mp4"
    )


async def test_subtitle_content_types(client: Client, storage: LocalStorage) -> None:
    response = await client.get(await url_for(storage, "results/job1/clip.srt"))
    assert response.headers["content-type"] == "application/x-subrip"
    assert response.content == b"1\n"
    response = await client.get(await url_for(storage, "results/job1/empty.vtt"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vtt; charset=utf-8"
    assert response.headers["content-length"] == "0" and response.content == b""


def tamper(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    "changes",
    [
        {"sig": "AAAA"},
        {"sig": None},
        {"exp": None},
        {"exp": "not-a-number"},
        {"exp": "9999999999"},
        {"dl": "evil.exe"},
    ],
)
async def test_bad_signature(
    client: Client, storage: LocalStorage, changes: dict[str, str | None]
) -> None:
    response = await client.get(tamper(await url_for(storage), **changes))
    assert response.status_code == 403
    assert error_code(response) == "INVALID_SIGNATURE"


async def test_signature_bound_to_key(client: Client, storage: LocalStorage) -> None:
    url = await url_for(storage)
    response = await client.get(url.replace("clip.mp4", "clip.srt"))
    assert response.status_code == 403 and error_code(response) == "INVALID_SIGNATURE"
    # Encoded so the client does not normalize it away: the server sees a different key.
    response = await client.get(url.replace("/files/results/", "/files/results/%2E%2E/results/"))
    assert response.status_code == 403 and error_code(response) == "INVALID_SIGNATURE"


async def test_expired(client: Client, storage: LocalStorage) -> None:
    exp = 1_000_000_000
    sig = storage.signer.sign(KEY, exp, None)
    response = await client.get(f"/files/{KEY}?exp={exp}&sig={sig}")
    assert response.status_code == 410
    assert error_code(response) == "URL_EXPIRED"


async def test_missing_object(client: Client, storage: LocalStorage) -> None:
    response = await client.get(await url_for(storage, "results/job1/gone.mp4"))
    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"
    response = await client.head(await url_for(storage, "results/job1"))  # a folder
    assert response.status_code == 404


async def test_symlink_escape_is_not_served(
    client: Client, storage: LocalStorage, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (storage.root / "results/job1/leak.txt").symlink_to(tmp_path / "secret.txt")
    response = await client.get(await url_for(storage, "results/job1/leak.txt"))
    assert response.status_code == 404
    assert b"secret" not in response.content


async def test_object_replaced_while_serving(client: Client, storage: LocalStorage) -> None:
    # Atomically replaced after the handler's stat(): the stale headers must not be sent.
    url = await url_for(storage)
    path = storage.root / KEY
    original = os.stat
    replaced = False

    def stat_then_replace(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        nonlocal replaced
        result = original(target, *args, **kwargs)
        if not replaced and str(target) == str(path):
            replaced = True
            tmp = path.with_name(".new.part")
            tmp.write_bytes(b"new")
            os.replace(tmp, path)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("api.files.os.stat", stat_then_replace)
        response = await client.get(url)
    assert replaced
    assert response.status_code == 503
    assert error_code(response) == "STORAGE_ERROR"
