import math

import pytest

from acnekit.scale import NO_SCALE_NOTE, Scale, ScaleError, check_in_image, from_ruler, parse_ruler, resolve_scale


def test_px_per_mm_given():
    s = resolve_scale(px_per_mm=12.5)
    assert s.known and s.px_per_mm == 12.5 and s.source == "manual"
    assert s.to_dict()["units"] == "mm"


def test_ruler_3_4_5():
    # points 50 px apart, 10 mm -> 5 px/mm
    s = from_ruler("10,20,40,60,10")
    assert s.px_per_mm == pytest.approx(5.0) and s.source == "ruler"
    d = s.to_dict()
    assert d["ruler"]["length_px"] == pytest.approx(50.0) and d["ruler"]["mm"] == 10.0


def test_no_scale_notes_pixels():
    d = resolve_scale().to_dict()
    assert d["px_per_mm"] is None and d["units"] == "px" and d["note"] == NO_SCALE_NOTE


@pytest.mark.parametrize("value", [0, -3, float("nan"), float("inf"), "abc"])
def test_bad_px_per_mm(value):
    with pytest.raises(ScaleError, match="--px-per-mm"):
        resolve_scale(px_per_mm=value)


@pytest.mark.parametrize("text, match", [
    ("1,2,3,4", "5 numbers"),  # too few
    ("1,2,3,4,5,6", "5 numbers"),  # too many
    ("a,2,3,4,5", "X1 must be a number"),
    ("1,2,nan,4,5", "X2 must be finite"),
    ("5,5,5,5,10", "same"),  # coincident points
    ("0,0,10,0,0", "positive"),  # zero distance in mm
    ("0,0,10,0,-2", "positive"),
    ("0,0,10,0,inf", "positive"),
])
def test_bad_ruler(text, match):
    with pytest.raises(ScaleError, match=match) as e:
        parse_ruler(text)
    assert "--ruler" in str(e.value)


def test_both_options_refused():
    with pytest.raises(ScaleError, match="not both"):
        resolve_scale(px_per_mm=3, ruler="0,0,3,4,1")


def test_ruler_point_outside_photo():
    s = from_ruler("0,0,500,0,10")
    check_in_image(s, 600, 400)
    with pytest.raises(ScaleError, match=r"second ruler point \(500, 0\) is outside the 400x300"):
        check_in_image(s, 400, 300, "p.jpg")
    check_in_image(Scale(), 1, 1)  # no ruler: nothing to check


def test_ruler_diagonal():
    s = from_ruler([0, 0, 30, 40, 2.5])
    assert s.px_per_mm == pytest.approx(math.hypot(30, 40) / 2.5)
