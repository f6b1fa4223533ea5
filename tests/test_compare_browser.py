"""The compare page (/static/compare.html) in a real browser: Debian Chromium driven by
playwright against a live ``acnekit serve`` with the red-disc fake detector; two synthetic
visits (tests/test_compare.py) give known persisting / new / resolved counts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_web_browser import CHROMIUM, CHROMIUM_ARGS, server, sync_api  # noqa: E402,F401  (skips without chromium)
from test_compare import H, W, skin, visits, with_discs, KEPT  # noqa: E402

expect = sync_api.expect


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(server + "/static/compare.html")
    yield pg
    context.close()
    assert pg.errors == [], pg.errors


def _files(tmp_path, before, after):
    pb, pa = tmp_path / "before.png", tmp_path / "after.png"
    Image.fromarray(before).save(pb)
    Image.fromarray(after).save(pa)
    return str(pb), str(pa)


def test_compare_page_shows_counts_canvas_and_export(page, tmp_path):
    pb, pa = _files(tmp_path, *visits())
    page.set_input_files("#before", pb)
    page.set_input_files("#after", pa)
    page.click("#go")
    expect(page.locator("#status")).to_have_text("8 persisting, 2 new, 3 resolved", timeout=30000)
    assert page.locator("#view").evaluate("c => [c.width, c.height]") == [2 * W + 8, H]
    expect(page.locator("#export")).to_be_visible()
    with page.expect_download() as dl:
        page.click("#export")
    import json

    d = json.loads(Path(dl.value.path()).read_text())
    assert d["counts"]["persisting"] == 8 and len(d["links"]) == 8


def test_compare_page_unrelated_photos_error(page, tmp_path):
    pb, pa = _files(tmp_path, with_discs(skin(1), KEPT), with_discs(skin(2), KEPT))
    page.set_input_files("#before", pb)
    page.set_input_files("#after", pa)
    page.click("#go")
    expect(page.locator("#status")).to_contain_text("cannot register", timeout=30000)
    expect(page.locator("#result")).to_be_hidden()
