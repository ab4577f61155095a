"""HMAC signatures for the local driver's download URLs, and the secret they use.

A signed URL names one key, one expiry and, optionally, the file name the browser should
save it as. All three are covered by the signature, so none can be changed by whoever
holds the URL. The secret comes from SIGNING_SECRET, or else from `DATA_DIR/signing.key`,
created once and shared by every process on the machine (API and workers both sign).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from clipper.config import ConfigError
from clipper.errors import ClipperError, ErrorCode

SECRET_FILE = "signing.key"
# Shorter secrets could be brute-forced offline from any URL a user was given.
MIN_SECRET_BYTES = 16


class UrlSigner:
    """Signs and verifies (key, expiry, download name) triples."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"signing secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def sign(self, key: str, expires_at_unix: int, download_name: str | None) -> str:
        mac = hmac.new(
            self._secret, _canonical(key, expires_at_unix, download_name), hashlib.sha256
        )
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def verify(
        self,
        key: str,
        exp: int,
        sig: str,
        download_name: str | None,
        now: float | None = None,
    ) -> None:
        """Raise INVALID_SIGNATURE unless `sig` matches, then URL_EXPIRED if `exp` has passed.

        The signature is checked first so that a forged expiry never earns a 410.
        """
        expected = self.sign(key, exp, download_name).encode("ascii")
        # compare_digest refuses non-ASCII str; bytes keep the comparison constant-time.
        given = sig.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected, given):
            raise ClipperError(ErrorCode.INVALID_SIGNATURE, "The link's signature is not valid.")
        if (time.time() if now is None else now) >= exp:
            raise ClipperError(ErrorCode.URL_EXPIRED, "The link has expired.")


def _canonical(key: str, exp: int, download_name: str | None) -> bytes:
    # JSON keeps the fields unambiguous whatever characters they hold ("a\nb" vs two fields),
    # and None stays distinct from an empty download name.
    return json.dumps(["v1", key, int(exp), download_name], ensure_ascii=True).encode("ascii")


def load_or_create_secret(data_dir: Path, configured: str | None) -> bytes:
    """The configured SIGNING_SECRET, else the machine's secret in `data_dir/signing.key`.

    The file is created with mode 0600 by linking a fully written temp file into place, so two
    processes starting together both end up with whichever secret was linked first, and no
    process ever reads a half-written file.
    """
    if configured:
        secret = configured.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError("SIGNING_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes long")
        return secret
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if not path.exists():
        _create_secret_file(path)
    return _read_secret_file(path)


def _create_secret_file(path: Path) -> None:
    # Hex text rather than raw bytes: an operator can copy it into SIGNING_SECRET verbatim and
    # get the same signatures, because both are used as the UTF-8 bytes of the text.
    content = secrets.token_hex(32).encode("ascii")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() fails if the name exists, unlike rename(): the first process wins.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_secret_file(path: Path) -> bytes:
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            "DATA_DIR", f"{path} holds no usable signing secret; delete it to make a new one"
        )
    return secret
