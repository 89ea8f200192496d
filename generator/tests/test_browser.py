"""The web page in a real browser.

Debian's Chromium, driven by Playwright, loads the pages from Daphne serving
the project, which stores into the session's nx-27017 server. Every step
saves a screenshot under test-artifacts/screenshots/ for review.
"""

import io
import os
import re
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import orjson
import pytest
from playwright.sync_api import expect, sync_playwright

from arraystream.testing import BASE_DIR, DaphneServer
from generator import arrays
from history import selectors

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots"
# Long enough for a busy two-core machine; the page itself takes well under.
SHOWN_WITHIN_MS = 5_000
RECONNECTED_WITHIN_MS = 25_000


@pytest.fixture(scope="module")
def playwright():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's build with "
            "`apt-get install chromium` (scripts/test-services does this)."
        )
    with sync_playwright() as running:
        yield running


@pytest.fixture
def browser(playwright, tmp_path):
    """Yield a browser with a fresh profile, closed after the test."""
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=tmp_path / "chromium-profile",
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(SHOWN_WITHIN_MS)
    yield context
    context.close()


def server_environment(mongo_server) -> dict:
    return {
        "MONGODB_URI": mongo_server.uri,
        "MONGODB_DB": os.environ["MONGODB_DB"],
        "SECRET_KEY": os.environ["SECRET_KEY"],
    }


@pytest.fixture
def server(mongo_server, tmp_path):
    """Yield Daphne serving the project on a free loopback port."""
    daphne = DaphneServer(
        env=server_environment(mongo_server), log_path=tmp_path / "daphne.log"
    )
    daphne.start()
    yield daphne
    daphne.stop()


@pytest.fixture
def screenshot(request):
    """Return a function saving a full-page screenshot of one step."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = request.node.name.removeprefix("test_")

    def save(page, step: str) -> Path:
        path = SCREENSHOTS / f"{prefix}--{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


class PageWatch:
    """Record a page's console errors, failed requests and foreign hosts."""

    def __init__(self, page, server):
        self.host = urlsplit(server.url).netloc
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("request", lambda request: self._address(request.url))
        page.on("websocket", lambda socket: self._address(socket.url))
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def _address(self, url: str):
        self.requests.append(url)
        if urlsplit(url).netloc != self.host:
            self.foreign.append(url)

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")


def open_page(browser, server, path: str):
    page = browser.new_page()
    watch = PageWatch(page, server)
    page.goto(server.url + path)
    return page, watch


def expect_live(page, timeout: int = SHOWN_WITHIN_MS):
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "live", timeout=timeout
    )


