"""The page in a real browser: Debian Chromium driven by Python playwright against a live
``acnekit serve`` on 127.0.0.1 running the red-disc fake detector (tests/_web_server.py), so
the lesions of the synthetic photos are known and no model weights are needed. One browser
and one server per module (CI has 2 CPUs).

Covered (issue 18): edit modes (a click on skin adds only in add mode, a drag pans), moving a
small circle by its interior and resizing it only by its handle, the circles toggle, export
with provenance, autosave restored after a reload, a failed upload never leaves the old
result under the new name, keyboard-only upload and editing, no horizontal scroll at
390x844 and 1366x900, the caveat above the fold at 1366x900 and 1280x720, and a cross-site
POST refused (403). One test runs a real ACNE04 photo when ../shared/data is there.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from acnekit.imageio import encode_image
from acnekit.validate import parse_dataset

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless, sandbox-less Chromium in CI containers (see DEVELOPERS.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HERE = Path(__file__).resolve().parent

if not CHROMIUM.exists():
    pytest.skip(f"browser test needs Debian chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser test needs the playwright package")
expect = sync_api.expect

sys.path.insert(0, str(HERE))
from _assess_fake import photo  # noqa: E402

DISCS = ((60, 50, 8), (200, 120, 12), (100, 180, 5))  # the synthetic photo's lesions (x, y, r)
W, H = 320, 240
EMPTY = (250.0, 40.0)  # clear skin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A live ``acnekit serve`` on 127.0.0.1 with the fake detector."""
    yield from _serve("fake")


@pytest.fixture(scope="module")
def face_server():
    """The same with the stand-in face analysis (tests/_web_server.py ``face``): iris scale
    10 +- 0.8 px/mm, regions, the top-left disc outside the skin."""
    yield from _serve("face")


def _serve(kind: str):
    port = free_port()
    cmd = [sys.executable, str(HERE / "_web_server.py"), kind, "--port", str(port)]
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


def open_page(browser, server, width=1366, height=900, **kw):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, **kw)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.type), d.accept()))  # "unsaved changes" prompts: accepted
    pg.goto(server + "/")
    return pg


@pytest.fixture
def page(browser, server):
    pg = open_page(browser, server)
    yield pg
    pg.context.close()
    assert pg.errors == [], pg.errors


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "synthetic face.png"
    path.write_bytes(encode_image(photo(), "PNG"))
    return path


def count_of(pg) -> int:
    return int(pg.locator("#count").get_attribute("data-count"))


def wait_count(pg, n: int) -> None:
    expect(pg.locator("#count")).to_have_attribute("data-count", str(n), timeout=20000)
    expect(pg.locator("#pending")).to_be_hidden(timeout=20000)


def to_screen(pg, x: float, y: float, width: int = W) -> tuple[float, float]:
    box = pg.locator("#photo").bounding_box()
    s = box["width"] / width
    return box["x"] + x * s, box["y"] + y * s


def upload(pg, path: Path, n: int) -> None:
    pg.set_input_files("#file", str(path))
    wait_count(pg, n)


def drag(pg, x0, y0, x1, y1):
    pg.mouse.move(x0, y0)
    pg.mouse.down()
    pg.mouse.move(x1, y1, steps=6)
    pg.mouse.up()


def no_horizontal_scroll(pg) -> None:
    sw, iw = pg.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw, f"page is {sw} px wide in a {iw} px window"


