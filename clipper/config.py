"""One configuration schema, read from the environment once per process.

Every setting is a field of `Settings`; its environment variable is the field name in
upper case. `load_settings()` parses and validates all of them and raises `ConfigError`
naming the variable at fault; process entry points turn that into a clean exit.
Nothing imports a global config: entry points pass `Settings` down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

StorageDriver = Literal["local", "supabase"]
AsrEngine = Literal["local", "groq"]
LogLevel = Literal["debug", "info", "warning", "error"]


class ConfigError(Exception):
    """A variable of the environment has a value we cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # ports and places
    port: int = 8000
    host: str = "127.0.0.1"
    public_url: str | None = None  # base of signed URLs; default: the request's own base URL
    data_dir: Path = Path("./.data")
    # Temporal: unset address -> the embedded dev server, on these ports
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Postgres: unset -> an embedded cluster under data_dir on a free port
    database_url: str | None = None
    # storage
    storage_driver: StorageDriver = "local"
    signing_secret: str | None = None  # default: a random secret kept in data_dir
    supabase_url: str | None = None
    supabase_service_role_key: str | None = None
    supabase_sources_bucket: str = "sources"
    supabase_results_bucket: str = "results"
    signed_url_ttl_sec: int = 600
    # limits
    retention_hours: int = 72
    max_clip_seconds: float = 120.0
    max_upload_mb: int = 2048
    max_source_seconds: float = 4 * 3600.0
    encode_concurrency: int = 2
    asr_concurrency: int = 1
    # ASR
    asr_engine: AsrEngine | None = None  # default: groq when groq_api_key is set, else local
    asr_model: str | None = None
    groq_api_key: str | None = None
    groq_base_url: str | None = None
    groq_model: str = "whisper-large-v3-turbo"
    # sources
    enable_ytdlp: bool = False
    url_allowlist: str | None = None
    # access
    enable_api_keys: bool = False
    admin_token: str | None = None
    log_level: LogLevel = "info"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def effective_asr_engine(self) -> AsrEngine:
        if self.asr_engine is not None:
            return self.asr_engine
        return "groq" if self.groq_api_key else "local"


_POSITIVE = {
    "port",
    "temporal_port",
    "temporal_ui_port",
    "signed_url_ttl_sec",
    "retention_hours",
    "max_clip_seconds",
    "max_upload_mb",
    "max_source_seconds",
    "encode_concurrency",
    "asr_concurrency",
}
_SECRETS = {"signing_secret", "supabase_service_role_key", "groq_api_key", "admin_token"}


def _raw_value(field_type: object, text: str) -> object:
    """Turn env text into the JSON-ish value msgspec.convert expects for the field."""
    text = text.strip()
    if field_type is bool or field_type == bool | None:
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        return text  # msgspec rejects it with a clear message
    if field_type in (int, float, int | None, float | None):
        try:
            return float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            return text
    return text


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every setting from `environ` (default: os.environ); unset or empty means default."""
    env = os.environ if environ is None else environ
    hints = msgspec.structs.fields(Settings)
    values: dict[str, object] = {}
    for field in hints:
        variable = field.name.upper()
        text = env.get(variable)
        if text is None or text.strip() == "":
            continue
        raw = _raw_value(field.type, text)
        try:
            if field.type is Path:
                values[field.name] = Path(text.strip())
                continue
            values[field.name] = msgspec.convert(raw, field.type, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(variable, f"invalid value {text!r} ({exc})") from None
        if field.name in _POSITIVE and not values[field.name] > 0:  # type: ignore[operator]
            raise ConfigError(variable, f"must be greater than zero, got {text!r}")
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.storage_driver == "supabase" and not (
        settings.supabase_url and settings.supabase_service_role_key
    ):
        raise ConfigError(
            "STORAGE_DRIVER", "supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"
        )
    return settings


def redacted(settings: Settings) -> dict[str, object]:
    """The settings as a dict fit for a log line: secrets replaced by '***'."""
    out = msgspec.structs.asdict(settings)
    for name in _SECRETS:
        if out.get(name):
            out[name] = "***"
    if settings.database_url and "@" in settings.database_url:
        scheme, _, rest = settings.database_url.partition("://")
        out["database_url"] = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return {key: str(value) if isinstance(value, Path) else value for key, value in out.items()}
