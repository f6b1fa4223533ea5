"""POST /api/compare and the stand-alone compare page (synthetic visits, stand-in detector)."""

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from acnekit.web import create_app

from _assess_fake import FakeDetector
from test_compare import skin, visits, with_discs, KEPT


def png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def client():
    with TestClient(create_app(FakeDetector())) as c:
        yield c


def test_api_compare_counts(client):
    before, after = visits()
    r = client.post("/api/compare", files={"before": ("b.png", png(before), "image/png"),
                                           "after": ("a.png", png(after), "image/png")})
    assert r.status_code == 200, r.text
    d = r.json()
    c = d["counts"]
    assert (c["before"], c["after"], c["persisting"], c["new"], c["resolved"]) == (11, 10, 8, 2, 3)
    assert d["photos"]["before"]["file_name"] == "b.png" and len(d["registration"]["matrix"]) == 2


def test_api_compare_unrelated_is_422(client):
    r = client.post("/api/compare", files={"before": ("b.png", png(with_discs(skin(1), KEPT)), "image/png"),
                                           "after": ("a.png", png(with_discs(skin(2), KEPT)), "image/png")})
    assert r.status_code == 422
    assert r.json()["error"] == "not_registered" and "cannot register" in r.json()["detail"]


def test_compare_page_has_no_inline_script(client):
    r = client.get("/static/compare.html")
    assert r.status_code == 200
    html = r.text
    assert '<script src="compare.js"' in html and "<script>" not in html and " on" not in html.split("<body")[1].split(">")[0]
    assert client.get("/static/compare.js").status_code == 200


@pytest.fixture
def compared(client):
    before, after = visits()
    r = client.post("/api/compare", files={"before": ("b.png", png(before), "image/png"),
                                           "after": ("a.png", png(after), "image/png")})
    assert r.status_code == 200, r.text
    return r.json()


def _counts(d):
    c = d["counts"]
    return c["persisting"], c["new"], c["resolved"]


def test_api_rematch_unchanged_is_the_same(client, compared):
    r = client.post("/api/compare/rematch", json=compared)
    assert r.status_code == 200, r.text
    d = r.json()
    assert _counts(d) == (8, 2, 3) and len(d["links"]) == 8
    assert d["corrections"]["before"]["removed"] == 0 and d["corrections"]["after"]["added"] == 0
    assert d["registration"]["matrix"] == compared["registration"]["matrix"]
    assert d["changes"]["count"] == compared["changes"]["count"] and d["gate"] == compared["gate"]
    # idempotent: the re-matched JSON re-matches to itself
    assert _counts(client.post("/api/compare/rematch", json=d).json()) == (8, 2, 3)


def test_api_rematch_remove_and_add(client, compared):
    link = compared["links"][0]
    d = json.loads(json.dumps(compared))
    # remove a persisting lesion on the BEFORE side: its AFTER partner becomes new
    next(a for a in d["assessments"]["before"]["annotations"] if a["id"] == link["before"])["removed"] = True
    r = client.post("/api/compare/rematch", json=d)
    assert r.status_code == 200, r.text
    e = r.json()
    assert _counts(e) == (7, 3, 3)
    assert e["counts"]["before"] == 10 and e["corrections"]["before"]["removed"] == 1
    row = next(x for x in e["lesions"]["after"] if x["id"] == link["after"])
    assert row["status"] == "new"
    removed = [a for a in e["assessments"]["before"]["annotations"] if a.get("removed")]
    assert len(removed) == 1 and e["summaries"]["before"]["count"] == 10
    # remove a persisting lesion on the AFTER side: its BEFORE partner becomes resolved
    link2 = e["links"][0]
    next(a for a in e["assessments"]["after"]["annotations"] if a["id"] == link2["after"])["removed"] = True
    f = client.post("/api/compare/rematch", json=e).json()
    assert _counts(f) == (6, 3, 4)
    # add, in AFTER's own pixels, a lesion where a resolved BEFORE lesion was: it persists
    resolved = next(x for x in f["lesions"]["before"] if x["status"] == "resolved")
    xy = next(a for a in f["assessments"]["before"]["annotations"] if a["id"] == resolved["id"])["coordinates"]
    m = np.vstack([np.array(f["registration"]["matrix"]), [0, 0, 1]])
    ax, ay, _ = np.linalg.solve(m, [xy[0], xy[1], 1.0])
    anns = f["assessments"]["after"]["annotations"]
    anns.append({"id": len(anns), "image_id": 0, "coordinates": [ax, ay], "radius": 8.0, "class_name": "acne",
                 "source": "added"})
    g = client.post("/api/compare/rematch", json=f).json()
    assert _counts(g) == (7, 3, 3) and g["corrections"]["after"]["added"] == 1
    assert any(x["before"] == resolved["id"] and x["after"] == len(anns) - 1 for x in g["links"])


@pytest.mark.parametrize("edit", [
    lambda d: d.pop("registration"),
    lambda d: d["registration"].update(matrix=[[1, 0], [0, 1]]),
    lambda d: d["registration"].update(matrix=[[0, 0, 0], [0, 0, 0]]),
    lambda d: d["registration"].update(matrix=[[1, 0, "x"], [0, 1, 0]]),
    lambda d: d["assessments"]["before"].update(annotations="many"),
    lambda d: d["assessments"]["after"]["annotations"][0].update(radius=-3),
    lambda d: d["assessments"].pop("after"),
    lambda d: d["common_region"].update(polygon=[[1, 2, 3]]),
    lambda d: d["lesions"].update(before=7),
    lambda d: d["common_region"].update(polygon=[[1e300, 0], [0, 1e300], [-1e300, -1e300]]),
    lambda d: d["common_region"].update(skin_area_px2=-5),
    lambda d: d["registration"].update(matrix=[[1, 0, 1e300], [0, 1, 0]]),
    lambda d: d["registration"].update(quality={"median_reprojection_error_px": 1e308}),
    lambda d: d["summaries"].update(before=[1]),
    lambda d: d.update(hysteresis={"x": "y" * 20000}),
])
def test_api_rematch_bad_input_is_422(client, compared, edit):
    d = json.loads(json.dumps(compared))
    edit(d)
    r = client.post("/api/compare/rematch", json=d)
    assert r.status_code == 422, r.text
    assert r.json()["error"] in ("invalid", "bad_assessment")


def test_api_rematch_not_json_and_headers(client):
    r = client.post("/api/compare/rematch", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "content-security-policy" in r.headers
    r = client.post("/api/compare/rematch", json=[1, 2])
    assert r.status_code == 422
    r = client.post("/api/compare/rematch", json={}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
