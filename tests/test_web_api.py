"""The web API (acnekit.web): success paths, every refusal, limits, the worker pool, the
serve command, and schemathesis against the OpenAPI spec. The detector is the fake that
finds red discs, so no model weights are needed."""

import asyncio
import hashlib
import io
import json
import socket
import tempfile
import threading

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from acnekit.assess import assess_photo, summarise
from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.errors import ModelError
from acnekit.imageio import encode_image
from acnekit.validate import parse_dataset
from acnekit.web import create_app
from acnekit.web.service import upload_label

from _assess_fake import FakeDetector, photo

DISCS = ((60, 50, 8), (200, 120, 12), (100, 180, 5))


def png(rgb=None) -> bytes:
    return encode_image(photo() if rgb is None else rgb, "PNG")


@pytest.fixture
def det():
    return FakeDetector()


@pytest.fixture
def client(det):
    with TestClient(create_app(det)) as c:
        yield c


def assess(c, data=None, name="face.png", **form):
    return c.post("/api/assess", files={"file": (name, png() if data is None else data, "image/png")},
                  data={k: str(v) for k, v in form.items()})


def check_error(r, status, code, *fragments):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == code, body
    for f in fragments:
        assert f in body["detail"], body


# ---------------------------------------------------------------------------- success
def test_health_reports_model_and_limits(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["model"]["name"] == "fake-red-discs"
    assert h["max_upload_mb"] == 25 and h["workers"] == 2 and h["admitted"] == 0


def test_assess_same_content_as_assess_photo(client, det):
    data = png()
    r = assess(client, data, px_per_mm=4)
    assert r.status_code == 200, r.text
    got = r.json()
    want = assess_photo(data, FakeDetector(), px_per_mm=4, name="face.png").to_dict()
    assert got["images"][0].pop("sha256") == hashlib.sha256(data).hexdigest()
    assert got["summary"].pop("edits") == {"detected": 3, "added": 0, "removed": 0, "outside_skin": 0, "counted": 3}
    assert got == json.loads(json.dumps(want))
    assert got["summary"]["count"] == 3 and got["summary"]["scale"]["px_per_mm"] == 4
    assert got["summary"]["sizes"]["histogram"]["quantity"] == "radius_mm"
    ds, issues = parse_dataset(got)
    assert issues == [] and len(ds.images[0].circles) == 3


def test_assess_ruler_scale(client):
    r = assess(client, ruler="10,10,50,40,5")
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["scale"]["px_per_mm"] == pytest.approx(10.0)


def test_client_file_name_is_a_bare_label(client):
    r = assess(client, name="../../etc/<i>face&.png")
    assert r.json()["images"][0]["file_name"] == "<i>face&.png"
    assert assess(client, name="..").json()["images"][0]["file_name"] == "upload"
    assert upload_label("C:\\x\\a\x07b.png") == "ab.png" and upload_label(None) == "upload"


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("data, fragment", [
    (b"hello, not a photo", "not an image"),  # text
    (b"", "empty file"),  # zero bytes
    (png()[:200], "corrupt or truncated"),  # cut-off PNG
    (encode_image(photo(), "JPEG")[:600], "corrupt or truncated"),  # cut-off JPEG
], ids=["text", "empty", "cut-png", "cut-jpeg"])
def test_bad_uploads_named(client, det, data, fragment):
    check_error(assess(client, data, name="bad.png"), 422, "bad_image", "bad.png", fragment)
    assert det.calls == 0


def test_tiny_image_refused(client):
    check_error(assess(client, png(np.zeros((16, 16, 3), np.uint8))), 422, "bad_image", "smaller than the minimum")


@pytest.mark.parametrize("form, fragment", [
    ({"px_per_mm": -1}, "positive"),  # negative scale
    ({"px_per_mm": "nan"}, "positive finite"),  # NaN
    ({"ruler": "1,2,3"}, "5 numbers"),  # short ruler
    ({"ruler": "1,1,1,1,5"}, "same"),  # both points equal
    ({"ruler": "0,0,9999,0,5"}, "outside"),  # point outside the photo
    ({"px_per_mm": 4, "ruler": "0,0,10,0,1"}, "not both"),  # two scales
])
def test_bad_scale(client, form, fragment):
    check_error(assess(client, **form), 422, "bad_scale", fragment)


def test_missing_file_and_bad_number(client):
    check_error(client.post("/api/assess"), 422, "invalid", "file")
    check_error(assess(client, px_per_mm="ten"), 422, "invalid", "px_per_mm")


def test_upload_over_limit_is_413_before_detection(det):
    with TestClient(create_app(det, max_upload_mb=0.05)) as c:
        big = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
        data = png(big)
        assert len(data) > 0.05 * 2**20
        check_error(assess(c, data), 413, "too_large", "limit")
        assert det.calls == 0


def test_streamed_body_stopped_while_reading(det):
    """A body sent without Content-Length is cut off at the limit, not read to the end."""
    app = create_app(det, max_upload_mb=1)
    head = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    chunk = b"x" * 2**18
    reads, sent = 0, []

    async def receive():  # a well-formed part that never ends
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": head if reads == 1 else chunk, "more_body": reads < 1000}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "path": "/api/assess", "raw_path": b"/api/assess", "query_string": b"", "root_path": "",
             "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"multipart/form-data; boundary=zz"), (b"host", b"x")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "too_large"
    assert reads <= 8  # 1 MB + slack = 5 chunks; far from the 1000 offered
    assert det.calls == 0


def test_pixel_limit_checked_from_header(det):
    with TestClient(create_app(det, max_pixels=50_000)) as c:
        check_error(assess(c), 413, "too_large", "320x240", "pixel limit")
    assert det.calls == 0


def test_uploads_never_touch_disk(client, monkeypatch, tmp_path):
    """Photos stay in memory up to the upload limit: no temporary file is ever created."""
    def no_disk(*a, **k):
        raise AssertionError("an upload was spooled to disk")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    noise = np.random.default_rng(1).integers(0, 255, (700, 700, 3), dtype=np.uint8)
    data = png(noise)
    assert len(data) > 2**20  # over Starlette's default in-memory spool size (1 MB)
    assert assess(client, data).status_code == 200
    assert assess(client, b"junk").status_code == 422
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- worker pool
class SlowDetector(FakeDetector):
    """Blocks in predict until released; records how many predictions ran at once."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def predict(self, rgb, score_thr=None):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            assert self.release.wait(20)
            return super().predict(rgb, score_thr)
        finally:
            with self.lock:
                self.active -= 1


def test_bounded_pool_queues_then_refuses():
    det = SlowDetector()
    app = create_app(det, workers=1, queue=1)
    files = {"file": ("face.png", png(), "image/png")}

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = asyncio.create_task(c.post("/api/assess", files=files))
            second = asyncio.create_task(c.post("/api/assess", files=files))
            for _ in range(400):  # until one runs and one waits
                await asyncio.sleep(0.01)
                if det.active == 1 and (await c.get("/api/health")).json()["admitted"] == 2:
                    break
            third = await c.post("/api/assess", files=files)
            det.release.set()
            return third, await first, await second

    third, first, second = asyncio.run(scenario())
    check_error(third, 503, "busy", "try again")
    assert third.headers["retry-after"] == "2"
    assert first.status_code == second.status_code == 200
    assert det.peak == 1  # one worker: never two photos decoded and detected at once


# ---------------------------------------------------------------------------- summary
def test_summary_recomputes_after_edits(client):
    a = assess(client, px_per_mm=4).json()
    a["annotations"].pop(0)  # delete one
    a["annotations"].append({"id": 99, "image_id": 0, "coordinates": [300.0, 30.0], "radius": 6.0,
                             "class_name": "acne"})  # add one by hand (no score)
    a["summary"]["count"] = 1234  # the client's summary is never trusted
    r = client.post("/api/summary", json=a)
    assert r.status_code == 200, r.text
    got = r.json()
    assert [x.get("score") for x in got["annotations"]] == [0.9, 0.9, None]
    assert [x["id"] for x in got["annotations"]] == [0, 1, 2]
    xy = [x["coordinates"] for x in got["annotations"]]
    rad = [x["radius"] for x in got["annotations"]]
    graded = [x.get("graded", False) for x in got["annotations"]]
    assert graded[2] is False  # added by hand: not graded
    want = summarise(Circles(xy, rad), 320, 240, graded=graded, px_per_mm=4, model=a["summary"]["model"],
                     face=a["summary"]["face"])  # the face record is carried over
    edits = got["summary"].pop("edits")
    assert got["summary"] == json.loads(json.dumps(want))
    assert edits == {"detected": 3, "added": 0, "removed": 0, "outside_skin": 0, "counted": 3}
    assert "not a medical device" in got["info"]["statement"]
    assert got["summary"]["count"] == 3
    assert parse_dataset(got)[1] == []


def test_summary_scale_change(client):
    a = assess(client).json()
    assert a["summary"]["total_area_mm2"] is None
    a["summary"]["scale"] = {"px_per_mm": 2.0, "source": "given"}
    s = client.post("/api/summary", json=a).json()["summary"]
    assert s["total_area_mm2"] == pytest.approx(s["total_area_px2"] / 4)


def test_reference_grade_follows_edits(client):
    a = assess(client).json()
    assert "calibrated_grade" not in a["summary"]
    assert [x["graded"] for x in a["annotations"]].count(True) == 2 and a["summary"]["grade"]["count"] == 2
    assert all("graded_score" in x for x in a["annotations"])
    graded = [x for x in a["annotations"] if x["graded"]]
    a["annotations"].remove(graded[0])  # a graded lesion removed: one fewer counted
    s = client.post("/api/summary", json=a).json()
    assert s["summary"]["grade"]["count"] == 1 and s["summary"]["count_band"]["count"] == 2
    assert [x.get("graded") for x in s["annotations"]].count(True) == 1
    a["annotations"].append({"id": 99, "image_id": 0, "coordinates": [10, 10], "radius": 4, "class_name": "acne"})
    s = client.post("/api/summary", json=a).json()  # added by hand, no flag: not graded
    assert s["summary"]["grade"]["count"] == 1 and s["summary"]["count"] == 3
    a["annotations"][-1]["graded"] = True  # marked by hand: graded
    s = client.post("/api/summary", json=a).json()
    assert s["summary"]["grade"]["count"] == 2 and s["annotations"][-1]["graded"] is True
    a["annotations"][-1]["graded"] = "yes"
    r = client.post("/api/summary", json=a)
    check_error(r, 422, "bad_assessment", "annotations[2].graded")
    assert client.get("/api/health").json()["graded_threshold"] == 0.5


def _edited(client, fn):
    a = assess(client).json()
    fn(a)
    return client.post("/api/summary", json=a)


@pytest.mark.parametrize("edit, code, fragment", [
    (lambda a: a["annotations"][0].update(coordinates=[999.0, 5.0]), "bad_assessment",
     "annotations[0].coordinates"),  # centre outside the photo
    (lambda a: a["annotations"][1].update(radius=-2), "bad_assessment", "annotations[1].radius"),  # negative
    (lambda a: a.pop("images"), "bad_assessment", "images"),  # no images
    (lambda a: a["images"].append({**a["images"][0], "id": 1, "file_name": "b.png"}), "bad_assessment",
     "exactly one image"),  # two photos
    (lambda a: a["summary"].update(scale={"px_per_mm": 0}), "bad_scale", "positive"),  # zero scale
    (lambda a: a["summary"].update(scale={"ruler": "x"}), "bad_assessment", "summary.scale.ruler"),  # bad ruler
    (lambda a: a.update(annotations=a["annotations"] * 7000), "bad_assessment", "more than"),  # too many
    (lambda a: a["summary"].update(warnings="grey"), "bad_assessment", "summary.warnings"),  # not a list
    (lambda a: a["summary"].update(warnings=["x" * 301]), "bad_assessment", "summary.warnings"),  # too long
    (lambda a: a["summary"].update(face={"found": True, "geometry": {
        "version": 1, "image_size": [320, 240], "skin": ["0,0 320,0 oops"], "region_anchors": {"chin": "1,1"}}}),
     "bad_assessment", "summary.face.geometry.skin[0]"),  # a face geometry point that is no number
    (lambda a: a["summary"].update(face={"found": True, "geometry": "x" * 70000}), "bad_assessment",
     "summary.face"),  # too big
])
def test_summary_refuses_bad_assessments(client, edit, code, fragment):
    check_error(_edited(client, edit), 422, code, fragment)


def test_summary_not_an_object_and_too_big(client):
    check_error(client.post("/api/summary", json=[1, 2]), 422, "invalid")
    check_error(client.post("/api/summary", content=b"{", headers={"content-type": "application/json"}),
                422, "invalid")
    huge = b'{"images": [], "pad": "' + b"x" * (9 * 2**20) + b'"}'
    check_error(client.post("/api/summary", content=huge, headers={"content-type": "application/json"}),
                413, "too_large")


def test_warnings_and_face_kept_through_edits(client):
    """The photo's warnings (a grayscale photo) and the face's regions describe the photo, not
    the edits: /api/summary keeps them, and the report shows the warnings."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(photo()).convert("L").save(buf, "PNG")
    data = buf.getvalue()
    a = assess(client, data).json()
    warnings = a["summary"]["warnings"]
    assert warnings and isinstance(warnings[0], str)
    a["annotations"].append({"id": 0, "image_id": 0, "coordinates": [250.0, 40.0], "radius": 6.0,
                             "class_name": "acne", "source": "added"})
    fresh = client.post("/api/summary", json=a).json()
    assert fresh["summary"]["warnings"] == warnings and fresh["summary"]["count"] == 1
    r = client.post("/api/report", files={"file": ("face.png", data, "image/png"),
                                          "assessment": ("a.json", json.dumps(fresh), "application/json")})
    assert r.status_code == 200 and "Warning:" in r.text
    # the face (skin areas per region) travels with the edit: regions recomputed over the counted lesions
    b = assess(client).json()
    b["summary"]["face"] = {"found": True, "region_skin_area_px2": {"forehead": 2e4, "chin": 8e3}}
    for x, region in zip(b["annotations"], ["forehead", "chin", None]):
        x.update(region=region, in_skin=region is not None)
    s = client.post("/api/summary", json=b).json()["summary"]
    assert s["count"] == 2 and s["regions"]["forehead"]["count"] == 1 and s["regions"]["chin"]["count"] == 1
    assert s["face"]["outside_skin"] == 1


# ---------------------------------------------------------------------------- report
def test_report_of_edited_assessment(client):
    data = png()
    a = assess(client, data).json()
    a["annotations"].pop()
    r = client.post("/api/report", files={"file": ("face.png", data, "image/png"),
                                          "assessment": ("a.json", json.dumps(a), "application/json")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"] == 'attachment; filename="face-report.html"'
    assert "Acne assessment: face.png" in r.text and "<td class='num'>2</td>" in r.text


def test_report_refusals(client):
    data = png()
    a = assess(client, data).json()
    other = png(photo(400, 300))
    check_error(client.post("/api/report", files={"file": ("x.png", other, "image/png"),
                                                  "assessment": ("a.json", json.dumps(a), "application/json")}),
                422, "bad_image", "400x300", "320x240")
    check_error(client.post("/api/report", files={"file": ("x.png", data, "image/png"),
                                                  "assessment": ("a.json", b"{oops", "application/json")}),
                422, "bad_assessment", "not valid JSON")
    check_error(client.post("/api/report", files={"file": ("x.png", data, "image/png")}), 422, "invalid",
                "assessment")


# ---------------------------------------------------------------------------- page, docs, factory
def check_security_headers(r):
    h = r.headers
    assert "default-src 'self'" in h["content-security-policy"], (r.url, h)
    assert "frame-ancestors 'none'" in h["content-security-policy"] and "unsafe" not in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"


def test_page_docs_and_spec(client):
    page = client.get("/")
    assert page.status_code == 200
    check_security_headers(page)
    assert 'id="overlay"' in page.text
    for asset in ("index.html", "app.js", "app.css"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200
        check_security_headers(r)
    for r in (client.get("/api/health"), client.get("/static/none.js"), assess(client, b"junk"),
              client.get("/openapi.json")):
        check_security_headers(r)
    assert client.get("/docs").status_code == 404  # its viewer would load from a CDN: blank offline
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/assess", "/api/summary", "/api/report"} <= set(paths)
    check_error(client.get("/api/nothing"), 404, "not_found")


def test_host_header_check(det):
    from acnekit.web.guard import LOOPBACK_HOSTS, host_name

    assert [host_name(h) for h in ("LocalHost:8000", "127.0.0.1", "[::1]:80", "[::1]")] == \
        ["localhost", "127.0.0.1", "[::1]", "[::1]"]
    with TestClient(create_app(det, allowed_hosts=LOOPBACK_HOSTS), base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "localhost:8000"}).status_code == 200
        check_error(c.get("/api/health", headers={"host": "evil.example:8000"}), 400, "bad_host", "evil.example")
        check_error(c.post("/api/assess", headers={"host": "evil.example"}, files={"file": ("x.png", png(), "image/png")}),
                    400, "bad_host", "localhost")


def test_create_app_missing_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        create_app(model=tmp_path / "none.safetensors")


# ---------------------------------------------------------------------------- serve command
@pytest.mark.parametrize("argv, fragment", [
    (["--workers", "0"], "--workers"),
    (["--max-upload-mb", "0"], "--max-upload-mb"),
    (["--port", "70000"], "--port"),
    (["--model", "/nonexistent/m.safetensors", "--port", "0"], "model weights not found"),
])
def test_serve_bad_options(capsys, argv, fragment):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


def test_serve_port_in_use(capsys, monkeypatch):
    monkeypatch.setattr("acnekit.commands.serve.load_detector", lambda path: FakeDetector())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_serve_binds_loopback_by_default():
    from acnekit.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


# ---------------------------------------------------------------------------- schemathesis
def test_openapi_fuzz_no_server_errors(det):
    """schemathesis generates requests from the OpenAPI spec: no response may be a 5xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(det))
    seen = {}
    for result in schema.get_all_operations():
        op = result.ok()

        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case):
            r = case.call()
            seen.setdefault(op.path, set()).add(r.status_code)
            assert r.status_code < 500, f"{case.method} {case.path}: {r.status_code} {r.text[:300]}"

        check()
    assert set(seen) == {"/api/health", "/api/assess", "/api/summary", "/api/report", "/api/compare",
                         "/api/compare/rematch"}


# ---------------------------------------------------------------------------- hardening (issue 18)
def test_cross_site_post_refused(client, det):
    files = {"file": ("face.png", png(), "image/png")}
    for headers in ({"origin": "https://evil.example"}, {"origin": "null"},
                    {"origin": "http://testserver:8001"}, {"sec-fetch-site": "cross-site"}):
        r = client.post("/api/assess", files=files, headers=headers)
        check_error(r, 403, "cross_origin", "another site")
        check_security_headers(r)
        check_error(client.post("/api/summary", json={}, headers=headers), 403, "cross_origin")
    assert det.calls == 0
    ok = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    assert client.post("/api/assess", files=files, headers=ok).status_code == 200
    assert client.get("/api/health", headers={"origin": "https://evil.example"}).status_code == 200


@pytest.mark.parametrize("ppm", ["1e308", "1e-308", "1e-200", "0.0001", "0.3", "5000", "inf"])
def test_implausible_px_per_mm_is_422(client, ppm):
    check_error(assess(client, px_per_mm=ppm), 422, "bad_scale")
    a = assess(client).json()
    a["summary"]["scale"] = {"px_per_mm": float(ppm) if ppm != "inf" else 1e308, "source": "given"}
    check_error(client.post("/api/summary", json=a), 422, "bad_scale")


def test_tiny_ruler_is_422(client):
    check_error(assess(client, ruler="10,10,50,40,1e-300"), 422, "bad_scale", "plausible")
    a = assess(client).json()
    a["summary"]["scale"] = {"ruler": {"p1": [10, 10], "p2": [50, 40], "mm": 1e-300}}
    check_error(client.post("/api/summary", json=a), 422, "bad_scale")
    a["summary"]["scale"] = {"ruler": {"p1": [10, 10], "p2": [50, 40], "mm": 5}}
    assert client.post("/api/summary", json=a).json()["summary"]["scale"]["px_per_mm"] == pytest.approx(10)


def test_malformed_assessments_are_4xx_and_keep_alive(det):
    """Every malformed input is a 4xx naming the problem, on one kept-alive connection."""
    app = create_app(det)
    plain = {"images": [{"id": 0, "file_name": "a.png", "width": 320, "height": 240}],
             "annotations": [{"id": 0, "image_id": 0, "coordinates": [10, 10], "radius": 3}]}
    big = json.loads(json.dumps(plain))
    big["images"][0]["width"] = 10**18
    named = {**plain, "summary": {"model": {"name": "m" * (6 * 2**20)}}}
    thr = {**plain, "summary": {"model": {"name": "m", "score_threshold": "high"}}}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        seen = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                          event_hooks={"response": [lambda r: seen.append(dict(r.headers))]}) as c:
            r = c.post("/api/summary", json=plain)  # a plain Acne04-v2 JSON: no summary at all
            assert r.status_code == 200, r.text
            assert r.json()["summary"]["count"] == 1 and r.json()["summary"]["model"] is None
            statuses = []
            for body, code, fragment in [({}, "bad_assessment", "images"), (big, "bad_assessment", "width"),
                                         (named, "bad_assessment", "summary.model"),
                                         (thr, "bad_assessment", "score_threshold")]:
                r = c.post("/api/summary", json=body)
                check_error(r, 422, code, fragment)
                statuses.append(r.status_code)
            data = png()
            r = c.post("/api/report", files={"file": ("face.png", data, "image/png"),
                                             "assessment": ("a.json", json.dumps(thr), "application/json")})
            check_error(r, 422, "bad_assessment", "score_threshold")
            assert c.get("/api/health").status_code == 200
            assert len(server.server_state.connections) == 1  # one kept-alive connection served them all
            assert all(h.get("connection") != "close" for h in seen), seen
    finally:
        server.should_exit = True
        t.join(10)


def test_report_refuses_other_photo_of_same_size(client):
    data = png()
    a = assess(client, data).json()
    other = photo().copy()
    other[0, 0] = (1, 2, 3)
    r = client.post("/api/report", files={"file": ("face.png", png(other), "image/png"),
                                          "assessment": ("a.json", json.dumps(a), "application/json")})
    check_error(r, 422, "bad_image", "SHA-256")


def test_edit_flags_pass_through_and_report_provenance(client):
    data = png()
    a = assess(client, data, px_per_mm=4).json()
    for x in a["annotations"]:
        x["source"] = "model"
    a["annotations"][0].update(removed=True)
    a["annotations"][1].update(in_skin=False, region=None, graded=True, graded_score=0.7)
    a["annotations"].append({"id": 9, "image_id": 0, "coordinates": [300.0, 30.0], "radius": 6.0,
                             "class_name": "acne", "source": "added"})
    a["info"]["reviewer"] = "Dr <b>X</b>"
    got = client.post("/api/summary", json=a).json()
    assert [x.get("removed") for x in got["annotations"]] == [True, None, None, None]
    assert got["annotations"][1]["in_skin"] is False and got["annotations"][1]["graded"] is True
    assert got["annotations"][1]["graded_score"] == 0.7 and got["annotations"][3]["source"] == "added"
    assert got["summary"]["count"] == 2  # removed and outside-skin lesions are never counted
    assert got["summary"]["edits"] == {"detected": 3, "added": 1, "removed": 1, "outside_skin": 1, "counted": 2}
    assert got["info"]["reviewer"] == "Dr <b>X</b>" and got["images"][0]["sha256"] == a["images"][0]["sha256"]
    r = client.post("/api/report", files={"file": ("face.png", data, "image/png"),
                                          "assessment": ("a.json", json.dumps(got), "application/json")})
    assert r.status_code == 200, r.text
    for text in ("not a medical device", "Dr &lt;b&gt;X&lt;/b&gt;", a["images"][0]["sha256"],
                 "added by the reviewer</th><td>1", "removed by the reviewer (not counted)</th><td>1"):
        assert text in r.text, text
    bad = json.loads(json.dumps(got))
    bad["annotations"][0]["source"] = "magic"
    check_error(client.post("/api/summary", json=bad), 422, "bad_assessment", "annotations[0].source")


def test_summary_inside_the_queue():
    det = SlowDetector()
    app = create_app(det, workers=1, queue=0)
    files = {"file": ("face.png", png(), "image/png")}

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = asyncio.create_task(c.post("/api/assess", files=files))
            for _ in range(400):
                await asyncio.sleep(0.01)
                if det.active == 1:
                    break
            busy = await c.post("/api/summary", json={})
            det.release.set()
            return busy, await first

    busy, first = asyncio.run(scenario())
    check_error(busy, 503, "busy")
    assert first.status_code == 200


def test_extreme_numbers_never_500(det):
    """Hypothesis puts extreme floats and integers (1e308, 5e-324, 10**18, negative zero, ...)
    into every number of an edited assessment and into px_per_mm: never a 5xx."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    number = hs.one_of(hs.floats(allow_nan=False, allow_infinity=False), hs.integers(-10**20, 10**20),
                       hs.sampled_from([1e308, -1e308, 1e-308, 5e-324, 1e-200, 1e-4, 0.0, -0.0, 10**18]))
    with TestClient(create_app(det)) as c:
        base = assess(c, px_per_mm=4).json()

        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(w=number, h=number, x=number, y=number, r=number, ppm=number, thr=number, mm=number)
        def check(w, h, x, y, r, ppm, thr, mm):
            a = json.loads(json.dumps(base))
            a["images"][0].update(width=w, height=h)
            a["annotations"][0].update(coordinates=[x, y], radius=r)
            a["summary"]["model"]["score_threshold"] = thr
            a["summary"]["scale"] = {"px_per_mm": ppm} if mm == 0 else {"ruler": {"p1": [1, 1], "p2": [x, y], "mm": mm}}
            r1 = c.post("/api/summary", json=a)
            assert r1.status_code < 500, r1.text
            r2 = assess(c, px_per_mm=repr(ppm))
            assert r2.status_code < 500, r2.text

        check()
