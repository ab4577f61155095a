import json

import pytest
import structlog

from clipper.logs import configure_logging


def test_secrets_never_reach_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    log = structlog.get_logger("test")
    log.info(
        "signed",
        url="http://h/files/x?exp=1&sig=abcdef",
        groq_api_key="gsk_123",
        dsn="postgresql://u:hunter2@db/clipper",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["groq_api_key"] == "***"
    assert "abcdef" not in line["url"]
    assert "hunter2" not in line["dsn"]
    assert line["event"] == "signed" and line["level"] == "info"
