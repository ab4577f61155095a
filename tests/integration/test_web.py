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


async def ask_for_clip(page: Page, source: Path, start: str, end: str, mode: str) -> None:
    """Pick the file, wait for the upload, fill in the clip and make it, as a person would."""
    await page.set_input_files("#file", str(source))
    await expect(page.locator("#upload-status")).to_contain_text("Ready: ", timeout=30_000)
    await page.fill("#start", start)
    await page.fill("#end", end)
    await page.select_option("#mode", mode)
    await page.click("#make")


async def test_upload_clip_watch_and_download(
    browser: Browser, stack: Stack, source_10s: Path, tmp_path: Path
) -> None:
    page = await open_page(browser, stack)
    await ask_for_clip(page, source_10s, "00:00:03.300", "6", "fast")
    await expect(page.locator("#upload-status")).to_contain_text("Ready: 10.00 s")

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


async def test_a_smart_cut_clip_plays_through_in_the_browser(
    browser: Browser, stack: Stack, source_10s: Path
) -> None:
    """Re-encoded head and tail around a copied middle: one stream a browser plays to the end."""
    page = await open_page(browser, stack)
    await ask_for_clip(page, source_10s, "1.3", "8.5", "accurate")
    await expect(page.locator("#result")).to_be_visible(timeout=60_000)
    await expect(page.locator("#receipt")).to_contain_text("accurate")
    # Seek across the whole clip, both joins included, and look at each decoded picture
    # (seeking, unlike real-time playback, does not depend on a headless media clock).
    seen = await page.eval_on_selector(
        "#preview",
        """async v => {
            if (v.readyState < 1) {
                await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
            }
            v.pause();
            const canvas = document.createElement('canvas');
            canvas.width = 64; canvas.height = 48;
            const ctx = canvas.getContext('2d');
            const pictures = [];
            // The first picture headless Chromium hands to a canvas can be blank: the
            // element has not composited a frame yet. Check from the second draw on.
            ctx.drawImage(v, 0, 0, 64, 48);
            await new Promise(r => setTimeout(r, 100));
            for (let t = 0.1; t < v.duration; t += 0.25) {
                // Poll for the seek to settle: headless Chromium now and then drops the
                // `seeked` event under load, while the seek itself completes.
                v.currentTime = t;
                let waited = 0;
                await new Promise(r => setTimeout(r, 20));
                while ((v.seeking || v.readyState < 2) && waited < 10000) {
                    await new Promise(r => setTimeout(r, 20));
                    waited += 20;
                }
                if (v.seeking || v.readyState < 2) {
                    return {error: 'seek did not settle', at: t, ready: v.readyState};
                }
                ctx.drawImage(v, 0, 0, 64, 48);
                const px = ctx.getImageData(0, 0, 64, 48).data;
                let sum = 0, sq = 0;
                for (let i = 0; i < px.length; i += 4) { sum += px[i]; sq += px[i] * px[i]; }
                const n = px.length / 4;
                pictures.push(Math.sqrt(sq / n - (sum / n) ** 2));
            }
            return {error: v.error && v.error.code, duration: v.duration, pictures};
        }""",
    )
    assert seen["error"] is None, seen
    assert seen["duration"] == pytest.approx(7.24, abs=0.05)  # 1.28 .. 8.52: whole frames
    # testsrc2 is colourful everywhere: a flat (grey, green or black) picture is a failed decode.
    assert len(seen["pictures"]) == 29
    assert min(seen["pictures"]) > 20, seen["pictures"]
