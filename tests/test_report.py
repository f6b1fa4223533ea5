import base64
import io
import re

import numpy as np
from PIL import Image

from acnekit.assess import Assessment, summarise
from acnekit.circles import Circles
from acnekit.report import histogram_svg, render_report

from _assess_fake import photo


def _assessment(name="face.png", px_per_mm=None, circles=None, graded=None):
    c = circles if circles is not None else Circles.from_xyr([[60, 50, 8], [200, 120, 12]], score=[0.9, 0.7])
    s = summarise(c, 320, 240, px_per_mm=px_per_mm, graded=graded,
                  model={"name": "m<1>", "working_scale": {"rule": "area", "area": 409600}, "score_threshold": 0.3})
    return Assessment(name, 320, 240, c, s, graded=None if graded is None else np.array(graded)).to_dict()


def test_report_self_contained_with_numbers():
    html = render_report(_assessment(px_per_mm=4.0), photo())
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    m = re.search(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    img = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
    assert img.size == (320, 240)
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing loaded from elsewhere
    assert "<svg" in html and html.count("<rect") == 10  # one bar per histogram bin
    assert "0-5" in html and "band-hit" in html and "31%" in html
    assert "px/mm" in html and "m&lt;1&gt;" in html  # model name escaped
    assert "&amp;" not in html  # nothing escaped twice


def test_report_escapes_file_name():
    html = render_report(_assessment(name='<script>alert("x")</script>.png'), photo())
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_no_lesions_no_scale():
    html = render_report(_assessment(circles=Circles.empty(with_score=True)), photo())
    assert "no lesions" in html and "pixels only" in html


def test_report_reference_grade_section():
    html = render_report(_assessment(graded=[True, False]), photo())
    assert "grade (reference)" in html and "How the grade was reached" in html and "62.5%" in html
    assert "1 graded lesions" in html and "<th>probability</th>" in html and "counted by the grade" in html
    assert "All-lesion count band" in html and "31%" in html  # the count band keeps its own caveat
    plain = render_report(_assessment(), photo())  # no graded flags: no reference grade, the band only
    assert "No reference grade" in plain and "grade (reference)" not in plain and "All-lesion count band" in plain


def test_report_reads_old_assessments():
    """An assessment written before the reference grade: summary.grade was the count band."""
    d = _assessment()
    d["summary"]["grade"] = d["summary"].pop("count_band")
    html = render_report(d, photo())
    assert "No reference grade" in html and "All-lesion count band" in html and "31%" in html


def test_histogram_svg_heights_proportional():
    svg = histogram_svg({"quantity": "radius_px", "edges": [0, 1, 2, 3], "counts": [1, 4, 2]})
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]
    assert np.allclose(np.array(heights) / max(heights), [0.25, 1.0, 0.5])