# ---------------------------------------------------------------------------- tests
def test_modes_edit_export(page, synthetic):
    pg = page
    upload(pg, synthetic, 3)
    assert pg.locator("#circles circle.lesion").count() == 3
    identity = pg.locator("#identity").text_content()
    digest = hashlib.sha256(synthetic.read_bytes()).hexdigest()
    assert synthetic.name in identity and digest[:12] in identity
    assert pg.locator("#grade-name").text_content() == "Mild"  # the grade's name, not its 0-based number
    expect(pg.locator("#edits")).to_have_text("3 detected, 0 added, 0 removed")
    expect(pg.locator(".statement")).to_contain_text("not a medical device")

    # select mode: a click on clear skin adds nothing; a drag pans
    pg.mouse.click(*to_screen(pg, *EMPTY))
    pg.wait_for_timeout(300)
    assert count_of(pg) == 3 and pg.locator("circle.lesion").count() == 3
    x0 = pg.locator("#photo").bounding_box()["x"]
    drag(pg, *to_screen(pg, *EMPTY), *[v + d for v, d in zip(to_screen(pg, *EMPTY), (40, 0))])
    assert pg.locator("#photo").bounding_box()["x"] == pytest.approx(x0 + 40, abs=1)
    pg.locator("#zoom-fit").click()

    # add mode: a click adds one circle, marked as added
    pg.locator("[data-mode=add]").click()
    expect(pg.locator("#mode-label")).to_have_text("Mode: add")
    pg.mouse.click(*to_screen(pg, *EMPTY))
    wait_count(pg, 4)
    assert pg.locator("circle.lesion.added.selected").count() == 1

    # the smallest lesion (r = 5 px, a few screen px) moves when dragged by its interior
    pg.keyboard.press("v")
    sx, sy = to_screen(pg, 100, 180)
    drag(pg, sx, sy, sx + 30, sy)
    moved = pg.locator("circle.lesion.selected")
    assert float(moved.get_attribute("r")) == pytest.approx(5, abs=0.6)  # moved, not resized
    assert float(moved.get_attribute("cx")) > 110
    # and resizes only through its handle
    area0 = pg.locator("#area").text_content()
    hb = pg.locator("#tools rect.handle").bounding_box()
    hx, hy = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    drag(pg, hx, hy, hx + 25, hy)
    assert float(pg.locator("circle.lesion.selected").get_attribute("r")) > 10
    expect(pg.locator("#area")).not_to_have_text(area0, timeout=20000)

    # remove a detected lesion: kept in the JSON as removed, never counted
    pg.mouse.click(*to_screen(pg, 200, 120))
    pg.locator("#delete").click()
    wait_count(pg, 3)

    # circles off and on
    pg.keyboard.press("c")
    expect(pg.locator("#circles")).to_be_hidden()
    pg.locator("#toggle-circles").click()
    expect(pg.locator("#circles")).to_be_visible()

    # export: provenance, added / removed kept distinguishable
    pg.locator("#reviewer").fill("Dr Test")
    with pg.expect_download() as dl:
        pg.locator("#export-json").click()
    exported = json.loads(Path(dl.value.path()).read_text())
    assert dl.value.suggested_filename == "synthetic_face-assessment.json"
    ds, issues = parse_dataset(exported)
    assert issues == [] and len(ds.images[0].circles) == 4
    anns = exported["annotations"]
    assert [a.get("source") for a in anns] == ["model", "model", "model", "added"]
    assert sum(bool(a.get("removed")) for a in anns) == 1 and exported["summary"]["count"] == 3
    assert exported["summary"]["edits"] == {"detected": 3, "added": 1, "removed": 1, "outside_skin": 0, "counted": 3}
    info = exported["info"]
    assert info["reviewer"] == "Dr Test" and info["exported_at"] and "not a medical device" in info["statement"]
    assert exported["images"][0]["sha256"] == digest and info["acnekit_version"]

    with pg.expect_download() as dl:
        pg.locator("#export-report").click()
    html = Path(dl.value.path()).read_text()
    assert "not a medical device" in html and digest in html and "Dr Test" in html


