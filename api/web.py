"""GET /: the web page (one static file; it talks to the same JSON API as everyone)."""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, get

_PAGE = (Path(__file__).parent / "web" / "index.html").read_text(encoding="utf-8")


@get("/", media_type=MediaType.HTML, include_in_schema=False, cache_control=None)
async def index() -> str:
    return _PAGE
