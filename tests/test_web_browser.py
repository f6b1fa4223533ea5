"""The page in a real browser: Debian Chromium driven by Python playwright against a live
``acnekit serve`` on 127.0.0.1, with a real ACNE04 photo.

The server runs the shipped model when it is installed, else the red-disc fake detector
(tests/_web_server.py); the assertions are about the page, not the model: the count shown
equals the API's, adding a circle raises it, deleting one lowers it, resizing grows the
lesion area, and the exported JSON is valid Acne04-v2.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from acnekit.detector.infer import DEFAULT_MODEL
from acnekit.validate import parse_dataset

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless, sandbox-less Chromium in CI containers (see DEVELOPERS.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HERE = Path(__file__).resolve().parent

if not CHROMIUM.exists():
    pytest.skip(f"browser test needs Debian chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser test needs the playwright package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A live ``acnekit serve`` on 127.0.0.1 (shipped model if installed, else the fake)."""
    port = free_port()
    if DEFAULT_MODEL.exists():
        cmd = [sys.executable, "-m", "acnekit", "serve", "--port", str(port)]
    else:
        cmd = [sys.executable, str(HERE / "_web_server.py"), "fake", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"acnekit serve exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("acnekit serve did not answer /api/health within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 850}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server + "/")
    yield pg
    context.close()
    assert errors == [], errors


@pytest.fixture
def real_photo(acne640) -> Path:
    name = (acne640 / "val.txt").read_text().split()[0]
    return acne640 / "images" / (name if name.endswith(".jpg") else name + ".jpg")


def count_of(pg) -> int:
    return int(pg.locator("#count").get_attribute("data-count"))


def wait_count(pg, n: int) -> None:
    sync_api.expect(pg.locator("#count")).to_have_attribute("data-count", str(n), timeout=20000)
    sync_api.expect(pg.locator("#pending")).to_be_hidden(timeout=20000)


def empty_spot(circles: list[tuple[float, float, float]], w: int, h: int) -> tuple[float, float]:
    """A point of the photo at least 30 px from every circle's disc."""
    xs, ys = np.meshgrid(np.linspace(0.2 * w, 0.8 * w, 25), np.linspace(0.2 * h, 0.8 * h, 25))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    if circles:
        c = np.asarray(circles)
        gap = np.hypot(pts[:, None, 0] - c[None, :, 0], pts[:, None, 1] - c[None, :, 1]) - c[None, :, 2]
        pts = pts[gap.min(axis=1) > 30]
    assert len(pts), "no free spot on the photo"
    return tuple(pts[len(pts) // 2])


def to_screen(pg, x: float, y: float, width: int) -> tuple[float, float]:
    box = pg.locator("#photo").bounding_box()
    s = box["width"] / width
    return box["x"] + x * s, box["y"] + y * s


def test_upload_edit_export(page, server, real_photo, tmp_path):
    pg = page
    api = httpx.post(server + "/api/assess", files={"file": (real_photo.name, real_photo.read_bytes(), "image/jpeg")},
                     timeout=60).json()
    n, w, h = api["summary"]["count"], api["images"][0]["width"], api["images"][0]["height"]

    pg.set_input_files("#file", str(real_photo))
    wait_count(pg, n)  # the count shown equals the API's
    assert pg.locator("#circles circle.lesion").count() == n
    assert pg.locator("#grade").text_content() == str(api["summary"]["grade"]["grade"])
    assert pg.locator("#score").text_content() == f"{api['summary']['severity']['score']:.1f}"

    # click on free skin: one circle more
    circles = [(*a["coordinates"], a["radius"]) for a in api["annotations"]]
    x, y = empty_spot(circles, w, h)
    pg.mouse.click(*to_screen(pg, x, y, w))
    wait_count(pg, n + 1)
    assert pg.locator("circle.lesion.manual.selected").count() == 1

    # drag the new circle's edge outwards: it grows, and so does the lesion area
    area0 = pg.locator("#area").text_content()
    r0 = float(pg.locator("circle.lesion.selected").get_attribute("r"))
    hb = pg.locator("circle.handle").bounding_box()
    hx, hy = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    pg.mouse.move(hx, hy)
    pg.mouse.down()
    pg.mouse.move(hx + 25, hy, steps=5)
    pg.mouse.up()
    sync_api.expect(pg.locator("#area")).not_to_have_text(area0, timeout=20000)
    assert float(pg.locator("circle.lesion.selected").get_attribute("r")) > r0 + 5
    wait_count(pg, n + 1)

    # select a circle (a detected one when there is one) and press Delete: one fewer
    target = circles[0] if circles else (x, y, 0)
    pg.mouse.click(*to_screen(pg, target[0], target[1], w))
    sync_api.expect(pg.locator("#delete")).to_be_enabled()
    pg.keyboard.press("Delete")
    wait_count(pg, n)
    # and the delete button removes the next selection
    pg.mouse.click(*to_screen(pg, x, y, w))
    pg.locator("#delete").click()
    wait_count(pg, n - 1 if circles else 0)
    shown = count_of(pg)

    # export the corrected annotations: valid Acne04-v2, same count as shown
    with pg.expect_download() as dl:
        pg.locator("#export-json").click()
    exported = json.loads(Path(dl.value.path()).read_text())
    assert dl.value.suggested_filename == real_photo.stem + "-assessment.json"
    ds, issues = parse_dataset(exported)
    assert issues == [] and len(ds.images) == 1 and len(ds.images[0].circles) == shown
    assert exported["summary"]["count"] == shown and ds.images[0].file_name == real_photo.name

    # and the HTML report
    with pg.expect_download() as dl:
        pg.locator("#export-report").click()
    html = Path(dl.value.path()).read_text()
    assert f"Acne assessment: {real_photo.name}" in html and dl.value.suggested_filename.endswith("-report.html")


def test_zoom_and_pan(page, server, real_photo):
    pg = page
    api = httpx.post(server + "/api/assess", files={"file": (real_photo.name, real_photo.read_bytes(), "image/jpeg")},
                     timeout=60).json()
    w, h = api["images"][0]["width"], api["images"][0]["height"]
    x, y = empty_spot([(*a["coordinates"], a["radius"]) for a in api["annotations"]], w, h)
    pg.set_input_files("#file", str(real_photo))
    sync_api.expect(pg.locator("#count")).to_have_attribute("data-count", re.compile(r"^\d+$"), timeout=30000)
    before = pg.locator("#photo").bounding_box()
    pg.mouse.move(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    pg.mouse.wheel(0, -400)
    zoomed = pg.locator("#photo").bounding_box()
    assert zoomed["width"] > before["width"] * 1.3
    # drag on the photo pans it (a drag never adds a circle)
    n = count_of(pg)
    cx, cy = to_screen(pg, x, y, w)
    pg.mouse.move(cx, cy)
    pg.mouse.down()
    pg.mouse.move(cx + 60, cy + 40, steps=6)
    pg.mouse.up()
    panned = pg.locator("#photo").bounding_box()
    assert panned["x"] == pytest.approx(zoomed["x"] + 60, abs=1) and count_of(pg) == n
    pg.locator("#zoom-fit").click()
    assert pg.locator("#photo").bounding_box()["width"] == pytest.approx(before["width"], abs=1)


def test_bad_upload_message(page):
    page.set_input_files("#file", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"}])
    msg = page.locator("#message")
    sync_api.expect(msg).to_be_visible(timeout=20000)
    sync_api.expect(msg).to_contain_text("not an image")
    sync_api.expect(page.locator("#drop")).to_be_visible()