def test_autosave_reload_and_stale_upload(page, synthetic):
    pg = page
    upload(pg, synthetic, 3)
    pg.keyboard.press("a")
    pg.mouse.click(*to_screen(pg, *EMPTY))
    wait_count(pg, 4)
    expect(pg.locator("#saved")).to_contain_text("Autosaved")
    pg.reload()
    assert pg.dialogs == ["beforeunload"]  # the unexported corrections were announced
    wait_count(pg, 4)  # the work is back, with the photo
    expect(pg.locator("#message")).to_contain_text("Restored your session")
    assert pg.locator("circle.lesion.added").count() == 1
    expect(pg.locator("#identity")).to_contain_text(synthetic.name)

    # a failed upload: the old result stays under its own name, never the new one
    pg.set_input_files("#file", files=[{"name": "other.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"}])
    expect(pg.locator("#message")).to_contain_text("other.jpg could not be assessed", timeout=20000)
    assert pg.dialogs == ["beforeunload", "confirm"]  # asked before a new photo replaces the corrections
    expect(pg.locator("#message")).to_contain_text(f"still that of {synthetic.name}")
    expect(pg.locator("#identity")).to_contain_text(synthetic.name)
    assert "other.jpg" not in pg.locator("#identity").text_content()
    with pg.expect_download() as dl:
        pg.locator("#export-json").click()
    assert dl.value.suggested_filename == "synthetic_face-assessment.json"

    # start over: the saved session is gone
    pg.locator("#start-over").click()
    expect(pg.locator("#drop")).to_be_visible(timeout=20000)
    pg.reload()
    expect(pg.locator("#drop")).to_be_visible()
    assert pg.locator("#count").text_content() == "\u2013"


def test_keyboard_only(page, synthetic):
    pg = page
    # playwright turns on file-chooser interception without waiting for it when a listener is
    # added; listen first and reload, so the Enter below cannot race it
    choosers = []
    pg.on("filechooser", lambda fc: choosers.append(fc))
    pg.reload()
    pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.id") == "choose"
    outline = pg.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    pg.keyboard.press("Enter")
    for _ in range(100):
        if choosers:
            break
        pg.wait_for_timeout(100)
    assert choosers, "Enter on 'Choose photo...' opened no file chooser"
    choosers[0].set_files(str(synthetic))
    wait_count(pg, 3)
    assert pg.evaluate("document.activeElement.id") == "stage"
    pg.keyboard.press("a")
    pg.keyboard.press("Enter")  # adds a circle at the centre of the view
    wait_count(pg, 4)
    pg.keyboard.press("v")
    pg.keyboard.press("Escape")
    pg.keyboard.press("n")  # first circle in reading order: the one at (60, 50)
    sel = pg.locator("circle.lesion.selected")
    assert float(sel.get_attribute("cx")) == pytest.approx(60.5, abs=1)
    expect(pg.locator("#selected")).to_contain_text("Lesion")
    x0, r0 = float(sel.get_attribute("cx")), float(sel.get_attribute("r"))
    for _ in range(3):
        pg.keyboard.press("ArrowRight")
    pg.keyboard.press("Shift+ArrowDown")
    pg.keyboard.press("+")
    assert float(sel.get_attribute("cx")) > x0 + 1 and float(sel.get_attribute("r")) > r0
    pg.keyboard.press("Delete")
    wait_count(pg, 3)
    pg.keyboard.press("Control+z")
    wait_count(pg, 4)
    assert pg.locator("#headline").get_attribute("aria-live") == "polite"


@pytest.mark.parametrize("width, height", [(390, 844), (1366, 900), (1280, 720)])
def test_layout(browser, server, synthetic, width, height):
    pg = open_page(browser, server, width, height, has_touch=width < 500, is_mobile=width < 500)
    try:
        no_horizontal_scroll(pg)
        upload(pg, synthetic, 3)
        no_horizontal_scroll(pg)
        stage = pg.locator("#stage").bounding_box()
        assert stage["width"] >= width * 0.9 or width > 800
        assert stage["height"] >= 300
        assert pg.locator("#ppm").bounding_box()["x"] + 20 <= width
        if width > 800:  # grade name first and the caveat above the fold
            cav = pg.locator("#caveat").bounding_box()
            assert cav["y"] + min(cav["height"], 60) <= height, cav
            assert pg.locator("#grade-name").bounding_box()["y"] < cav["y"]
        assert pg.errors == []
    finally:
        pg.context.close()


