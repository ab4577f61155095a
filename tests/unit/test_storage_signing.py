from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from clipper.config import ConfigError
from clipper.errors import ClipperError, ErrorCode
from clipper.storage.signing import UrlSigner, load_or_create_secret

SECRET = b"0123456789abcdef0123456789abcdef"
KEY = "results/job1/clip.mp4"
EXP = 2_000_000_000


def code_of(excinfo: pytest.ExceptionInfo[ClipperError]) -> ErrorCode:
    return excinfo.value.code


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner(SECRET)


def test_signature_is_urlsafe_without_padding(signer: UrlSigner) -> None:
    sig = signer.sign(KEY, EXP, None)
    assert len(sig) == 43  # 32 bytes of SHA-256, base64 without '='
    assert set(sig) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("name", [None, "clip.mp4", "été 2024.mp4"])
def test_valid_signature_verifies(signer: UrlSigner, name: str | None) -> None:
    signer.verify(KEY, EXP, signer.sign(KEY, EXP, name), name, now=EXP - 1)


@pytest.mark.parametrize(
    ("key", "exp", "name"),
    [
        ("results/job1/clip.srt", EXP, None),  # another key
        (KEY, EXP + 1, None),  # a later expiry
        (KEY, EXP, "clip.mp4"),  # a download name added
        (KEY, EXP, ""),  # empty name is not "no name"
    ],
)
def test_tampered_fields_are_rejected(
    signer: UrlSigner, key: str, exp: int, name: str | None
) -> None:
    sig = signer.sign(KEY, EXP, None)
    with pytest.raises(ClipperError) as excinfo:
        signer.verify(key, exp, sig, name, now=0)
    assert code_of(excinfo) is ErrorCode.INVALID_SIGNATURE


@pytest.mark.parametrize("sig", ["", "x", "é" * 43, "A" * 43])
def test_garbage_signatures_are_rejected(signer: UrlSigner, sig: str) -> None:
    with pytest.raises(ClipperError) as excinfo:
        signer.verify(KEY, EXP, sig, None, now=0)
    assert code_of(excinfo) is ErrorCode.INVALID_SIGNATURE


def test_other_secret_is_rejected(signer: UrlSigner) -> None:
    other = UrlSigner(b"another secret, 32 bytes long!!!")
    with pytest.raises(ClipperError) as excinfo:
        signer.verify(KEY, EXP, other.sign(KEY, EXP, None), None, now=0)
    assert code_of(excinfo) is ErrorCode.INVALID_SIGNATURE


def test_expired_at_and_after_expiry(signer: UrlSigner) -> None:
    sig = signer.sign(KEY, EXP, None)
    for now in (EXP, EXP + 3600):
        with pytest.raises(ClipperError) as excinfo:
            signer.verify(KEY, EXP, sig, None, now=now)
        assert code_of(excinfo) is ErrorCode.URL_EXPIRED


def test_bad_signature_wins_over_expiry(signer: UrlSigner) -> None:
    with pytest.raises(ClipperError) as excinfo:
        signer.verify(KEY, 1, "forged", None, now=EXP)
    assert code_of(excinfo) is ErrorCode.INVALID_SIGNATURE


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        UrlSigner(b"short")


def test_configured_secret_wins(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path, "a configured secret!") == b"a configured secret!"
    assert not (tmp_path / "signing.key").exists()


def test_configured_secret_too_short(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_or_create_secret(tmp_path, "short")
    assert excinfo.value.variable == "SIGNING_SECRET"


def test_secret_file_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_or_create_secret(data_dir, None)
    path = data_dir / "signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    assert load_or_create_secret(data_dir, None) == first
    # The file's text works verbatim as SIGNING_SECRET on another process or machine.
    assert load_or_create_secret(tmp_path / "elsewhere", path.read_text()) == first
    assert os.listdir(data_dir) == ["signing.key"]


def test_concurrent_creation_agrees(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[bytes] = []

    def start() -> None:
        barrier.wait()
        results.append(load_or_create_secret(tmp_path, None))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert os.listdir(tmp_path) == ["signing.key"]


def test_empty_secret_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "signing.key").write_bytes(b"")
    with pytest.raises(ConfigError) as excinfo:
        load_or_create_secret(tmp_path, None)
    assert excinfo.value.variable == "DATA_DIR"
