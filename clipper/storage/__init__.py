"""Object storage: the `Storage` port and its drivers, chosen by `make_storage(settings)`."""

from __future__ import annotations

from pathlib import Path

from clipper.config import ConfigError, Settings
from clipper.storage.base import SignedUrl, Storage, result_key, source_key
from clipper.storage.local import LocalStorage
from clipper.storage.signing import UrlSigner, load_or_create_secret

__all__ = [
    "LocalStorage",
    "SignedUrl",
    "Storage",
    "UrlSigner",
    "load_or_create_secret",
    "local_root",
    "make_storage",
    "result_key",
    "source_key",
]


def local_root(settings: Settings) -> Path:
    """Where the local driver keeps objects: `DATA_DIR/storage`."""
    return settings.data_dir / "storage"


def make_storage(settings: Settings) -> Storage:
    """The driver named by STORAGE_DRIVER, ready to use (the signing secret is loaded or made).

    Raises ConfigError for a driver that is not available.
    """
    if settings.storage_driver == "local":
        secret = load_or_create_secret(settings.data_dir, settings.signing_secret)
        return LocalStorage(local_root(settings), UrlSigner(secret), settings.public_url)
    raise ConfigError(
        "STORAGE_DRIVER",
        f"the {settings.storage_driver!r} driver is not implemented yet; use 'local'",
    )