def test_reopen_json_with_photo_and_ruler(page, server, synthetic, tmp_path):
    pg = page
    data = synthetic.read_bytes()
    a = httpx.post(server + "/api/assess", files={"file": (synthetic.name, data, "image/png")}, timeout=60).json()
    a["annotations"].append({"id": 9, "image_id": 0, "coordinates": [250.0, 40.0], "radius": 6.0,
                             "class_name": "acne", "source": "added"})
    a["annotations"][0].update(in_skin=False, region=None)  # outside the skin mask: drawn dimmed, not counted
    for x in a["annotations"]:
        x["graded"] = x.get("source") != "added"
    saved = tmp_path / "synthetic_face-assessment.json"
    saved.write_text(json.dumps(a))
    other = tmp_path / "other.png"
    other.write_bytes(encode_image(photo(discs=((30, 30, 6),)), "PNG"))
    # a different photo of the same size is refused
    pg.set_input_files("#reopen-files", [str(saved), str(other)])
    expect(pg.locator("#message")).to_contain_text("is not the photo of", timeout=20000)
    pg.set_input_files("#reopen-files", [str(saved), str(synthetic)])
    wait_count(pg, 3)
    expect(pg.locator("#message")).to_contain_text("Reopened")
    assert pg.locator("circle.lesion.added").count() == 1
    assert pg.locator("circle.lesion.outside").count() == 1 and pg.locator("circle.lesion.ungraded").count() == 1
    expect(pg.locator("#legend")).to_contain_text("outside the skin")
    expect(pg.locator("#legend")).to_contain_text("not counted by the grade")
    # the dimmed lesion can be counted again
    pg.mouse.click(*to_screen(pg, 60, 50))
    expect(pg.locator("#selected")).to_contain_text("outside the skin")
    pg.locator("#restore").click()
    wait_count(pg, 4)

    # two-point ruler: 100 px apart, 10 mm -> 10 px/mm
    pg.keyboard.press("r")
    expect(pg.locator("#ruler-box")).to_be_visible()
    pg.mouse.click(*to_screen(pg, 100, 100))
    pg.mouse.click(*to_screen(pg, 200, 100))
    expect(pg.locator("#ruler-text")).to_contain_text("px between the points")
    pg.locator("#ruler-mm").fill("10")
    pg.locator("#ruler-apply").click()
    expect(pg.locator("#scale")).to_contain_text("two-point ruler", timeout=20000)
    ppm = float(pg.locator("#scale").text_content().split()[0])
    assert ppm == pytest.approx(10, rel=0.05)
    expect(pg.locator("#median")).to_contain_text("mm")
    wait_count(pg, 4)
    # an implausible px/mm typed in is refused on the page, before the server
    pg.locator("#ppm").fill("0.0001")
    pg.locator("#ppm").press("Enter")
    pg.locator("#reviewer").click()
    expect(pg.locator("#message")).to_contain_text("between 0.5 and 1000")