def api_generate(server, **fields) -> dict:
    request = urllib.request.Request(
        f"{server.url}/api/generate",
        data=orjson.dumps(fields),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return orjson.loads(response.read())


def fill_form(page, *, size, range_start=0, range_end=99_999, seed=""):
    page.fill("#field-size", str(size))
    page.fill("#field-range-start", str(range_start))
    page.fill("#field-range-end", str(range_end))
    page.fill("#field-seed", str(seed))


# Counts the pixels of the canvas in the bars' amber, however scaled.
BAR_PIXELS = """canvas => {
  const pixels = canvas.getContext("2d")
    .getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let index = 0; index < pixels.length; index += 4) {
    const [red, green, blue] = pixels.subarray(index, index + 3);
    if (red > 200 && green > 130 && green < 200 && blue < 110) count += 1;
  }
  return count / (canvas.width * canvas.height);
}"""


def recent_seqs(page) -> list[int]:
    return [
        int(seq)
        for seq in page.locator("#recent-list > li").evaluate_all(
            "items => items.map(item => item.dataset.seq)"
        )
    ]


def test_page_loads_live_with_no_console_error_and_no_request_elsewhere(
    server, browser, screenshot
):
    for seed in (1, 2):
        api_generate(server, size=10_000, seed=seed, stream="first-look")

    page, watch = open_page(browser, server, "/?stream=first-look")

    expect_live(page)
    expect(page.locator("#histogram")).to_have_attribute("data-seq", "2")
    expect(page.locator("#screen-message")).to_be_hidden()
    assert recent_seqs(page) == [2, 1]
    screenshot(page, "desktop")
    # Keyboard: the first Tab reaches the skip link, which leads to the page.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.evaluate("document.activeElement.blur()")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone")

    assert watch.errors == []
    assert watch.failed == []
    assert watch.foreign == []
    assert any(url.startswith("ws://") for url in watch.requests)


def test_generating_from_the_form_shows_the_array_on_every_page_of_the_stream(
    server, browser, screenshot
):
    first, first_watch = open_page(browser, server, "/?stream=lab")
    second, second_watch = open_page(browser, server, "/?stream=lab")
    expect_live(first)
    expect_live(second)
    expected = arrays.generate_values(
        size=20_000, range_start=0, range_end=999, seed=42
    )

    fill_form(first, size=20_000, range_end=999, seed=42)
    first.locator("#field-seed").press("Enter")

    for page in (first, second):
        expect(page.locator('[data-readout="seq"]')).to_have_text("1")
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "1")
        expect(page.locator('[data-readout="mean"]')).to_have_text(
            f"{expected.mean():,.2f}"
        )
        expect(page.locator('[data-readout="std"]')).to_have_text(
            f"{expected.std():,.2f}"
        )
        expect(page.locator('[data-readout="seed"]')).to_have_text("42")
        expect(page.locator('[data-readout="preview"] li')).to_have_text(
            [str(value) for value in expected[:10]]
        )
        expect(page.locator('#recent-list > li[data-seq="1"]')).to_have_count(1)
        # Bars of a uniform draw fill a good part of the screen.
        assert page.locator("#histogram").evaluate(BAR_PIXELS) > 0.3
    screenshot(first, "generating-page")
    screenshot(second, "watching-page")

    # A seed past 2**53 reaches both pages digit for digit.
    largest_seed = 2**64 - 1
    fill_form(first, size=10_000, seed=largest_seed)
    first.click("#generate-button")
    for page in (first, second):
        expect(page.locator('[data-readout="seq"]')).to_have_text("2")
        expect(page.locator('[data-readout="seed"]')).to_have_text(str(largest_seed))
        assert recent_seqs(page) == [2, 1]
    assert [record.seq for record in selectors.array_list(stream="lab")] == [2, 1]
    assert first_watch.errors == [] and second_watch.errors == []


def test_an_invalid_size_shows_its_error_beside_the_field_and_stores_nothing(
    server, browser, screenshot
):
    page, watch = open_page(browser, server, "/?stream=refused")
    expect_live(page)

    fill_form(page, size=5)
    page.click("#generate-button")

    error = page.locator("#error-size")
    expect(error).to_be_visible()
    expect(error).to_contain_text("size must be a whole number from 10000 to 10000000")
    expect(error).to_contain_text("got 5")
    expect(page.locator("#field-size")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-size")).to_be_focused()
    field = page.locator('.field[data-field="size"]')
    assert field.locator("#error-size").count() == 1
    input_box = page.locator("#field-size").bounding_box()
    error_box = error.bounding_box()
    assert 0 <= error_box["y"] - (input_box["y"] + input_box["height"]) < 40
    screenshot(page, "size-error")

    fill_form(page, size=10_000, range_start=10, range_end=5)
    page.click("#generate-button")
    expect(page.locator("#error-range_end")).to_contain_text(
        "range_end must be greater than or equal to range_start"
    )
    expect(page.locator("#error-size")).to_be_hidden()
    screenshot(page, "range-error")

    page.fill("#field-range-end", "50")
    expect(page.locator("#error-range_end")).to_be_hidden()
    assert selectors.array_list(stream="refused") == []
    assert recent_seqs(page) == []
    expect(page.locator('[data-readout="seq"]')).to_have_text("—")
    assert page.locator("#histogram").evaluate(BAR_PIXELS) == 0
    # The refusals are the API's 400 answers; nothing else went wrong.
    assert [line.split()[0] for line in watch.failed] == ["400", "400"]


def test_the_page_reconnects_after_a_restart_and_shows_every_array_generated_meanwhile(
    server, browser, mongo_server, tmp_path, screenshot
):
    # A second server takes the API requests while the first is down.
    other = DaphneServer(
        env=server_environment(mongo_server), log_path=tmp_path / "other.log"
    )
    other.start()
    try:
        page, _ = open_page(browser, server, "/?stream=restart")
        expect_live(page)
        api_generate(server, size=10_000, seed=1, stream="restart")
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "1")
        page.evaluate("window.sameDocument = true")

        server.stop()
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting"
        )
        screenshot(page, "server-down")
        for seed in (2, 3, 4):
            api_generate(other, size=10_000, seed=seed, stream="restart")
        server.start()

        expect_live(page, timeout=RECONNECTED_WITHIN_MS)
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "4")
        expect(page.locator("#recent-list > li")).to_have_count(4)
        assert recent_seqs(page) == [4, 3, 2, 1]
        api_generate(server, size=10_000, seed=5, stream="restart")
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "5")
        assert recent_seqs(page) == [5, 4, 3, 2, 1]
        assert page.evaluate("window.sameDocument") is True
        screenshot(page, "reconnected")
    finally:
        other.stop()


