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

from test_web_browser import browser, server, sync_api  # noqa: E402,F401  (fixtures; skips without chromium)
from test_compare import H, W, skin, visits, with_discs, KEPT, REMOVED  # noqa: E402

expect = sync_api.expect


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


def test_compare_page_corrects_both_sides_and_exports(page, tmp_path):
    """Remove a persisting BEFORE lesion (click + Delete), add an AFTER lesion where a
    resolved one was (Add mode), select by keyboard; the server re-matches; the export
    carries the corrections."""
    import json
    import re

    pb, pa = _files(tmp_path, *visits())
    page.set_input_files("#before", pb)
    page.set_input_files("#after", pa)
    page.click("#go")
    status = page.locator("#status")
    expect(status).to_have_text("8 persisting, 2 new, 3 resolved", timeout=30000)
    view = page.locator("#view")
    x, y, _ = KEPT[0]
    view.click(position={"x": x, "y": y})
    expect(page.locator("#sel")).to_have_text(re.compile(r"Selected: before lesion \d+ \(persisting\)\."))
    expect(page.locator("#remove")).to_be_enabled()
    page.keyboard.press("Delete")
    expect(status).to_have_text("7 persisting, 3 new, 3 resolved (corrected: 1 removed, 0 added)", timeout=30000)
    page.click("#add")
    expect(page.locator("#add")).to_have_attribute("aria-pressed", "true")
    x, y, _ = REMOVED[0]  # resolved: add it on the after side (drawn in the before frame)
    view.click(position={"x": W + 8 + x, "y": y})
    expect(status).to_have_text("8 persisting, 3 new, 2 resolved (corrected: 1 removed, 1 added)", timeout=30000)
    page.keyboard.press("Escape")
    expect(page.locator("#add")).to_have_attribute("aria-pressed", "false")
    # keyboard: focus the picture, arrow to a lesion, remove it with the button
    view.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#sel")).to_contain_text("Selected: before lesion")
    page.locator("#remove").focus()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("(corrected: 2 removed, 1 added)", timeout=30000)
    with page.expect_download() as dl:
        page.click("#export")
    d = json.loads(Path(dl.value.path()).read_text())
    before = d["assessments"]["before"]["annotations"]
    after = d["assessments"]["after"]["annotations"]
    assert sum(bool(a.get("removed")) for a in before) == 2
    assert [a["source"] for a in after if a.get("source") == "added"] == ["added"]
    assert d["corrections"]["after"]["added"] == 1 and d["counts"]["before"] == 9
