import io
import json
from collections.abc import Iterator

import pytest
import structlog

from clipper.logs import configure_logging


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()


def test_secrets_never_reach_the_log(log_stream: io.StringIO) -> None:
    structlog.get_logger("test").info(
        "signed",
        url="http://h/files/x?exp=1&sig=abcdef",
        groq_api_key="gsk_123",
        dsn="postgresql://u:hunter2@db/clipper",
    )
    line = json.loads(log_stream.getvalue().strip().splitlines()[-1])
    assert line["groq_api_key"] == "***"
    assert "abcdef" not in line["url"]
    assert "hunter2" not in line["dsn"]
    assert line["event"] == "signed" and line["level"] == "info"