def test_a_page_too_far_behind_to_resume_reloads_the_history_instead(
    mongo_server, browser, tmp_path, screenshot
):
    environment = {**server_environment(mongo_server), "ARRAYSTREAM_WS_RESUME_MAX": "2"}
    servers = [
        DaphneServer(env=environment, log_path=tmp_path / f"daphne-{index}.log")
        for index in range(2)
    ]
    for daphne in servers:
        daphne.start()
    watched, other = servers
    try:
        page, _ = open_page(browser, watched, "/?stream=far")
        expect_live(page)
        api_generate(watched, size=10_000, seed=1, stream="far")
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "1")

        watched.stop()
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting"
        )
        for seed in (2, 3, 4, 5):
            api_generate(other, size=10_000, seed=seed, stream="far")
        watched.start()

        expect_live(page, timeout=RECONNECTED_WITHIN_MS)
        expect(page.locator("#stream-notice")).to_contain_text(
            "the list below was reloaded from the stored history"
        )
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "5")
        assert recent_seqs(page) == [5, 4, 3, 2, 1]
        expect(page.locator('[data-readout="seed"]')).to_have_text("5")
        screenshot(page, "history-reloaded")
        api_generate(watched, size=10_000, seed=6, stream="far")
        expect(page.locator("#histogram")).to_have_attribute("data-seq", "6")
    finally:
        for daphne in servers:
            daphne.stop()


def test_the_history_page_lists_arrays_newest_first_and_downloads_the_same_values(
    server, browser, screenshot
):
    created = [
        api_generate(
            server,
            size=10_000,
            range_start=-seed,
            range_end=seed * 100,
            seed=seed,
            stream="archive",
        )
        for seed in (7, 8, 9)
    ]
    page, watch = open_page(browser, server, "/history/?stream=archive")

    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.seq)") == [
        "3",
        "2",
        "1",
    ]
    screenshot(page, "history")

    for record in reversed(created):
        row = page.locator(f'tbody tr[data-id="{record["id"]}"]')
        links = {
            kind: row.locator(f'a[data-link="{kind}"]').get_attribute("href")
            for kind in ("json", "csv", "npy", "detail")
        }
        as_json = page.request.get(server.url + links["json"])
        assert as_json.json()["array"] == record["array"]
        as_csv = page.request.get(server.url + links["csv"]).text().split()
        assert as_csv[0] == "value"
        assert [int(value) for value in as_csv[1:]] == record["array"]
        as_npy = np.load(io.BytesIO(page.request.get(server.url + links["npy"]).body()))
        assert as_npy.tolist() == record["array"]
        assert page.request.get(server.url + links["detail"]).ok

    page.goto(f"{server.url}/history/?stream=archive&limit=2")
    expect(rows).to_have_count(2)
    page.click("a[rel=next]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-seq", "1")
    screenshot(page, "older-page")
    assert watch.errors == [] and watch.foreign == []


def test_the_page_draws_a_million_values_and_fetches_larger_arrays_from_their_url(
    server, browser, screenshot
):
    page, watch = open_page(browser, server, "/?stream=large")
    expect_live(page)

    fill_form(page, size=1_000_000)
    started = time.monotonic()
    page.click("#generate-button")
    expect(page.locator("#histogram")).to_have_attribute(
        "data-seq", "1", timeout=20_000
    )
    shown_after = time.monotonic() - started
    draw_ms = float(page.locator("#histogram").get_attribute("data-draw-ms"))

    larger = api_generate(server, size=1_000_001, stream="large")
    expect(page.locator("#histogram")).to_have_attribute(
        "data-seq", "2", timeout=20_000
    )
    label = page.locator("#histogram").get_attribute("aria-label")
    screenshot(page, "larger-array")

    assert re.search(r"Histogram of 1,000,001 values", label)
    assert any(
        f"/api/arrays/{larger['id']}/?format=npy" in url for url in watch.requests
    )
    # Binning and drawing a million values takes tens of milliseconds here;
    # the bound leaves room for a busy machine, far below a DOM per value.
    assert draw_ms < 200, f"drawing took {draw_ms} ms"
    assert shown_after < 20
    assert watch.errors == []
