"""The web page in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.stack import Stack

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A closed network: no background fetches, updates or sync for the browser to wait on.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, stack: Stack) -> Page:
    page = await browser.new_page()
    await page.goto(str(stack.http.base_url))
    await expect(page.get_by_role("heading", name="clipper")).to_be_visible()
    return page


async def test_upload_clip_watch_and_download(
    browser: Browser, stack: Stack, source_10s: Path, tmp_path: Path
) -> None:
    page = await open_page(browser, stack)
    await page.set_input_files("#file", str(source_10s))
    await expect(page.locator("#upload-status")).to_contain_text("Ready: 10.00 s", timeout=30_000)
    await page.fill("#start", "00:00:03.300")
    await page.fill("#end", "6")
    await page.select_option("#mode", "fast")
    await page.click("#make")

    await expect(page.locator("#result")).to_be_visible(timeout=60_000)
    await expect(page.locator("#job-status")).to_contain_text("done")
    await expect(page.locator("#receipt")).to_contain_text("fast")
    # The keyframe at or before 3.3 s.
    await expect(page.locator("#receipt")).to_contain_text("2.000 \u2013")
    duration = await page.eval_on_selector(
        "#preview",
        "v => new Promise(r => v.readyState >= 1 ? r(v.duration)"
        " : v.addEventListener('loadedmetadata', () => r(v.duration)))",
    )
    assert duration == pytest.approx(4.0, abs=0.2)  # plays in the browser: 2.0 s .. 6 s

    async with page.expect_download() as info:
        await page.click("#download")
    download = await info.value
    saved = tmp_path / "from-browser.mp4"
    await download.save_as(saved)
    assert saved.stat().st_size > 1000
    await page.screenshot(path=str(tmp_path / "page.png"), full_page=True)


async def test_errors_are_shown_in_words(browser: Browser, stack: Stack, source_10s: Path) -> None:
    page = await open_page(browser, stack)
    await page.set_input_files("#file", str(source_10s))
    await expect(page.locator("#upload-status")).to_contain_text("Ready", timeout=30_000)
    await page.fill("#start", "5")
    await page.fill("#end", "00:00:30")
    await page.click("#make")
    await expect(page.locator("#clip-error")).to_contain_text("RANGE_OUTSIDE_SOURCE")
    await expect(page.locator("#clip-error")).to_contain_text("past the end of the source")