def test_grade_face_scale_shown_and_updated(browser, face_server, synthetic, tmp_path):
    """What the grade and face analyses add (issue 18): the reference grade first with its
    graded count and probabilities, the count band secondary with its caveat, graded circles
    distinct, the outside-skin lesion dimmed, not counted and restorable, the regions table,
    the iris scale with its uncertainty and sizes in mm; marking lesions (a hand-added one
    included) for the grade updates the grade through /api/summary; the export keeps it all."""
    pg = open_page(browser, face_server)
    try:
        expect(pg.locator("header a.compare-link")).to_have_attribute("href", "/static/compare.html")
        upload(pg, synthetic, 2)  # three discs, the top-left one outside the skin
        # headline: grade name, graded count (the 12 px disc; the 8 px one is graded but off skin), probabilities
        assert pg.locator("#grade-name").text_content() == "Mild"
        expect(pg.locator("#graded-count")).to_have_attribute("data-count", "1")
        expect(pg.locator("#graded-what")).to_contain_text("counted by the grade (of 2)")
        probs = pg.locator("#probs .prob")
        assert probs.count() == 4 and "hit" in probs.nth(0).get_attribute("class")
        from acnekit.reference_grade import grade_probabilities

        expect(probs.nth(0)).to_contain_text(f"mild {100 * grade_probabilities(1)[0]:.0f} %")  # 1 graded lesion
        expect(pg.locator("#band")).to_contain_text("mild (0-5 lesions)")
        expect(pg.locator("#band-caveat")).to_contain_text("count band")
        assert pg.locator("#caveat").text_content().startswith("Reproduces ACNE04")
        assert pg.locator("#warnings").is_hidden()
        # circles: graded thick, others dashed, the outside one dimmed; the legend says so
        assert pg.locator("circle.lesion.graded").count() == 2
        assert pg.locator("circle.lesion.ungraded").count() == 1
        assert pg.locator("circle.lesion.outside").count() == 1
        for text in ("counted by the grade", "not counted by the grade", "outside the skin"):
            expect(pg.locator("#legend")).to_contain_text(text)
        # scale: iris with its uncertainty in px/mm; sizes in mm; regions
        expect(pg.locator("#scale")).to_contain_text("10.00 \u00b1 0.80 (\u00b18 %) px/mm, estimated from the iris")
        assert pg.locator("#ppm").input_value() == "" and "iris" in pg.locator("#ppm").get_attribute("placeholder")
        expect(pg.locator("#median")).to_contain_text("mm")
        rows = {r.locator("td").nth(0).text_content(): r.locator("td").nth(1).text_content()
                for r in pg.locator("#regions tr").all()}
        assert rows["right cheek"] == "1" and rows["chin"] == "1" and rows["forehead"] == "0"
        expect(pg.locator("#edits")).to_contain_text("1 outside the skin")

        # mark the small chin disc for the grade (G): graded count 2
        pg.mouse.click(*to_screen(pg, 100, 180))
        expect(pg.locator("#selected")).to_contain_text("not counted by the grade; region chin")
        expect(pg.locator("#selected")).to_contain_text("mm")
        pg.keyboard.press("g")
        expect(pg.locator("#graded-count")).to_have_attribute("data-count", "2", timeout=20000)
        expect(pg.locator("#toggle-graded")).to_have_attribute("aria-pressed", "true")
        # the outside-skin disc: restored, it counts (all lesions 3, graded 3)
        pg.mouse.click(*to_screen(pg, 60, 50))
        expect(pg.locator("#selected")).to_contain_text("outside the skin")
        assert pg.locator("#toggle-graded").is_disabled()
        pg.locator("#restore").click()
        wait_count(pg, 3)
        expect(pg.locator("#graded-count")).to_have_attribute("data-count", "3", timeout=20000)
        # a hand-added lesion is not graded until marked; the button marks it
        pg.keyboard.press("a")
        pg.mouse.click(*to_screen(pg, *EMPTY))
        wait_count(pg, 4)
        # its region comes from the face geometry the assessment carries (summary.face.geometry)
        expect(pg.locator("#selected")).to_contain_text("region forehead", timeout=20000)
        expect(pg.locator("#graded-count")).to_have_attribute("data-count", "3")
        assert pg.locator("circle.lesion.added.ungraded").count() == 1
        pg.locator("#toggle-graded").click()
        expect(pg.locator("#graded-count")).to_have_attribute("data-count", "4", timeout=20000)
        assert pg.locator("circle.lesion.added.graded").count() == 1
        expect(pg.locator("#graded-what")).to_contain_text("(of 4)")
        # the regions and the iris scale survive the edits (the face travels with /api/summary)
        expect(pg.locator("#scale")).to_contain_text("estimated from the iris")
        assert pg.locator("#regions tr").count() == 5
        expect(pg.locator("#pending")).to_be_hidden(timeout=20000)

        with pg.expect_download() as dl:
            pg.locator("#export-json").click()
        a = json.loads(Path(dl.value.path()).read_text())
        s = a["summary"]
        assert s["grade"]["count"] == 4 and s["count"] == 4 and s["count_band"]["count"] == 4
        assert s["scale"]["source"] == "iris" and s["scale"]["uncertainty"] == pytest.approx(0.8)
        assert s["face"]["found"] and s["regions"]["right_cheek"]["count"] == 1
        anns = a["annotations"]
        assert [x.get("graded") for x in anns] == [True, True, True, True]
        assert anns[0]["in_skin"] is True and anns[1]["region"] == "right_cheek" and anns[3]["source"] == "added"
        # the report keeps them
        with pg.expect_download() as dl:
            pg.locator("#export-report").click()
        page_html = Path(dl.value.path()).read_text()
        for text in ("Face regions", "right cheek", "graded lesions", "iris", "added by the reviewer"):
            assert text in page_html, text
        # a lesion added on the hair is flagged outside the skin and not counted, like a detected one;
        # moved onto the skin it counts, in the region it now lies in
        pg.keyboard.press("a")
        pg.mouse.click(*to_screen(pg, 30, 30))
        expect(pg.locator("#selected")).to_contain_text("outside the skin", timeout=20000)
        wait_count(pg, 4)
        assert pg.locator("circle.lesion.added.outside").count() == 1
        for _ in range(13):  # the new lesion is selected: down by at least 65 px, below the hair corner
            pg.keyboard.press("Shift+ArrowDown")
        wait_count(pg, 5)
        expect(pg.locator("#selected")).to_contain_text("region chin", timeout=20000)

        # a photo without colour: its warning is shown, and kept through an edit
        gray = tmp_path / "gray.png"
        from PIL import Image
        Image.fromarray(photo()).convert("L").save(gray)
        upload(pg, gray, 0)
        expect(pg.locator("#warnings")).to_be_visible()
        warning = pg.locator("#warnings").text_content()
        pg.keyboard.press("a")
        pg.mouse.click(*to_screen(pg, *EMPTY))
        wait_count(pg, 1)
        expect(pg.locator("#warnings")).to_have_text(warning)
        assert pg.errors == [], pg.errors
    finally:
        pg.context.close()


