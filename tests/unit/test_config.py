from pathlib import Path

import pytest

from clipper.config import ConfigError, load_settings, redacted


def test_defaults_from_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.port == 8000
    assert settings.data_dir == Path("./.data")
    assert settings.temporal_address is None and settings.database_url is None
    assert settings.storage_driver == "local"
    assert settings.signed_url_ttl_sec == 600
    assert settings.retention_hours == 72
    assert settings.max_clip_seconds == 120
    assert settings.groq_model == "whisper-large-v3-turbo"
    assert settings.effective_asr_engine == "local"


def test_every_kind_of_value_parses() -> None:
    settings = load_settings(
        {
            "PORT": "9000",
            "DATA_DIR": "/tmp/clipper-x",
            "ENABLE_YTDLP": "yes",
            "MAX_CLIP_SECONDS": "30.5",
            "TEMPORAL_ADDRESS": "temporal:7233",
            "GROQ_API_KEY": "gsk_secret",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.port == 9000
    assert settings.data_dir == Path("/tmp/clipper-x")
    assert settings.enable_ytdlp is True
    assert settings.max_clip_seconds == 30.5
    assert settings.effective_asr_engine == "groq"
    assert redacted(settings)["groq_api_key"] == "***"


def test_empty_values_mean_default() -> None:
    assert load_settings({"PORT": "", "DATABASE_URL": "  "}).port == 8000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "0"),
        ("MAX_CLIP_SECONDS", "-5"),
        ("STORAGE_DRIVER", "s4"),
        ("ENABLE_YTDLP", "maybe"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(f"{variable}:")


def test_supabase_needs_its_credentials() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"STORAGE_DRIVER": "supabase"})
    assert info.value.variable == "STORAGE_DRIVER"


def test_a_password_in_the_database_url_is_not_logged() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://u:hunter2@db:5432/clipper"})
    assert "hunter2" not in str(redacted(settings))
