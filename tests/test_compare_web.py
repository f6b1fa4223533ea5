"""POST /api/compare and the stand-alone compare page (synthetic visits, stand-in detector)."""

import io

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