def test_touch_pinch_zoom(browser, server, synthetic):
    pg = open_page(browser, server, 390, 844, has_touch=True, is_mobile=True)
    try:
        upload(pg, synthetic, 3)
        before = pg.locator("#photo").bounding_box()
        cdp = pg.context.new_cdp_session(pg)
        st = pg.locator("#stage").bounding_box()
        cx, cy = st["x"] + st["width"] / 2, st["y"] + st["height"] / 2

        def touch(kind, d):
            pts = [] if kind == "touchEnd" else [{"x": cx - d, "y": cy, "id": 0}, {"x": cx + d, "y": cy, "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})

        touch("touchStart", 20)
        for d in (30, 45, 60):
            touch("touchMove", d)
        touch("touchEnd", 0)
        after = pg.locator("#photo").bounding_box()
        assert after["width"] > before["width"] * 2, (before, after)
        assert count_of(pg) == 3  # a pinch adds nothing
        assert pg.errors == []
    finally:
        pg.context.close()


def test_cross_site_post_refused(browser, server):
    """A page of another site that submits a form to the local server gets 403 (before any
    validation: without the Origin check this would be a 422 for the missing file)."""
    context = browser.new_context()
    pg = context.new_page()
    evil = "http://localhost:9/evil.html"
    body = (f'<html><body><form id="f" method="post" enctype="multipart/form-data" action="{server}/api/assess">'
            '<input name="px_per_mm" value="4"></form></body></html>')
    pg.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=body))
    pg.goto(evil)
    with pg.expect_response(lambda r: r.url.endswith("/api/assess")) as info:
        pg.locator("#f").evaluate("f => f.submit()")
    assert info.value.status == 403
    assert info.value.json()["error"] == "cross_origin"
    context.close()


def test_real_photo(page, acne640):
    """A real ACNE04 photo: the page shows what the API returns."""
    pg = page
    name = (acne640 / "val.txt").read_text().split()[0]
    path = acne640 / "images" / (name if name.endswith(".jpg") else name + ".jpg")
    server = re.match(r"https?://[^/]+", pg.url).group(0)
    api = httpx.post(server + "/api/assess", files={"file": (path.name, path.read_bytes(), "image/jpeg")},
                     timeout=60).json()
    upload(pg, path, api["summary"]["count"])
    assert pg.locator("#grade-name").text_content().lower() == api["summary"]["grade"]["name"].lower()
    assert pg.locator("#score").text_content() == f"{api['summary']['severity']['score']:.1f}"
